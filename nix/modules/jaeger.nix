# services.jaeger: Jaeger v2 all-in-one as a hardened systemd service
# (nixpkgs has no such module). Jaeger v2 is an OpenTelemetry collector;
# `settings` is its configuration, rendered to YAML and merged key by key
# over the defaults below, which are upstream's own all-in-one
# (cmd/jaeger/internal/all-in-one.yaml): receivers otlp, jaeger (all four
# protocols) and zipkin, memory storage, the query API and UI, remote
# sampling from a strategies file (one written to the store here, where
# upstream names none and falls back to a fixed probability), and the
# health check. Left out of upstream's: its
# Prometheus metrics (8888), the expvar (27777) and zpages (27778)
# debugging extensions, and 2.17's jaeger_mcp (16687, a server for LLM
# tools; Jaeger 2.13, which scripts/check-nix.sh runs this on, has none).
# Every key set here is also in 2.17's all-in-one.yaml or config structs.
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
  yaml = pkgs.formats.yaml { };
  json = pkgs.formats.json { };

  # Every port the defaults listen on and what speaks to it: the endpoints
  # below, openFirewall and the option docs all read this table.
  ports = {
    otlpGrpc = {
      port = 4317;
      speaks = "OTLP/gRPC: OpenTelemetry SDKs and Collectors";
    };
    otlpHttp = {
      port = 4318;
      speaks = "OTLP/HTTP, protobuf or JSON, at /v1/traces: OpenTelemetry SDKs and Collectors, tracelab";
    };
    zipkin = {
      port = 9411;
      speaks = "Zipkin v2 JSON or protobuf at /api/v2/spans, v1 at /api/v1/spans: Zipkin instrumentation (Brave, zipkin-go, zipkin-js), Envoy's Zipkin tracer as in the Envoy sandbox";
    };
    jaegerGrpc = {
      port = 14250;
      speaks = "Jaeger's protobuf model over gRPC (api_v2.CollectorService): jaeger-agent, the OpenTelemetry Collector's Jaeger exporter";
    };
    jaegerThriftHttp = {
      port = 14268;
      speaks = "Jaeger thrift over HTTP at /api/traces: Jaeger clients (jaeger-client-*) reporting straight to a collector";
    };
    jaegerThriftCompact = {
      port = 6831;
      udp = true;
      speaks = "Jaeger thrift compact over UDP: Jaeger clients' default agent reporter";
    };
    jaegerThriftBinary = {
      port = 6832;
      udp = true;
      speaks = "Jaeger thrift binary over UDP: Jaeger clients that speak binary (jaeger-client-node)";
    };
    samplingHttp = {
      port = 5778;
      speaks = "remote sampling over HTTP, GET /sampling?service=NAME: Jaeger clients, OpenTelemetry's jaeger_remote sampler";
    };
    samplingGrpc = {
      port = 5779;
      speaks = "remote sampling over gRPC (api_v2.SamplingManager): OpenTelemetry's jaeger_remote sampler";
    };
    health = {
      port = 13133;
      speaks = "health check, GET /status: probes, load balancers";
    };
    queryHttp = {
      port = 16686;
      speaks = "query API (/api/..., /api/v3/...) and the UI: browsers, tracelab --jaeger-url";
    };
    queryGrpc = {
      port = 16685;
      speaks = "query API over gRPC (api_v2 and api_v3 QueryService)";
    };
  };
  portList = lib.sort (a: b: a.port < b.port) (lib.attrValues ports);
  portsOf = udp: map (p: p.port) (lib.filter (p: (p.udp or false) == udp) portList);
  portDocs = lib.concatMapStrings (
    p: "- ${toString p.port}/${if p.udp or false then "udp" else "tcp"}: ${p.speaks}\n"
  ) portList;
  at = name: "${cfg.listenHost}:${toString ports.${name}.port}";

  defaults = {
    service = {
      extensions = [
        "jaeger_storage"
        "jaeger_query"
        "remote_sampling"
        "healthcheckv2"
      ];
      pipelines.traces = {
        receivers = [
          "otlp"
          "jaeger"
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
        http.endpoint = at "queryHttp";
        grpc.endpoint = at "queryGrpc";
      };
      jaeger_storage.backends.mem.memory.max_traces = 100000;
      remote_sampling = {
        file = {
          path = "${cfg.samplingStrategiesFile}";
          # A file of your own may change while Jaeger runs.
          reload_interval = "30s";
        };
        http.endpoint = at "samplingHttp";
        grpc.endpoint = at "samplingGrpc";
      };
      healthcheckv2 = {
        use_v2 = true;
        http.endpoint = at "health";
      };
    };
    receivers = {
      otlp.protocols = {
        grpc.endpoint = at "otlpGrpc";
        http.endpoint = at "otlpHttp";
      };
      jaeger.protocols = {
        grpc.endpoint = at "jaegerGrpc";
        thrift_http.endpoint = at "jaegerThriftHttp";
        thrift_compact.endpoint = at "jaegerThriftCompact";
        thrift_binary.endpoint = at "jaegerThriftBinary";
      };
      zipkin.endpoint = at "zipkin";
    };
    processors.batch = { };
    exporters.jaeger_storage_exporter.trace_storage = "mem";
  };

  configFile = yaml.generate "jaeger.yaml" (lib.recursiveUpdate defaults cfg.settings);
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
        Host every default endpoint binds; `0.0.0.0` to be reachable from
        other machines. The endpoints, and what speaks to each:

        ${portDocs}'';
    };

    samplingStrategies = mkOption {
      inherit (json) type;
      default = {
        default_strategy = {
          type = "probabilistic";
          param = 1;
        };
      };
      example = {
        default_strategy = {
          type = "probabilistic";
          param = 0.1;
        };
        service_strategies = [
          {
            service = "frontend";
            type = "ratelimiting";
            param = 5;
          }
        ];
      };
      description = ''
        Remote sampling strategies, written to the store as the JSON file
        that `samplingStrategiesFile` names by default. Clients ask for them
        on ${toString ports.samplingHttp.port} (HTTP, `/sampling?service=NAME`)
        and ${toString ports.samplingGrpc.port} (gRPC). The default samples
        every trace, as upstream's all-in-one does. See
        <https://www.jaegertracing.io/docs/latest/architecture/sampling/#file-based-sampling-configuration>.
      '';
    };

    samplingStrategiesFile = mkOption {
      type = types.path;
      default = json.generate "jaeger-sampling-strategies.json" cfg.samplingStrategies;
      defaultText = lib.literalMD "a file in the store holding `samplingStrategies`";
      example = "/etc/jaeger/sampling-strategies.json";
      description = ''
        The strategies file Jaeger serves. Give your own as a string (a
        file outside the store, readable by the service) to change it
        without a rebuild: Jaeger reloads it every 30 s.
      '';
    };

    settings = mkOption {
      inherit (yaml) type;
      default = { };
      example = {
        extensions.jaeger_storage.backends.mem.memory.max_traces = 5000;
      };
      description = ''
        Jaeger's configuration, merged key by key over the defaults
        (upstream's all-in-one: memory storage, receivers otlp, jaeger and
        zipkin, remote sampling, query, health; ports in `listenHost`); a
        list replaces the default list. See
        <https://www.jaegertracing.io/docs/latest/configuration/>.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open every default port: TCP ${lib.concatMapStringsSep ", " toString (portsOf false)}
        and UDP ${lib.concatMapStringsSep ", " toString (portsOf true)}. Ports moved in
        `settings` are yours to open. What speaks to each:

        ${portDocs}'';
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall = lib.mkIf cfg.openFirewall {
      allowedTCPPorts = portsOf false;
      allowedUDPPorts = portsOf true;
    };

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
