# A small stand-in for the nixpkgs flake input, enough to evaluate
# flake.nix's outputs with no Nix store and no network
# (scripts/check-nix.sh → nix/ci/check-flake.nix).
#
# Builders (buildRustPackage, buildGoModule, runNixOSTest, ...) build
# nothing: they return their arguments, the builder's name and a fake
# outPath, so the checks can read what the flake asked each one for. That
# proves the flake's structure and wiring, not that the real builders accept
# it: that takes `nix flake check` on a machine with Nix (see README).
#
# `withJaeger`: whether this nixpkgs has a `jaeger` package (unknown for the
# real pin, so both are checked).
{
  withJaeger ? false,
}:
let
  lib = import ./stub-lib.nix;

  stubDerivation =
    builder: args:
    let
      name = args.pname or args.name;
      self =
        args
        // args.passthru or { }
        // {
          type = "derivation";
          inherit builder name;
          nativeBuildInputs = args.nativeBuildInputs or [ ];
          outPath = "/nix/store/stub-${name}";
          overrideAttrs = f: stubDerivation builder (args // f self);
        };
    in
    self;

  package =
    name:
    stubDerivation "prebuilt" {
      inherit name;
      meta.mainProgram = name;
    };

  pkgsFor =
    system:
    lib.fix (
      pkgs:
      {
        inherit lib;
        stdenv.hostPlatform = {
          inherit system;
          isLinux = lib.hasSuffix "-linux" system;
        };

        callPackage =
          fn: overrides:
          let
            f = if builtins.isFunction fn then fn else import fn;
          in
          f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);

        rustPlatform.buildRustPackage = stubDerivation "buildRustPackage";
        buildGoModule = stubDerivation "buildGoModule";
        buildGo126Module = stubDerivation "buildGo126Module";
        buildNpmPackage = stubDerivation "buildNpmPackage";
        mkShell = stubDerivation "mkShell";
        runCommand =
          name: env: script:
          stubDerivation "runCommand" (env // { inherit name script; });
        fetchFromGitHub =
          args:
          args
          // {
            outPath = "/nix/store/stub-source-${args.repo}";
          };

        python3 = package "python3" // {
          withPackages =
            select:
            package "python3-env"
            // {
              packages = select (
                lib.genAttrs [
                  "flask"
                  "waitress"
                  "requests"
                  "opentelemetry-api"
                  "opentelemetry-sdk"
                  "opentelemetry-exporter-otlp-proto-http"
                  "opentelemetry-exporter-otlp-proto-grpc"
                  "opentelemetry-instrumentation-flask"
                  "opentelemetry-instrumentation-requests"
                  "opentelemetry-propagator-b3"
                ] (name: package "python3-${name}")
              );
            };
        };

        testers.runNixOSTest =
          test:
          test
          // {
            type = "derivation";
            builder = "runNixOSTest";
            outPath = "/nix/store/stub-nixos-test-${test.name}";
            driverInteractive = package "nixos-test-driver-${test.name}";
          };

        # A generated file keeps its value, for the checks to read.
        formats = lib.genAttrs [ "yaml" "json" ] (
          format: _: {
            type = "${format}-value";
            generate = name: value: {
              inherit name value;
              outPath = "/nix/store/stub-${name}";
            };
          }
        );
      }
      // lib.genAttrs [
        "cargo"
        "rustc"
        "clippy"
        "rustfmt"
        "rust-analyzer"
        "curl"
        "nodejs_24"
        "gzip"
        "nixfmt-tree"
      ] package
      // lib.optionalAttrs withJaeger { jaeger = package "jaeger"; }
    );
in
{
  inherit lib;
  legacyPackages = lib.genAttrs [
    "x86_64-linux"
    "aarch64-linux"
    "x86_64-darwin"
    "aarch64-darwin"
  ] pkgsFor;
}
