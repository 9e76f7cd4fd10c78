//! The system `scenarios/external-flask.rhai` tests, started outside
//! tracelab's run as a user would start theirs: the Flask example app
//! (examples/flask-service, the OpenTelemetry Python SDK) as `shop`, and
//! the sandbox's service2 served by `tracelab serve`, both exporting to a
//! collector the test names.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::root;

/// The running system; stopped (SIGTERM, so the SDK flushes) when dropped.
pub struct Shop {
    /// `http://127.0.0.1:PORT` of the app.
    pub url: String,
    app: Child,
    service2: Child,
}

/// How the app is started.
#[derive(Clone, Copy)]
pub struct AppConfig<'a> {
    /// `OTEL_PROPAGATORS`; `None` leaves the SDK's default (W3C).
    pub propagators: Option<&'a str>,
    /// `false`: the system exports to a port nobody listens on (a
    /// collector other than the one the run reads), so it reports nothing
    /// there.
    pub reports: bool,
    /// `OTEL_SERVICE_NAME` of the app.
    pub service_name: &'a str,
}

impl Default for AppConfig<'_> {
    fn default() -> Self {
        AppConfig {
            propagators: None,
            reports: true,
            service_name: "shop",
        }
    }
}

impl Shop {
    /// Start service2, then the app calling it, both exporting over
    /// OTLP/HTTP to `otlp` (the base URL, `/v1/traces` below it); wait
    /// until the app listens.
    pub fn start(otlp: &str, config: AppConfig<'_>) -> Shop {
        let otlp = match config.reports {
            true => otlp
                .trim_end_matches('/')
                .trim_end_matches("/v1/traces")
                .to_string(),
            false => format!("http://127.0.0.1:{}", super::closed_port()),
        };
        let otlp = otlp.as_str();
        let mut service2 = Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .args(["serve", "scenarios/jaeger.rhai", "--only", "service2"])
            .args(["--port", "service2=0", "--otlp-endpoint", otlp])
            .current_dir(root())
            .env("NO_COLOR", "1")
            .env_remove("TRACELAB_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tracelab serve starts");
        let mut lines = BufReader::new(service2.stdout.take().unwrap()).lines();
        let service2_addr = loop {
            let line = lines
                .next()
                .expect("tracelab serve says where service2 listens")
                .unwrap();
            if line.contains("listening on") {
                break line.split_whitespace().last().unwrap().to_string();
            }
        };
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));

        let port = super::closed_port();
        let mut command = Command::new("sh");
        command
            .arg(root().join("examples/flask-service/run.sh"))
            .current_dir(root())
            .stdout(Stdio::null())
            // Its failed exports would fill the test's output.
            .stderr(match config.reports {
                true => Stdio::inherit(),
                false => Stdio::null(),
            });
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        command
            .env("PORT", port.to_string())
            .env("OTEL_SERVICE_NAME", config.service_name)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env("OTEL_BSP_SCHEDULE_DELAY", "200")
            .env("TRACELAB_URL_SERVICE2", format!("http://{service2_addr}"));
        if let Some(propagators) = config.propagators {
            command.env("OTEL_PROPAGATORS", propagators);
        }
        let mut app = command.spawn().expect("sh runs the Flask example");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = app.try_wait() {
                panic!("the Flask example exited before it listened: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the Flask example did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Shop {
            url: format!("http://127.0.0.1:{port}"),
            app,
            service2,
        }
    }

    /// `host:port` of the app, for `RunSettings::targets`.
    pub fn authority(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        for child in [&mut self.app, &mut self.service2] {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        for child in [&mut self.app, &mut self.service2] {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The systems the scenarios of `scenarios/` test from outside, started
/// for `scenario` (exporting to `otlp`) with the `--target` moves that
/// point its targets at them; empty for a scenario without targets. A
/// target the tests know no system for fails the test, naming it.
pub fn start_targets(
    scenario: &tracelab::scenario::model::Scenario,
    otlp: &str,
) -> (Vec<Shop>, std::collections::HashMap<String, String>) {
    start_targets_with(scenario, otlp, AppConfig::default())
}

/// [`start_targets`], the apps started so.
pub fn start_targets_with(
    scenario: &tracelab::scenario::model::Scenario,
    otlp: &str,
    config: AppConfig<'_>,
) -> (Vec<Shop>, std::collections::HashMap<String, String>) {
    let mut systems = Vec::new();
    let mut moved = std::collections::HashMap::new();
    for target in &scenario.targets {
        match target.name.as_str() {
            "shop" => {
                let shop = Shop::start(otlp, config);
                moved.insert(target.name.clone(), shop.authority());
                systems.push(shop);
            }
            other => panic!(
                "{}: tests/common/shop.rs knows no system to start for target {other:?}",
                scenario.file.display()
            ),
        }
    }
    (systems, moved)
}
