# Jaeger v2 built from source, for a nixpkgs that has no `jaeger` package
# (the flake uses `pkgs.jaeger` when there is one).
#
# Version and hashes are those of nixpkgs' jaeger package
# (pkgs/by-name/ja/jaeger, 2026). Jaeger >= 2.16 needs Go 1.26, hence
# buildGo126Module where the pinned nixpkgs has it.
#
# The React UI is built and embedded by default, as nixpkgs does, so
# `nix run .#jaeger` serves it at :16686. `withUI = false` gives an
# API-only binary (a placeholder page at /, every API intact):
#   pkgs.callPackage ./nix/jaeger.nix { withUI = false; }
{
  lib,
  buildGoModule,
  buildGo126Module ? null,
  buildNpmPackage,
  fetchFromGitHub,
  gzip,
  nodejs_24,
  withUI ? true,
}:
let
  version = "2.17.0";

  src = fetchFromGitHub {
    owner = "jaegertracing";
    repo = "jaeger";
    tag = "v${version}";
    # The UI is the jaeger-ui submodule.
    fetchSubmodules = true;
    hash = "sha256-0bP9MiJZ+mQs5LYKeIT/Mc+UEEMXy3yWMU2GXIgDOLU=";
  };

  # What upstream's `make build-ui` builds: the jaeger-ui submodule's root
  # `npm run build`, which builds every workspace (packages/plexus, which
  # the UI imports, then packages/jaeger-ui), fit for the build sandbox.
  ui = buildNpmPackage {
    pname = "jaeger-ui";
    inherit version;
    src = "${src}/jaeger-ui";
    nodejs = nodejs_24;
    npmDepsHash = "sha256-qDfQxm1ScVp94eOfS+/rCVX7C6MgnGtPtMczlhN44o8=";
    npmDepsFetcherVersion = 2;

    # The UI's version stamp comes from a script that runs git, which the
    # sandbox lacks: supply the stamp here and drop the script from the
    # build command, so this value is the one the build sees.
    env.REACT_APP_VSN_STATE = builtins.toJSON { inherit version; };
    postPatch = ''
      substituteInPlace packages/jaeger-ui/package.json \
        --replace-fail 'REACT_APP_VSN_STATE=$(../../scripts/get-tracking-version.js) ' ""
    '';

    # The npm hook patches shebangs in the root's node_modules only; the
    # workspace's own (vite's, for one) need it too.
    preBuild = ''
      patchShebangs packages/*/node_modules
    '';

    # vite resolves localhost while building; macOS's sandbox needs leave.
    __darwinAllowLocalNetworking = true;

    installPhase = ''
      runHook preInstall
      cp -r packages/jaeger-ui/build $out
      runHook postInstall
    '';
  };

  # Where the binary embeds the UI's gzipped assets (`go:embed actual/*`).
  uiAssets = "cmd/jaeger/internal/extension/jaegerquery/internal/ui/actual";

  buildJaeger = if buildGo126Module != null then buildGo126Module else buildGoModule;
in
buildJaeger {
  pname = "jaeger";
  inherit version src;

  vendorHash = "sha256-G7+QgAQslUJGy5qCSGlp50AaP3BF8z6iEx/FgG9eWBE=";
  subPackages = [ "cmd/jaeger" ];
  ldflags = [
    "-s"
    "-w"
  ];

  nativeBuildInputs = lib.optional withUI gzip;

  # As upstream's `make build-ui`: copy the build, gzip every file.
  preBuild = lib.optionalString withUI ''
    mkdir -p ${uiAssets}
    cp -r ${ui}/. ${uiAssets}/
    chmod -R u+w ${uiAssets}
    find ${uiAssets} -type f ! -name .gitignore -exec gzip --no-name {} +
  '';

  # Upstream's Go tests need services and time; tracelab's own test suite
  # runs this binary instead (TRACELAB_JAEGER_BIN in the tracelab package).
  doCheck = false;

  passthru = lib.optionalAttrs withUI { inherit ui; };

  meta = {
    description = "Jaeger v2, a distributed-tracing backend (all-in-one binary)";
    homepage = "https://www.jaegertracing.io/";
    license = lib.licenses.asl20;
    mainProgram = "jaeger";
  };
}
