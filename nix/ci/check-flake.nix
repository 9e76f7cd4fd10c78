# Offline checks of the flake (scripts/check-nix.sh runs them with Debian's
# nix-instantiate; no Nix store, no network):
#
#   nix-instantiate --eval --strict --json nix/ci/check-flake.nix -A passed
#
# `passed` evaluates flake.nix against nix/ci/stub-nixpkgs.nix (with and
# without a nixpkgs `jaeger`) and checks that every output, check, app and
# module exists and is wired as the README says, that the VM tests have their
# machines and run what they should, and that flake.lock pins every input.
# The other attributes hand check-nix.sh what it runs for real: a
# `tracelab serve` command line rendered by the NixOS module, Jaeger's
# configuration rendered by the other one, and the VM tests' Python.
{
  # Where `bin/tracelab` is, for `serveCommand`.
  tracelabPrefix ? "/nix/store/stub-tracelab",
  # Host for `jaegerSettings` (a loopback address other than 127.0.0.1, so
  # Jaeger's fixed ports do not collide with anything on this machine).
  jaegerListenHost ? "127.0.0.2",
}:
let
  root = toString ../..;
  stub = import ./stub-nixpkgs.nix { };
  inherit (stub) lib;

  flakeWith =
    nixpkgs:
    let
      flake = import ../../flake.nix;
      self = flake.outputs { inherit self nixpkgs; } // {
        outPath = root;
      };
    in
    self;
  flake = flakeWith stub;
  flakeWithNixpkgsJaeger = flakeWith (import ./stub-nixpkgs.nix { withJaeger = true; });
  lock = builtins.fromJSON (builtins.readFile ../../flake.lock);

  system = "x86_64-linux";
  pkgs = stub.legacyPackages.${system};
  packages = flake.packages.${system};
  checks = flake.checks.${system};

  # A NixOS module evaluated alone: option defaults overlaid by `settings`,
  # `mkIf`s resolved one level deep (enough for these modules).
  evalModule =
    file: namespace: settings:
    let
      module = import file {
        inherit lib pkgs;
        config = lib.setAttrByPath namespace cfg;
      };
      options = lib.getAttrFromPath namespace module.options;
      defaults = builtins.mapAttrs (_: o: o.default) (lib.filterAttrs (_: o: o ? default) options);
      cfg = defaults // settings;
      unknown = builtins.filter (name: !(options ? ${name})) (builtins.attrNames settings);
      resolve = value: if value._type or null == "if" then value.content else value;
      resolveAll =
        value:
        let
          resolved = resolve value;
        in
        if builtins.isAttrs resolved && resolved.type or null != "derivation" then
          builtins.mapAttrs (_: resolveAll) resolved
        else
          resolved;
    in
    assert unknown == [ ] || throw "${file}: no such options: ${toString unknown}";
    {
      inherit options cfg;
      enabled = module.config.condition;
      config = resolveAll module.config;
    };

  # A test machine's own settings for a module's namespace.
  machine =
    test: name:
    let
      node = test.nodes.${name};
    in
    if builtins.isFunction node then node { inherit pkgs; } else node;

  # The module file a flake module imports (it is a function of pkgs).
  importedBy = module: (module { inherit pkgs; }).imports;

  tracelabModule = ../modules/tracelab.nix;
  jaegerModule = ../modules/jaeger.nix;
  # A machine's settings for services.NAME: those of the flake modules it
  # imports (their mkDefault package), then its own.
  settingsOn =
    service: test: name:
    let
      node = machine test name;
      fromImports = map (
        m: builtins.mapAttrs (_: v: v.content) ((m { inherit pkgs; }).services.${service} or { })
      ) node.imports;
    in
    builtins.foldl' (a: b: a // b) { } fromImports // node.services.${service};
  tracelabOn =
    test: name: evalModule tracelabModule [ "services" "tracelab" ] (settingsOn "tracelab" test name);
  jaegerOn =
    test: name: evalModule jaegerModule [ "services" "jaeger" ] (settingsOn "jaeger" test name);

  scenarioFile = "${root}/scenarios/jaeger.rhai";
  exe = "/nix/store/stub-tracelab/bin/tracelab";
  servedBy = component: peers: {
    execStart = lib.escapeShellArgs (
      [
        exe
        "serve"
        scenarioFile
        "--only"
        component
      ]
      ++ peers
      ++ [
        "--port"
        "${component}=8000"
        "--bind"
        "0.0.0.0"
        "--otlp-endpoint"
        "http://jaeger:4318"
      ]
    );
  };

  jaegerTest = checks.nixos-jaeger;
  distributedTest = checks.nixos-distributed;
  scenarios = lib.filter (lib.hasSuffix ".rhai") (
    builtins.attrNames (builtins.readDir ../../scenarios)
  );
  contains = lib.hasInfix;

  hardening = service: {
    inherit (service.serviceConfig)
      DynamicUser
      NoNewPrivileges
      ProtectSystem
      ProtectHome
      PrivateTmp
      PrivateDevices
      RestrictNamespaces
      SystemCallArchitectures
      ;
  };
  hardened = {
    DynamicUser = true;
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    RestrictNamespaces = true;
    SystemCallArchitectures = "native";
  };

  expectations = {
    # flake.lock
    "flake.lock is version 7 with a root node" = lock.version == 7 && lock.root == "root";
    "flake.lock's root takes exactly the flake's inputs" =
      builtins.attrNames lock.nodes.root.inputs == builtins.attrNames (import ../../flake.nix).inputs;
    "flake.lock pins every input to a full rev with its narHash" = lib.all (
      name:
      let
        locked = lock.nodes.${lock.nodes.root.inputs.${name}}.locked;
      in
      builtins.match "[0-9a-f]{40}" locked.rev != null
      && builtins.match "sha256-[A-Za-z0-9+/]{43}=" locked.narHash != null
    ) (builtins.attrNames lock.nodes.root.inputs);
    "flake.lock pins nixpkgs to the nixos-25.11 commit from shared/nix.md" =
      lock.nodes.nixpkgs.locked.rev == "8fd9daa3db09ced9700431c5b7ad0e8ba199b575"
      && lock.nodes.nixpkgs.locked.narHash == "sha256-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q="
      && lock.nodes.nixpkgs.original.ref == "nixos-25.11"
      && (import ../../flake.nix).inputs.nixpkgs.url == "github:NixOS/nixpkgs/nixos-25.11";

    # Outputs on every system
    "every system has packages, apps, a dev shell, a formatter and checks" = lib.all (
      s:
      builtins.attrNames flake.packages.${s} == [
        "default"
        "jaeger"
        "tracelab"
      ]
      &&
        builtins.attrNames flake.apps.${s} == [
          "default"
          "jaeger"
        ]
      && flake.devShells.${s} ? default
      && flake.formatter.${s}.type == "derivation"
      && flake.checks.${s} ? tracelab
      && flake.checks.${s} ? clippy
      && flake.checks.${s} ? rustfmt
    ) (builtins.attrNames flake.packages);
    "the VM tests are checks on Linux only" =
      builtins.attrNames checks == [
        "clippy"
        "nixos-distributed"
        "nixos-jaeger"
        "rustfmt"
        "tracelab"
      ]
      && !(flake.checks.aarch64-darwin ? nixos-jaeger);

    # packages.default
    "packages.default is tracelab from buildRustPackage with Cargo.lock" =
      packages.default == packages.tracelab
      && packages.tracelab.builder == "buildRustPackage"
      && packages.tracelab.pname == "tracelab"
      && packages.tracelab.cargoLock.lockFile == ../../Cargo.lock;
    "tracelab's main program is tracelab" = packages.tracelab.meta.mainProgram == "tracelab";
    "tracelab's tests run against the flake's Jaeger and span-sender; browser and Python tests are switched off by name" =
      (packages.tracelab.doCheck or true)
      &&
        packages.tracelab.env == {
          TRACELAB_JAEGER_BIN = "${packages.jaeger}/bin/jaeger";
          TRACELAB_SKIP_BROWSER = "1";
          TRACELAB_SKIP_PYTHON = "1";
          TRACELAB_SPAN_SENDER = "/nix/store/stub-span-sender/bin/span-sender";
        };
    "tracelab's source leaves out the Nix files" =
      packages.tracelab.src.fileset.removed.paths == [
        ../../flake.nix
        ../../flake.lock
        ../../nix
        ../../nixos-tests
        ../../.ci
        ../../target
        ../../result
      ];

    # packages.jaeger
    "without pkgs.jaeger, Jaeger 2.17.0 is built with Go 1.26 from nix/jaeger.nix" =
      packages.jaeger.builder == "buildGo126Module"
      && packages.jaeger.version == "2.17.0"
      && packages.jaeger.src.hash == "sha256-0bP9MiJZ+mQs5LYKeIT/Mc+UEEMXy3yWMU2GXIgDOLU="
      && packages.jaeger.src.fetchSubmodules
      && packages.jaeger.vendorHash == "sha256-G7+QgAQslUJGy5qCSGlp50AaP3BF8z6iEx/FgG9eWBE="
      && packages.jaeger.subPackages == [ "cmd/jaeger" ]
      && packages.jaeger.meta.mainProgram == "jaeger";
    "packages.jaeger carries the UI by default, built with npm as nixpkgs builds it" =
      let
        ui = packages.jaeger.ui or { };
      in
      ui.builder or null == "buildNpmPackage"
      && ui.src == "/nix/store/stub-source-jaeger/jaeger-ui"
      && ui.npmDepsHash == "sha256-qDfQxm1ScVp94eOfS+/rCVX7C6MgnGtPtMczlhN44o8="
      && ui.npmDepsFetcherVersion == 2
      # the root's build script, which builds packages/plexus before the UI
      && !(ui ? npmWorkspace)
      && !(ui ? npmBuildScript)
      && ui.nodejs.name == "nodejs_24"
      # the version stamp supplied here, its git-calling script dropped
      && ui.env.REACT_APP_VSN_STATE == builtins.toJSON { version = "2.17.0"; }
      && contains "substituteInPlace packages/jaeger-ui/package.json" ui.postPatch
      && contains "--replace-fail 'REACT_APP_VSN_STATE=$(../../scripts/get-tracking-version.js) ' \"\"" ui.postPatch
      # shebangs in the workspace's own node_modules
      && contains "patchShebangs packages/*/node_modules" ui.preBuild
      && contains "cp -r packages/jaeger-ui/build $out" ui.installPhase
      # embedded gzipped where the binary's go:embed looks
      && contains "cp -r /nix/store/stub-jaeger-ui/. cmd/jaeger/internal/extension/jaegerquery/internal/ui/actual/" packages.jaeger.preBuild
      && contains "-exec gzip --no-name {} +" packages.jaeger.preBuild
      && map (p: p.name) packages.jaeger.nativeBuildInputs == [ "gzip" ];
    "withUI = false gives an API-only Jaeger" =
      let
        apiOnly = pkgs.callPackage ../jaeger.nix { withUI = false; };
      in
      apiOnly.preBuild == "" && !(apiOnly ? ui) && apiOnly.nativeBuildInputs == [ ];
    "span-sender is built with Go 1.26 from tests/clients/span-sender with a vendor hash" =
      let
        sender = pkgs.callPackage ../span-sender.nix { };
      in
      sender.builder == "buildGo126Module"
      && sender.src == ../../tests/clients/span-sender
      && builtins.match "sha256-[A-Za-z0-9+/]{43}=" sender.vendorHash != null
      && sender.meta.mainProgram == "span-sender";
    "with pkgs.jaeger, the flake uses it" =
      flakeWithNixpkgsJaeger.packages.${system}.jaeger.builder == "prebuilt";

    # apps
    "apps.default runs bin/tracelab" =
      flake.apps.${system}.default == {
        type = "app";
        program = "/nix/store/stub-tracelab/bin/tracelab";
        meta.description = "Run tracelab scenarios and check their traces";
      };
    "apps.jaeger runs bin/jaeger" =
      flake.apps.${system}.jaeger.type == "app"
      && flake.apps.${system}.jaeger.program == "/nix/store/stub-jaeger/bin/jaeger";

    # devShells.default
    "the dev shell has the toolchain, Jaeger and the Flask example's Python, named for the tests" =
      let
        shell = flake.devShells.${system}.default;
        names = map (p: p.name) shell.packages;
        python = lib.filter (p: p.name == "python3-env") shell.packages;
        requirements = lib.splitString "\n" (
          builtins.readFile ../../examples/flask-service/requirements.in
        );
        pinned = map (l: builtins.head (lib.splitString "==" l)) (
          lib.filter (l: l != "" && !(lib.hasPrefix "#" l)) requirements
        );
      in
      lib.all (n: builtins.elem n names) [
        "cargo"
        "rustc"
        "clippy"
        "rustfmt"
        "jaeger"
      ]
      &&
        # Every package examples/flask-service/requirements.in pins, in its order.
        map (p: p.name) (builtins.head python).packages == map (n: "python3-${n}") pinned
      && shell.env.TRACELAB_JAEGER_BIN == "/nix/store/stub-jaeger/bin/jaeger"
      && shell.env.TRACELAB_FLASK_PYTHON == "/nix/store/stub-python3-env/bin/python3"
      && shell.env.TRACELAB_SPAN_SENDER == "/nix/store/stub-span-sender/bin/span-sender";

    # checks
    "checks.clippy runs clippy on every target with -D warnings" =
      checks.clippy.builder == "buildRustPackage"
      && contains "/nix/store/stub-cargo/bin/cargo clippy --offline --locked --all-targets -- -D warnings" checks.clippy.buildPhase
      && builtins.elem "clippy" (map (p: p.name) checks.clippy.nativeBuildInputs)
      && !checks.clippy.doCheck;
    "checks.rustfmt checks every Rust file" =
      contains "rustfmt --check --edition 2024" checks.rustfmt.script
      && contains "/src" checks.rustfmt.script
      && contains "/tests" checks.rustfmt.script;

    # modules
    "nixosModules import the module files and default to the flake's packages" =
      importedBy flake.nixosModules.tracelab == [ tracelabModule ]
      && importedBy flake.nixosModules.jaeger == [ jaegerModule ]
      &&
        (flake.nixosModules.tracelab { inherit pkgs; }).services.tracelab.package.content
        == packages.tracelab
      && (flake.nixosModules.jaeger { inherit pkgs; }).services.jaeger.package.content == packages.jaeger;
    "services.tracelab has its options" =
      builtins.attrNames (evalModule tracelabModule [ "services" "tracelab" ] { }).options == [
        "command"
        "components"
        "enable"
        "extraArgs"
        "listenAddress"
        "openFirewall"
        "otlpEndpoint"
        "package"
        "peers"
        "ports"
        "scenario"
      ];
    "services.jaeger has its options" =
      builtins.attrNames (evalModule jaegerModule [ "services" "jaeger" ] { }).options == [
        "enable"
        "listenHost"
        "openFirewall"
        "package"
        "samplingStrategies"
        "samplingStrategiesFile"
        "settings"
      ];
    "services.tracelab up runs the whole scenario" =
      (evalModule tracelabModule [ "services" "tracelab" ] {
        enable = true;
        package = packages.tracelab;
        scenario = scenarioFile;
        command = "up";
      }).config.systemd.services.tracelab.serviceConfig.ExecStart == "${exe} up ${scenarioFile}";
    "services.jaeger renders its settings over the defaults into /etc" =
      let
        config =
          (evalModule jaegerModule [ "services" "jaeger" ] {
            enable = true;
            package = packages.jaeger;
            settings.extensions.jaeger_storage.backends.mem.memory.max_traces = 5;
          }).config;
        service = config.systemd.services.jaeger;
        settings = jaegerConfigOf config;
      in
      service.serviceConfig.ExecStart
      == "/nix/store/stub-jaeger/bin/jaeger --config /etc/jaeger/config.yaml"
      && service.restartTriggers == [ config.environment.etc."jaeger/config.yaml".source ]
      && settings.extensions.jaeger_storage.backends.mem.memory.max_traces == 5
      && settings.extensions.jaeger_storage.backends.mem.memory == { max_traces = 5; }
      && settings.extensions.jaeger_query.http.endpoint == "localhost:16686"
      && settings.service.pipelines.traces.receivers == allInOne.receivers
      && settings.service.extensions == allInOne.extensions;
    "services.jaeger's defaults are upstream all-in-one's receivers, extensions and ports" =
      let
        settings = jaegerConfigOf defaultJaeger.config;
      in
      settings.service.pipelines.traces.receivers == allInOne.receivers
      && settings.service.extensions == allInOne.extensions
      &&
        builtins.attrNames settings.receivers == [
          "jaeger"
          "otlp"
          "zipkin"
        ]
      &&
        builtins.attrNames settings.receivers.jaeger.protocols == [
          "grpc"
          "thrift_binary"
          "thrift_compact"
          "thrift_http"
        ]
      && endpointPorts settings == allInOne.ports;
    "remote sampling serves the default strategies file the module writes to the store" =
      let
        inherit (defaultJaeger) config cfg;
        sampling = (jaegerConfigOf config).extensions.remote_sampling;
      in
      sampling.file.path == "/nix/store/stub-jaeger-sampling-strategies.json"
      &&
        cfg.samplingStrategiesFile.value == {
          default_strategy = {
            type = "probabilistic";
            param = 1;
          };
        }
      && sampling.http.endpoint == "localhost:5778"
      && sampling.grpc.endpoint == "localhost:5779"
      && !(sampling ? adaptive);
    "a strategies file of one's own replaces the store's" =
      let
        sampling =
          (jaegerConfigOf
            (evalModule jaegerModule [ "services" "jaeger" ] {
              enable = true;
              package = packages.jaeger;
              samplingStrategiesFile = "/etc/jaeger/strategies.json";
            }).config
          ).extensions.remote_sampling;
      in
      sampling.file.path == "/etc/jaeger/strategies.json";
    "settings merge over every default, key by key" =
      let
        settings =
          jaegerConfigOf
            (evalModule jaegerModule [ "services" "jaeger" ] {
              enable = true;
              package = packages.jaeger;
              settings = {
                receivers.jaeger.protocols.thrift_http.endpoint = "localhost:24268";
                extensions.remote_sampling.file.reload_interval = "5s";
              };
            }).config;
      in
      settings.receivers.jaeger.protocols.thrift_http.endpoint == "localhost:24268"
      && settings.receivers.jaeger.protocols.thrift_compact.endpoint == "localhost:6831"
      && settings.receivers.zipkin.endpoint == "localhost:9411"
      &&
        settings.extensions.remote_sampling.file == {
          path = "/nix/store/stub-jaeger-sampling-strategies.json";
          reload_interval = "5s";
        };
    "openFirewall opens every port the defaults listen on, the UDP ones as UDP" =
      let
        inherit (defaultJaeger) config;
        settings = jaegerConfigOf config;
        inherit (config.networking) firewall;
      in
      firewall.allowedTCPPorts == allInOne.tcpPorts
      && firewall.allowedUDPPorts == allInOne.udpPorts
      &&
        lib.sort lib.lessThan (firewall.allowedTCPPorts ++ firewall.allowedUDPPorts)
        == endpointPorts settings
      && udpPortsOf settings == firewall.allowedUDPPorts;
    "the option docs name every port and what speaks to it" =
      let
        inherit (defaultJaeger) options;
        documented =
          text:
          lib.all (port: contains "- ${toString port}/tcp: " text) allInOne.tcpPorts
          && lib.all (port: contains "- ${toString port}/udp: " text) allInOne.udpPorts;
      in
      documented options.openFirewall.description
      && documented options.listenHost.description
      && contains "5778" options.samplingStrategies.description;

    # nixos-tests/jaeger.nix
    "the jaeger VM test has a jaeger and a lab machine" =
      jaegerTest.builder == "runNixOSTest"
      &&
        builtins.attrNames jaegerTest.nodes == [
          "jaeger"
          "lab"
        ]
      && jaegerTest ? driverInteractive;
    "its Jaeger listens on every interface behind an open firewall" =
      let
        config = (jaegerOn jaegerTest "jaeger").config;
        settings = jaegerConfigOf config;
      in
      (jaegerOn jaegerTest "jaeger").enabled
      && config.networking.firewall.allowedTCPPorts == allInOne.tcpPorts
      && config.networking.firewall.allowedUDPPorts == allInOne.udpPorts
      && lib.all (lib.hasPrefix "0.0.0.0:") (endpointsOf settings)
      && settings.receivers.otlp.protocols.http.endpoint == "0.0.0.0:4318"
      && settings.receivers.otlp.protocols.grpc.endpoint == "0.0.0.0:4317"
      && settings.extensions.jaeger_query.http.endpoint == "0.0.0.0:16686"
      && settings.extensions.healthcheckv2.http.endpoint == "0.0.0.0:13133"
      && hardening config.systemd.services.jaeger == hardened;
    "the lab machine has tracelab, span-sender and the source" =
      let
        lab = machine jaegerTest "lab";
      in
      builtins.elem packages.tracelab lab.environment.systemPackages
      && builtins.elem "span-sender" (map (p: p.name) lab.environment.systemPackages)
      && lab.environment.etc.tracelab.source == root;
    "the jaeger VM test runs every scenario against Jaeger, then reads Jaeger's API" =
      lib.all (s: contains "\"${s}\"" jaegerTest.testScript) scenarios
      && contains "--jaeger-url http://jaeger:16686 --otlp-endpoint http://jaeger:4318" jaegerTest.testScript
      && contains "assert_sandbox_in_jaeger(lab)" jaegerTest.testScript
      && contains "def assert_sandbox_in_jaeger" jaegerTest.testScript;
    "the jaeger VM test sends Zipkin to jaeger:9411 and thrift to jaeger:14268 from the lab and reads them back" =
      contains "\"zipkin-json\", \"http://jaeger:9411/api/v2/spans\"" jaegerTest.testScript
      && contains "\"jaeger-thrift-http\", \"http://jaeger:14268/api/traces\"" jaegerTest.testScript
      && contains "\"jaeger-compact\", \"jaeger:6831\"" jaegerTest.testScript
      && contains "\"jaeger-grpc\", \"jaeger:14250\"" jaegerTest.testScript
      && contains "span-sender --protocol {protocol} --endpoint {endpoint}" jaegerTest.testScript
      && contains "assert_sent_trace(lab, " jaegerTest.testScript
      && contains "def assert_sent_trace" jaegerTest.testScript
      && contains "assert_default_sampling(lab, " jaegerTest.testScript;
    "the jaeger VM test reaches every TCP port the firewall opens from the lab" =
      contains "for port in ${builtins.toJSON allInOne.tcpPorts}:" jaegerTest.testScript;

    # nixos-tests/distributed.nix
    "the distributed VM test has front, service1, service2, jaeger and client machines" =
      distributedTest.builder == "runNixOSTest"
      &&
        builtins.attrNames distributedTest.nodes == [
          "client"
          "front"
          "jaeger"
          "service1"
          "service2"
        ];
    "each service machine serves one component with its next hop as a peer, by host name" =
      let
        execStart =
          name: (tracelabOn distributedTest name).config.systemd.services.tracelab.serviceConfig.ExecStart;
      in
      {
        front = execStart "front";
        service1 = execStart "service1";
        service2 = execStart "service2";
      } == {
        front =
          (servedBy "front-proxy" [
            "--peer"
            "service1=service1:8000"
          ]).execStart;
        service1 =
          (servedBy "service1" [
            "--peer"
            "service2=service2:8000"
          ]).execStart;
        service2 = (servedBy "service2" [ ]).execStart;
      };
    "service machines are hardened and open their port" =
      lib.all
        (
          name:
          let
            evaluated = tracelabOn distributedTest name;
          in
          evaluated.enabled
          && evaluated.config.networking.firewall.allowedTCPPorts == [ 8000 ]
          && hardening evaluated.config.systemd.services.tracelab == hardened
          &&
            builtins.head evaluated.config.assertions == {
              assertion = true;
              message = "services.tracelab.otlpEndpoint must be set: `tracelab serve` exports spans there.";
            }
        )
        [
          "front"
          "service1"
          "service2"
        ];
    "the client runs the scenario with every component a peer, then reads Jaeger's API" =
      contains "--peer front-proxy=front:8000 --peer service1=service1:8000 --peer service2=service2:8000" distributedTest.testScript
      && contains "--jaeger-url http://jaeger:16686 --otlp-endpoint http://jaeger:4318" distributedTest.testScript
      && contains "assert_sandbox_in_jaeger(client)" distributedTest.testScript
      && (machine distributedTest "client").environment.etc."tracelab/jaeger.rhai".source == scenarioFile;
  };

  # The settings services.jaeger rendered to YAML (the stub keeps the value).
  jaegerConfigOf = config: config.environment.etc."jaeger/config.yaml".source.value;
  defaultJaeger = evalModule jaegerModule [ "services" "jaeger" ] {
    enable = true;
    package = packages.jaeger;
    openFirewall = true;
  };

  # Every `endpoint` in rendered settings, and its port.
  endpointsOf =
    value:
    if builtins.isAttrs value then
      lib.concatMap (
        name:
        if name == "endpoint" && builtins.isString value.${name} then
          [ value.${name} ]
        else
          endpointsOf value.${name}
      ) (builtins.attrNames value)
    else
      [ ];
  portOf = endpoint: lib.toInt (lib.last (lib.splitString ":" endpoint));
  endpointPorts = settings: lib.sort lib.lessThan (map portOf (endpointsOf settings));
  udpPortsOf =
    settings:
    lib.sort lib.lessThan (
      map portOf [
        settings.receivers.jaeger.protocols.thrift_compact.endpoint
        settings.receivers.jaeger.protocols.thrift_binary.endpoint
      ]
    );

  # Upstream's all-in-one (cmd/jaeger/internal/all-in-one.yaml), less its
  # expvar extension and Prometheus metrics.
  allInOne = rec {
    receivers = [
      "otlp"
      "jaeger"
      "zipkin"
    ];
    extensions = [
      "jaeger_storage"
      "jaeger_query"
      "remote_sampling"
      "healthcheckv2"
    ];
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
    udpPorts = [
      6831
      6832
    ];
    ports = lib.sort lib.lessThan (tcpPorts ++ udpPorts);
  };

  failed = lib.filter (name: !expectations.${name}) (builtins.attrNames expectations);
in
{
  passed =
    if failed == [ ] then
      "${toString (builtins.length (builtins.attrNames expectations))} flake checks passed"
    else
      throw "flake checks failed:\n  ${lib.concatStringsSep "\n  " failed}";

  # `tracelab serve` as services.tracelab renders it for one component with
  # a peer, on a free port and loopback, for check-nix.sh to run for real.
  serveCommand =
    (evalModule tracelabModule [ "services" "tracelab" ] {
      enable = true;
      package = {
        outPath = tracelabPrefix;
        meta.mainProgram = "tracelab";
      };
      scenario = scenarioFile;
      components = [ "service1" ];
      peers.service2 = "service2.invalid:8000";
      ports.service1 = 0;
      otlpEndpoint = "http://127.0.0.1:9";
    }).config.systemd.services.tracelab.serviceConfig.ExecStart;

  # Jaeger's configuration as services.jaeger renders it, for check-nix.sh
  # to start a real Jaeger with.
  jaegerSettings =
    jaegerConfigOf
      (evalModule jaegerModule [ "services" "jaeger" ] {
        enable = true;
        package = packages.jaeger;
        listenHost = jaegerListenHost;
      }).config;
  # The strategies file it names (a store path here), and what the module
  # writes into it.
  jaegerSamplingStrategies = {
    path = (jaegerConfigOf defaultJaeger.config).extensions.remote_sampling.file.path;
    content = defaultJaeger.cfg.samplingStrategiesFile.value;
  };
  # span-sender's vendorHash, for check-nix.sh to recompute.
  spanSenderVendorHash = (pkgs.callPackage ../span-sender.nix { }).vendorHash;
  # The ports it listens on, by protocol, for check-nix.sh to probe.
  jaegerPorts = {
    tcp = defaultJaeger.config.networking.firewall.allowedTCPPorts;
    udp = defaultJaeger.config.networking.firewall.allowedUDPPorts;
  };

  testScripts = {
    jaeger = jaegerTest.testScript;
    distributed = distributedTest.testScript;
  };
  # The names the test driver defines for each test's machines.
  machineNames = {
    jaeger = lib.concatStringsSep "," (builtins.attrNames jaegerTest.nodes);
    distributed = lib.concatStringsSep "," (builtins.attrNames distributedTest.nodes);
  };
}
