# services.jaeger: Jaeger v2 all-in-one as a hardened systemd service
# (nixpkgs has no such module). Jaeger v2 is an OpenTelemetry collector;
# `settings` is its configuration, rendered to YAML and merged key by key
# over the defaults below: memory storage, OTLP on 4317 (gRPC) and 4318
# (HTTP), Zipkin on 9411, the query API and UI on 16686, health on 13133,
# and no remote sampling (the binary's built-in config points at a
# strategies file it does not ship).
#
# The flake's nixosModules.jaeger imports this file and sets `package`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.jaeger;
  inherit (lib) mkOption types;
  format = pkgs.formats.yaml { };
  at = port: "${cfg.listenHost}:${toString port}";

  defaults = {
    service = {
      extensions = [
        "jaeger_storage"
        "jaeger_query"
        "healthcheckv2"
      ];
      pipelines.traces = {
        receivers = [
          "otlp"
          "zipkin"
        ];
        processors = [ "batch" ];
        exporters = [ "jaeger_storage_exporter" ];
      };
      telemetry = {
        metrics.level = "none";
        logs.level = "info";
      };
    };
    extensions = {
      jaeger_query = {
        storage.traces = "mem";
        http.endpoint = at 16686;
        grpc.endpoint = at 16685;
      };
      jaeger_storage.backends.mem.memory.max_traces = 100000;
      healthcheckv2 = {
        use_v2 = true;
        http.endpoint = at 13133;
      };
    };
    receivers = {
      otlp.protocols = {
        grpc.endpoint = at 4317;
        http.endpoint = at 4318;
      };
      zipkin.endpoint = at 9411;
    };
    processors.batch = { };
    exporters.jaeger_storage_exporter.trace_storage = "mem";
  };

  configFile = format.generate "jaeger.yaml" (lib.recursiveUpdate defaults cfg.settings);
in
{
  options.services.jaeger = {
    enable = lib.mkEnableOption "Jaeger v2, the distributed-tracing backend (all-in-one)";

    package = mkOption {
      type = types.package;
      description = "The Jaeger v2 package (the flake's module sets its own).";
    };

    listenHost = mkOption {
      type = types.str;
      default = "localhost";
      example = "0.0.0.0";
      description = ''
        Host every default endpoint binds (receivers, query API and UI,
        health check); `0.0.0.0` to be reachable from other machines.
      '';
    };

    settings = mkOption {
      type = format.type;
      default = { };
      example = {
        extensions.jaeger_storage.backends.mem.memory.max_traces = 5000;
      };
      description = ''
        Jaeger's configuration, merged key by key over the defaults (memory
        storage, OTLP 4317/4318, Zipkin 9411, query 16686, health 13133); a
        list replaces the default list. See
        <https://www.jaegertracing.io/docs/latest/configuration/>.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the default ports: OTLP 4317 and 4318, Zipkin 9411, health 13133, query and UI 16686.";
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [
      4317
      4318
      9411
      13133
      16686
    ];

    # In /etc, to read what runs; the service restarts when it changes.
    environment.etc."jaeger/config.yaml".source = configFile;

    systemd.services.jaeger = {
      description = "Jaeger v2 all-in-one";
      restartTriggers = [ configFile ];
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # Jaeger's built-in config reads it; the defaults here name the host
      # themselves, but a user's settings may read it too.
      environment.JAEGER_LISTEN_HOST = cfg.listenHost;
      serviceConfig = {
        ExecStart = lib.escapeShellArgs [
          (lib.getExe cfg.package)
          "--config"
          "/etc/jaeger/config.yaml"
        ];
        Restart = "on-failure";
        RestartSec = 2;

        DynamicUser = true;
        StateDirectory = "jaeger";
        WorkingDirectory = "/var/lib/jaeger";
        UMask = "0077";
        NoNewPrivileges = true;
        CapabilityBoundingSet = [ "" ];
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        PrivateUsers = true;
        ProtectHostname = true;
        ProtectClock = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectProc = "invisible";
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
