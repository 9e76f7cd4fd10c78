# NixOS VM test: Jaeger v2 on one machine (services.jaeger on every
# interface, its firewall open), tracelab on another. From the lab machine:
# every TCP port the module opens answers; span-sender sends a trace over
# Zipkin (9411), Jaeger thrift over HTTP (14268) and over UDP (6831, 6832),
# Jaeger's model over gRPC (14250) and OTLP/gRPC (4317), and each is read
# back from Jaeger's API; remote
# sampling (5778) answers with the strategies file the module shipped. Then
# every scenario in scenarios/ runs against that Jaeger and must exit 0, and
# Jaeger's own API must list the sandbox's services and hold its 4-span trace.
#
#   nix build .#checks.x86_64-linux.nixos-jaeger
{ self, lib }:
let
  scenarios = lib.sort lib.lessThan (
    lib.filter (lib.hasSuffix ".rhai") (lib.attrNames (builtins.readDir "${self}/scenarios"))
  );
  # Every TCP port services.jaeger's firewall opens (nix/ci/check-flake.nix
  # holds this list to the module's).
  tcpPorts = [
    4317
    4318
    5778
    5779
    9411
    13133
    14250
    14268
    16685
    16686
  ];
in
{
  name = "tracelab-jaeger";

  nodes = {
    jaeger = {
      imports = [ self.nixosModules.jaeger ];
      services.jaeger = {
        enable = true;
        listenHost = "0.0.0.0";
        openFirewall = true;
      };
    };

    lab =
      { pkgs, ... }:
      {
        environment.systemPackages = [
          self.packages.${pkgs.stdenv.hostPlatform.system}.tracelab
          (pkgs.callPackage ../nix/span-sender.nix { })
          pkgs.curl
          pkgs.netcat
          # For scenarios that start the Flask example app.
          (pkgs.callPackage ../nix/python-env.nix { })
        ];
        # The whole source: scenarios may name files beside them (examples/).
        environment.etc.tracelab.source = "${self}";
      };
  };

  testScript = ''
    ${builtins.readFile ./jaeger_api.py}

    start_all()
    jaeger.wait_for_unit("jaeger.service")
    lab.wait_for_unit("multi-user.target")
    lab.wait_until_succeeds("curl --fail --silent http://jaeger:13133/status", timeout=120)

    with subtest("every TCP port the firewall opens answers from the lab"):
        for port in ${builtins.toJSON tcpPorts}:
            jaeger.wait_for_open_port(port)
            lab.succeed(f"nc -z -w 5 jaeger {port}")

    with subtest("spans cross the network over Zipkin, Jaeger thrift (HTTP, UDP), Jaeger gRPC and OTLP/gRPC"):
        for protocol, endpoint in [
            ("zipkin-json", "http://jaeger:9411/api/v2/spans"),
            ("jaeger-thrift-http", "http://jaeger:14268/api/traces"),
            ("jaeger-compact", "jaeger:6831"),
            ("jaeger-binary", "jaeger:6832"),
            ("jaeger-grpc", "jaeger:14250"),
            ("otlp-grpc", "jaeger:4317"),
        ]:
            service = f"vm-{protocol}"
            trace_id = lab.succeed(
                f"span-sender --protocol {protocol} --endpoint {endpoint} --service {service}"
            ).strip()
            assert_sent_trace(lab, trace_id, service, protocol)

    with subtest("remote sampling answers with the strategies file the module shipped"):
        strategies_file = jaeger.succeed(
            "grep -o '/nix/store/[^ \"]*-jaeger-sampling-strategies.json' /etc/jaeger/config.yaml"
        ).strip()
        strategies = json.loads(jaeger.succeed(f"cat {strategies_file}"))
        assert_default_sampling(lab, "vm-sampled", strategies)

    for scenario in ${builtins.toJSON scenarios}:
        with subtest(f"{scenario} passes against the Jaeger machine"):
            print(lab.succeed(
                "cd /etc/tracelab && tracelab run"
                " --jaeger-url http://jaeger:16686 --otlp-endpoint http://jaeger:4318"
                f" scenarios/{scenario} 2>&1"
            ))

    with subtest("Jaeger's own API lists the sandbox's services and holds its 4-span trace"):
        assert_sandbox_in_jaeger(lab)
  '';
}
