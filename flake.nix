{
  description = "tracelab: scripted, reproducible distributed-tracing labs";

  # The only input. flake.lock pins it (rev and narHash).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      packagesOf = pkgs: self.packages.${pkgs.stdenv.hostPlatform.system};
      # A NixOS VM test from nixos-tests/ (Linux with KVM only).
      vmTest = pkgs: file: pkgs.testers.runNixOSTest (import file { inherit self lib; });
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          # Jaeger v2 from nixpkgs where the pin has it, else built here.
          jaeger = pkgs.jaeger or (pkgs.callPackage ./nix/jaeger.nix { });
          spanSender = pkgs.callPackage ./nix/span-sender.nix { };
          tracelab = pkgs.callPackage ./nix/package.nix { inherit jaeger spanSender; };
        in
        {
          inherit jaeger tracelab;
          default = tracelab;
        }
      );

      apps = forAllSystems (
        pkgs:
        let
          packages = packagesOf pkgs;
        in
        {
          default = {
            type = "app";
            program = lib.getExe packages.tracelab;
            meta.description = "Run tracelab scenarios and check their traces";
          };
          jaeger = {
            type = "app";
            program = lib.getExe packages.jaeger;
            meta.description = "Jaeger v2 all-in-one (memory storage, UI and API on port 16686)";
          };
        }
      );

      devShells = forAllSystems (
        pkgs:
        let
          packages = packagesOf pkgs;
          python = pkgs.callPackage ./nix/python-env.nix { };
          spanSender = pkgs.callPackage ./nix/span-sender.nix { };
        in
        {
          default = pkgs.mkShell {
            packages = [
              pkgs.cargo
              pkgs.rustc
              pkgs.clippy
              pkgs.rustfmt
              pkgs.rust-analyzer
              pkgs.curl
              packages.jaeger
              python
            ];
            env = {
              # scripts/test.sh uses this Jaeger instead of building one with Go,
              TRACELAB_JAEGER_BIN = lib.getExe packages.jaeger;
              # and this Python (examples/flask-service/run.sh too) instead
              # of a virtualenv from PyPI.
              TRACELAB_FLASK_PYTHON = "${python}/bin/python3";
              # and this span-sender instead of building one with Go.
              TRACELAB_SPAN_SENDER = lib.getExe spanSender;
            };
          };
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree or pkgs.nixfmt-rfc-style);

      checks = forAllSystems (
        pkgs:
        let
          inherit (packagesOf pkgs) tracelab;
        in
        {
          # Building the package runs the test suite in its check phase.
          inherit tracelab;

          clippy = tracelab.overrideAttrs (old: {
            pname = "tracelab-clippy";
            nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
            # The plain cargo: buildRustPackage's cargo-auditable wrapper sets
            # RUSTC_WORKSPACE_WRAPPER, which clippy needs for itself.
            buildPhase = ''
              runHook preBuild
              ${lib.getExe pkgs.cargo} clippy --offline --locked --all-targets -- -D warnings
              runHook postBuild
            '';
            doCheck = false;
            installPhase = "touch $out";
          });

          rustfmt =
            pkgs.runCommand "tracelab-rustfmt-check"
              {
                nativeBuildInputs = [ pkgs.rustfmt ];
              }
              ''
                rustfmt --check --edition 2024 $(find ${tracelab.src}/src ${tracelab.src}/tests -name '*.rs')
                touch $out
              '';
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
          nixos-jaeger = vmTest pkgs ./nixos-tests/jaeger.nix;
          nixos-distributed = vmTest pkgs ./nixos-tests/distributed.nix;
        }
      );

      nixosModules = {
        tracelab =
          { pkgs, ... }:
          {
            imports = [ ./nix/modules/tracelab.nix ];
            services.tracelab.package = lib.mkDefault (packagesOf pkgs).tracelab;
          };
        jaeger =
          { pkgs, ... }:
          {
            imports = [ ./nix/modules/jaeger.nix ];
            services.jaeger.package = lib.mkDefault (packagesOf pkgs).jaeger;
          };
        default = self.nixosModules.tracelab;
      };
    };
}
