# NixOS VM test: the sandbox spread over machines as Envoy's docker-compose
# spreads it over containers. front, service1 and service2 each serve one
# component of scenarios/jaeger.rhai with services.tracelab (`tracelab serve
# --only NAME`, port 8000 as in the sandbox, the next hop as a peer by host
# name) and export to the jaeger machine; the client starts nothing: it
# sends the scenario's traffic, asserts the traces from Jaeger, and checks
# Jaeger's API itself.
#
#   nix build .#checks.x86_64-linux.nixos-distributed
{ self, lib }:
let
  scenario = "${self}/scenarios/jaeger.rhai";
  port = 8000;

  # One component on its own machine; `next` is the machine it calls.
  serviceNode = component: next: {
    imports = [ self.nixosModules.tracelab ];
    services.tracelab = {
      enable = true;
      inherit scenario;
      components = [ component ];
      peers = lib.optionalAttrs (next != null) { ${next.component} = "${next.host}:${toString port}"; };
      ports.${component} = port;
      listenAddress = "0.0.0.0";
      otlpEndpoint = "http://jaeger:4318";
      openFirewall = true;
    };
  };

  peers = lib.concatMapStringsSep " " (p: "--peer ${p}:${toString port}") [
    "front-proxy=front"
    "service1=service1"
    "service2=service2"
  ];
in
{
  name = "tracelab-distributed";

  nodes = {
    jaeger = {
      imports = [ self.nixosModules.jaeger ];
      services.jaeger = {
        enable = true;
        listenHost = "0.0.0.0";
        openFirewall = true;
      };
    };

    front = serviceNode "front-proxy" {
      component = "service1";
      host = "service1";
    };
    service1 = serviceNode "service1" {
      component = "service2";
      host = "service2";
    };
    service2 = serviceNode "service2" null;

    client =
      { pkgs, ... }:
      {
        environment.systemPackages = [
          self.packages.${pkgs.stdenv.hostPlatform.system}.tracelab
          pkgs.curl
        ];
        environment.etc."tracelab/jaeger.rhai".source = scenario;
      };
  };

  testScript = ''
    ${builtins.readFile ./jaeger_api.py}

    start_all()
    jaeger.wait_for_unit("jaeger.service")
    jaeger.wait_for_open_port(4318)
    jaeger.wait_for_open_port(16686)
    for machine in [front, service1, service2]:
        machine.wait_for_unit("tracelab.service")
        machine.wait_for_open_port(${toString port})
    client.wait_for_unit("multi-user.target")
    client.wait_until_succeeds("curl --fail --silent http://jaeger:13133/status", timeout=120)

    with subtest("the client, running no component, sends the traffic and the checks pass"):
        print(client.succeed(
            "tracelab run /etc/tracelab/jaeger.rhai"
            " --jaeger-url http://jaeger:16686 --otlp-endpoint http://jaeger:4318"
            " ${peers} 2>&1"
        ))

    with subtest("a request crosses the machines, as in the sandbox's step 2"):
        reply = client.succeed("curl --fail --silent http://front:${toString port}/trace/1")
        assert "Hello from behind Envoy (service 1)! hostname service1" in reply, reply

    with subtest("Jaeger's own API holds the 4-span trace over three machines"):
        assert_sandbox_in_jaeger(client)

    with subtest("stopping a server flushes its spans"):
        for machine, component in [(front, "front-proxy"), (service1, "service1"), (service2, "service2")]:
            machine.systemctl("stop tracelab.service")
            machine.succeed(
                f"journalctl -u tracelab.service | grep 'stopped {component}: .* spans, all delivered'"
            )
  '';
}
