# NixOS VM test: Jaeger v2 on one machine (services.jaeger on every
# interface), tracelab on another. Every scenario in scenarios/ runs against
# that Jaeger over the network and must exit 0; then Jaeger's own API must
# list the sandbox's services and hold a 4-span sandbox trace.
#
#   nix build .#checks.x86_64-linux.nixos-jaeger
{ self, lib }:
let
  scenarios = lib.sort lib.lessThan (
    lib.filter (lib.hasSuffix ".rhai") (lib.attrNames (builtins.readDir "${self}/scenarios"))
  );
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
          pkgs.curl
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
    for port in [4317, 4318, 13133, 16686]:
        jaeger.wait_for_open_port(port)
    lab.wait_for_unit("multi-user.target")
    lab.wait_until_succeeds("curl --fail --silent http://jaeger:13133/status", timeout=120)

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
