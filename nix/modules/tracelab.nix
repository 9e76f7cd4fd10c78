# services.tracelab: components of a tracelab scenario as a hardened
# systemd service. With `command = "serve"` (the default) the machine serves
# the `components` listed (all but the peers when empty) and exports spans to
# `otlpEndpoint`, the way one container of Envoy's sandbox runs one Envoy;
# with `command = "up"` it runs the whole scenario with tracelab's embedded
# collector, like `docker compose up`.
#
# The flake's nixosModules.tracelab imports this file and sets `package`.
{
  config,
  lib,
  ...
}:
let
  cfg = config.services.tracelab;
  inherit (lib) mkOption types;

  # `FLAG name=value` for every attribute.
  flagPerAttr =
    flag: attrs:
    lib.concatLists (
      lib.mapAttrsToList (name: value: [
        flag
        "${name}=${toString value}"
      ]) attrs
    );

  serveArgs = [
    "serve"
    "${cfg.scenario}"
  ]
  ++ lib.concatMap (name: [
    "--only"
    name
  ]) cfg.components
  ++ flagPerAttr "--peer" cfg.peers
  ++ flagPerAttr "--port" cfg.ports
  ++ [
    "--bind"
    cfg.listenAddress
  ]
  ++ lib.optionals (cfg.otlpEndpoint != null) [
    "--otlp-endpoint"
    cfg.otlpEndpoint
  ];

  upArgs = [
    "up"
    "${cfg.scenario}"
  ];

  arguments = (if cfg.command == "serve" then serveArgs else upArgs) ++ cfg.extraArgs;

  # Binding below 1024 is the only privilege the service may need.
  lowPorts = lib.any (port: port != 0 && port < 1024) (lib.attrValues cfg.ports);
in
{
  options.services.tracelab = {
    enable = lib.mkEnableOption "tracelab, serving components of a distributed-tracing lab scenario";

    package = mkOption {
      type = types.package;
      description = "The tracelab package (the flake's module sets its own).";
    };

    scenario = mkOption {
      type = types.path;
      example = lib.literalExpression "./scenarios/jaeger.rhai";
      description = "The scenario script (a Rhai file) whose components this machine runs.";
    };

    command = mkOption {
      type = types.enum [
        "serve"
        "up"
      ];
      default = "serve";
      description = ''
        `serve`: run `components` (all but the peers when empty) and export
        their spans to `otlpEndpoint`. `up`: run the whole scenario with the
        embedded collector (`tracelab up`); `components`, `peers`, `ports`,
        `listenAddress` and `otlpEndpoint` are then unused, and `ports` only
        lists what `openFirewall` opens.
      '';
    };

    components = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "service1" ];
      description = "Components to serve here (`--only`); every component that is not a peer when empty.";
    };

    peers = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        service2 = "service2:8000";
      };
      description = ''
        Components that run on other machines, as `host:port` (`--peer`).
        Every component a served one sends requests to must be served here
        or be a peer.
      '';
    };

    ports = mkOption {
      type = types.attrsOf types.port;
      default = { };
      example = {
        service1 = 8000;
      };
      description = ''
        Listen port per component (`--port`), over the scenario's. A served
        component with neither gets a free port, which peers cannot know:
        give every served component a port here. These are the ports
        `openFirewall` opens.
      '';
    };

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "0.0.0.0";
      description = "Address the components listen on (`--bind`); `0.0.0.0` to be reachable from other machines.";
    };

    otlpEndpoint = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "http://jaeger:4318";
      description = "OTLP/HTTP endpoint the components export their spans to (`--otlp-endpoint`); required by `serve`.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the TCP ports listed in `ports` in the firewall.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More arguments for the tracelab command line.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.command != "serve" || cfg.otlpEndpoint != null;
        message = "services.tracelab.otlpEndpoint must be set: `tracelab serve` exports spans there.";
      }
    ];

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall (lib.attrValues cfg.ports);

    systemd.services.tracelab = {
      description = "tracelab ${cfg.command}: ${
        if cfg.components == [ ] then "every component" else lib.concatStringsSep ", " cfg.components
      }";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      serviceConfig = {
        ExecStart = lib.escapeShellArgs ([ (lib.getExe cfg.package) ] ++ arguments);
        # SIGTERM drains requests and flushes spans before exit.
        KillSignal = "SIGTERM";
        TimeoutStopSec = 30;
        Restart = "on-failure";
        RestartSec = 2;

        DynamicUser = true;
        WorkingDirectory = "/var/empty";
        UMask = "0077";
        NoNewPrivileges = true;
        CapabilityBoundingSet = lib.optionals lowPorts [ "CAP_NET_BIND_SERVICE" ];
        AmbientCapabilities = lib.optionals lowPorts [ "CAP_NET_BIND_SERVICE" ];
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        PrivateUsers = !lowPorts;
        ProtectHostname = true;
        ProtectClock = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        # Not ProcSubset=pid: replies name the host from /proc/sys/kernel/hostname.
        ProtectProc = "invisible";
        # AF_NETLINK: glibc's getaddrinfo asks the kernel which address
        # families are configured before resolving peers' host names.
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
          "AF_NETLINK"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        RemoveIPC = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
        ];
        SystemCallErrorNumber = "EPERM";
      };
    };
  };
}
