//! The sandbox spread over processes, as the NixOS test `distributed`
//! spreads it over machines: three `tracelab serve` processes (front-proxy,
//! service1, service2, each knowing the next hop only as a `--peer`) export
//! to one collector, and a fourth process, `tracelab run` with every
//! component a peer, only sends the traffic and asserts the traces.
//!
//! The collector is the embedded one, served from this test process, and a
//! real Jaeger from `TRACELAB_JAEGER_BIN` (that test fails without it unless
//! `TRACELAB_SKIP_JAEGER=1`; scripts/test.sh and the Nix build provide it).

#![cfg(unix)] // stops the servers with SIGTERM

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

use common::*;
use tracelab::collector::{CollectorConfig, RunningCollector};
use tracelab::jaeger::{JaegerClient, TraceQuery};

/// One `tracelab serve` process, killed if the test ends without stopping it.
struct Served {
    name: &'static str,
    addr: String,
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
    banner: String,
}

impl Served {
    /// Start `name` on a free port and wait until it says it is ready.
    fn start(name: &'static str, peers: &[&Served], otlp: &str) -> Served {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracelab"));
        command
            .args(["serve", "scenarios/jaeger.rhai", "--only", name])
            .args(["--port", &format!("{name}=0"), "--otlp-endpoint", otlp])
            .current_dir(root())
            .env("NO_COLOR", "1")
            .env_remove("TRACELAB_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for peer in peers {
            command.args(["--peer", &format!("{}={}", peer.name, peer.addr)]);
        }
        let mut child = command.spawn().expect("tracelab serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        // Reading blocks until the server prints; EOF means it exited.
        while !banner.contains("\nready;") {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("serve {name} exited before it was ready:\n{banner}{err}");
            }
            banner.push_str(&line);
        }
        let addr = banner
            .lines()
            .find(|l| l.contains("listening on"))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no address in:\n{banner}"))
            .to_string();
        Served {
            name,
            addr,
            child: Some(child),
            stdout,
            banner,
        }
    }

    /// SIGTERM, then the exit status and what it printed on the way out.
    fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::TERM,
        )
        .expect("SIGTERM is delivered");
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        (status, rest)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Serve the sandbox as three processes exporting to `otlp`, run its
/// traffic and checks from a fourth, then stop the three and check every
/// span was delivered.
fn run_spread_sandbox(query_url: &str, otlp: &str) {
    let service2 = Served::start("service2", &[], otlp);
    let service1 = Served::start("service1", &[&service2], otlp);
    let front = Served::start("front-proxy", &[&service1], otlp);
    assert!(
        service1
            .banner
            .contains(&format!("service2  peer     at {}", service2.addr)),
        "{}",
        service1.banner
    );

    let peers: Vec<String> = [&front, &service1, &service2]
        .iter()
        .map(|s| format!("{}={}", s.name, s.addr))
        .collect();
    let mut args = vec!["run", "--jaeger-url", query_url, "--otlp-endpoint", otlp];
    for peer in &peers {
        args.extend(["--peer", peer]);
    }
    args.push("scenarios/jaeger.rhai");
    let out = tracelab(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!("front-proxy  proxy peer  http://{}", front.addr)),
        "the report lists the peers: {text}"
    );
    assert!(text.contains("10 requests, 10×200"), "{text}");
    assert!(text.contains("10 traces, 40 spans"), "{text}");
    assert!(
        text.contains("✔ every sandbox request is the 4-span chain"),
        "{text}"
    );

    for (served, spans) in [(front, 10), (service1, 20), (service2, 10)] {
        let name = served.name;
        let (status, said) = served.stop();
        assert!(status.success(), "serve {name} exit {status}: {said}");
        assert!(
            said.contains(&format!("stopped {name}: {spans} spans, all delivered")),
            "serve {name} on SIGTERM: {said}"
        );
    }
}

/// Every process reported to the same collector: one sandbox trace there
/// has the 4 spans of 3 services.
async fn assert_a_four_span_sandbox_trace(query_url: &str) {
    let client = JaegerClient::new(query_url).unwrap();
    let services = client.services().await.unwrap();
    for name in ["front-proxy", "service1", "service2"] {
        assert!(services.iter().any(|s| s == name), "{services:?}");
    }
    let mut query = TraceQuery::for_service("front-proxy");
    query.limit = Some(1);
    let traces = client.find_traces(&query).await.unwrap();
    let trace = traces.first().expect("a front-proxy trace");
    assert_eq!(trace.spans.len(), 4, "{trace:?}");
    let mut names: Vec<&str> = trace
        .processes
        .values()
        .map(|p| p.service_name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names, ["front-proxy", "service1", "service2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_and_a_run_with_every_component_a_peer_pass_on_the_embedded_collector()
 {
    // Served from this process's runtime while the test thread waits on
    // the child processes.
    let collector = RunningCollector::start_ephemeral(&CollectorConfig::default())
        .await
        .unwrap();
    let url = collector.base_url();
    run_spread_sandbox(&url, &url);
    assert_a_four_span_sandbox_trace(&url).await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_and_a_run_with_every_component_a_peer_pass_on_a_real_jaeger() {
    let Some(jaeger) = jaeger::Jaeger::start_or_skip() else {
        return;
    };
    run_spread_sandbox(&jaeger.query_url, &jaeger.otlp_url);
    assert_a_four_span_sandbox_trace(&jaeger.query_url).await;
}

#[test]
fn serving_a_component_without_a_peer_for_its_next_hop_exits_2_saying_which() {
    let out = tracelab(&[
        "serve",
        "scenarios/jaeger.rhai",
        "--only",
        "service1",
        "--otlp-endpoint",
        "http://127.0.0.1:4318",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "service1 sends requests to service2, which is neither started here nor a peer"
        ),
        "{err}"
    );
    assert!(err.contains("--peer service2=HOST:PORT"), "{err}");
}

#[test]
fn serving_an_unknown_component_exits_2_naming_the_known_ones() {
    let out = tracelab(&[
        "serve",
        "scenarios/jaeger.rhai",
        "--only",
        "service3",
        "--otlp-endpoint",
        "http://127.0.0.1:4318",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--only service3: the scenario has no component of that name (components: front-proxy, service1, service2)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serving_on_a_port_in_use_exits_3_naming_the_component() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let out = tracelab(&[
        "serve",
        "scenarios/jaeger.rhai",
        "--only",
        "service2",
        "--port",
        &format!("service2={port}"),
        "--otlp-endpoint",
        "http://127.0.0.1:4318",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(&format!("service2 cannot listen on 127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
    drop(held);
}

/// A real Jaeger v2 on free loopback ports, stopped when dropped.
mod jaeger {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    pub struct Jaeger {
        pub query_url: String,
        pub otlp_url: String,
        child: Child,
        dir: tempfile::TempDir,
    }

    /// Long enough for a cold start on a loaded machine; the wait ends as
    /// soon as Jaeger is healthy.
    const STARTUP_LIMIT: Duration = Duration::from_secs(60);

    fn free_port() -> u16 {
        super::closed_port()
    }

    impl Jaeger {
        /// `None` only when `TRACELAB_SKIP_JAEGER=1`; a missing binary is
        /// otherwise a failure, so no run skips this quietly.
        pub fn start_or_skip() -> Option<Jaeger> {
            let Some(bin) = std::env::var_os("TRACELAB_JAEGER_BIN") else {
                if std::env::var("TRACELAB_SKIP_JAEGER").as_deref() == Ok("1") {
                    eprintln!("TRACELAB_SKIP_JAEGER=1: not testing against a real Jaeger");
                    return None;
                }
                panic!(
                    "TRACELAB_JAEGER_BIN is not set: run scripts/test.sh (it builds Jaeger), \
                     or set TRACELAB_SKIP_JAEGER=1 to skip the real-Jaeger tests"
                );
            };
            let dir = tempfile::tempdir().unwrap();
            let [query, grpc, health, otlp] = [(); 4].map(|()| free_port());
            let config = dir.path().join("jaeger.yaml");
            std::fs::write(&config, config_yaml(query, grpc, health, otlp)).unwrap();
            let log = std::fs::File::create(dir.path().join("jaeger.log")).unwrap();
            let child = Command::new(&bin)
                .arg("--config")
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.to_string_lossy()));
            let mut jaeger = Jaeger {
                query_url: format!("http://127.0.0.1:{query}"),
                otlp_url: format!("http://127.0.0.1:{otlp}"),
                child,
                dir,
            };
            jaeger.wait_healthy(health);
            Some(jaeger)
        }

        fn wait_healthy(&mut self, health: u16) {
            let started = Instant::now();
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    let log = std::fs::read_to_string(self.dir.path().join("jaeger.log"))
                        .unwrap_or_default();
                    panic!("jaeger exited ({status}) before it was healthy:\n{log}");
                }
                let healthy = std::net::TcpStream::connect(("127.0.0.1", health)).is_ok()
                    && std::net::TcpStream::connect(self.query_url.trim_start_matches("http://"))
                        .is_ok()
                    && std::net::TcpStream::connect(self.otlp_url.trim_start_matches("http://"))
                        .is_ok();
                if healthy {
                    return;
                }
                assert!(
                    started.elapsed() < STARTUP_LIMIT,
                    "jaeger did not open its ports"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    impl Drop for Jaeger {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Memory storage, OTLP/HTTP only, no remote sampling, loopback only.
    fn config_yaml(query: u16, grpc: u16, health: u16, otlp: u16) -> String {
        format!(
            "service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{grpc}
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
"
        )
    }
}
