# tracelab, built with the pinned nixpkgs' Rust toolchain. The check phase
# runs the whole test suite (`cargo test`) in the build sandbox, which has
# loopback networking only; that is all the tests use.
#
# What the tests get from Nix, through the variables they read:
#   TRACELAB_JAEGER_BIN    the flake's Jaeger v2: the real-Jaeger tests run
#                          against it (they fail when it is missing, unless
#                          TRACELAB_SKIP_JAEGER=1).
#   TRACELAB_SKIP_BROWSER  =1: no headless Chromium in the build sandbox,
#                          so the trace viewer's browser test is skipped.
#   TRACELAB_SKIP_PYTHON   =1: no PyPI in the build sandbox, so tests that
#                          start the Flask example app are skipped.
#   TRACELAB_SPAN_SENDER   tests/clients/span-sender, built by the flake
#                          (nix/span-sender.nix): tests that send spans with
#                          the official client libraries use it.
# python3 (standard library only) is a check input: scenarios/external-process.rhai
# and tests/processes.rs run small Python programs as `process(...)` components.
# `nix develop` has Jaeger, Python with the example's packages and the
# toolchain, and runs every test with `scripts/test.sh`.
{
  lib,
  rustPlatform,
  jaeger,
  spanSender,
  python3,
}:
let
  cargoToml = lib.importTOML ../Cargo.toml;
  # Everything but the Nix files, so editing them rebuilds nothing.
  nixOnly = map lib.fileset.maybeMissing [
    ../flake.nix
    ../flake.lock
    ../nix
    ../nixos-tests
    ../.ci
    ../target
    ../result
  ];
in
rustPlatform.buildRustPackage {
  pname = cargoToml.package.name;
  inherit (cargoToml.package) version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.difference ../. (lib.fileset.unions nixOnly);
  };
  cargoLock.lockFile = ../Cargo.lock;

  nativeCheckInputs = [ python3 ];

  # The tests serve and call HTTP on 127.0.0.1; macOS's sandbox needs leave.
  __darwinAllowLocalNetworking = true;

  env = {
    TRACELAB_JAEGER_BIN = lib.getExe jaeger;
    TRACELAB_SKIP_BROWSER = "1";
    TRACELAB_SKIP_PYTHON = "1";
    TRACELAB_SPAN_SENDER = lib.getExe spanSender;
  };

  meta = {
    inherit (cargoToml.package) description;
    license = with lib.licenses; [
      mit
      asl20
    ];
    mainProgram = "tracelab";
  };
}
