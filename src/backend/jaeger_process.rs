//! A real Jaeger v2 node for one run: `tracelab run --jaeger-bin PATH`.
//!
//! Writes a config YAML that gives every listener a free loopback port
//! (memory storage, no remote sampling, no self-tracing), starts the binary
//! with its output captured in a log file, waits for its health endpoint,
//! and kills it on [`JaegerProcess::stop`] or when dropped. A start that
//! fails says why with the end of Jaeger's log. [`super::Backend`] wraps it;
//! nothing else starts processes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::process::{Child, Command};

use crate::http_client::Client;

/// How long a started Jaeger gets to report healthy.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of Jaeger's log quoted when it fails.
const LOG_TAIL_LINES: usize = 30;
/// A port picked free can be taken before Jaeger binds it: try again.
const START_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct JaegerSettings {
    /// The `jaeger` binary (scripts/install-jaeger.sh builds one).
    pub bin: PathBuf,
    /// Jaeger's memory storage bound (`max_traces`).
    pub max_traces: usize,
    pub start_timeout: Duration,
}

impl JaegerSettings {
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        JaegerSettings {
            bin: bin.into(),
            max_traces: crate::collector::DEFAULT_MAX_TRACES,
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JaegerProcessError {
    #[error(
        "the Jaeger binary {0} does not exist; build one with scripts/install-jaeger.sh (it prints the path)"
    )]
    Missing(PathBuf),
    #[error("cannot start the Jaeger binary {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot prepare Jaeger's config and log files: {0}")]
    Files(std::io::Error),
    #[error("Jaeger exited during start-up ({status}); the end of its log:\n{log}")]
    Exited { status: ExitStatus, log: String },
    #[error(
        "Jaeger did not report healthy on {health_url} within {timeout:?}; the end of its log:\n{log}"
    )]
    Unhealthy {
        health_url: String,
        timeout: Duration,
        log: String,
    },
}

/// The loopback ports a started Jaeger listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JaegerPorts {
    /// Query API and UI (Jaeger's 16686).
    pub query_http: u16,
    /// Query gRPC (16685).
    pub query_grpc: u16,
    /// OTLP/HTTP receiver (4318).
    pub otlp_http: u16,
    /// Zipkin receiver (9411).
    pub zipkin: u16,
    /// Health check (13133).
    pub health: u16,
    /// OTLP/gRPC receiver (4317).
    pub otlp_grpc: u16,
    /// Jaeger receiver: gRPC collector API (14250).
    pub jaeger_grpc: u16,
    /// Jaeger receiver: thrift over HTTP (14268).
    pub jaeger_thrift_http: u16,
    /// Jaeger receiver: agent UDP, compact thrift (6831).
    pub jaeger_compact: u16,
    /// Jaeger receiver: agent UDP, binary thrift (6832).
    pub jaeger_binary: u16,
}

impl JaegerPorts {
    /// Ports the OS says are free right now.
    fn pick() -> std::io::Result<JaegerPorts> {
        // Hold every socket until all are picked so no two ports coincide.
        let listeners = (0..8)
            .map(|_| TcpListener::bind(("127.0.0.1", 0)))
            .collect::<std::io::Result<Vec<_>>>()?;
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<std::io::Result<Vec<_>>>()?;
        let datagram_sockets = (0..2)
            .map(|_| std::net::UdpSocket::bind(("127.0.0.1", 0)))
            .collect::<std::io::Result<Vec<_>>>()?;
        let udp = datagram_sockets
            .iter()
            .map(|s| s.local_addr().map(|a| a.port()))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(JaegerPorts {
            query_http: ports[0],
            query_grpc: ports[1],
            otlp_http: ports[2],
            zipkin: ports[3],
            health: ports[4],
            otlp_grpc: ports[5],
            jaeger_grpc: ports[6],
            jaeger_thrift_http: ports[7],
            jaeger_compact: udp[0],
            jaeger_binary: udp[1],
        })
    }
}

/// A running Jaeger started by tracelab.
pub struct JaegerProcess {
    /// Locked only to ask whether Jaeger has exited while a run borrows it.
    child: std::sync::Mutex<Child>,
    ports: JaegerPorts,
    max_traces: usize,
    /// Holds config.yaml and jaeger.log; removed when dropped.
    dir: tempfile::TempDir,
}

impl JaegerProcess {
    /// Start the binary and wait until it reports healthy.
    pub async fn start(settings: &JaegerSettings) -> Result<JaegerProcess, JaegerProcessError> {
        if !settings.bin.is_file() {
            return Err(JaegerProcessError::Missing(settings.bin.clone()));
        }
        let mut attempt = 1;
        loop {
            match Self::start_once(settings).await {
                Err(JaegerProcessError::Exited { log, .. })
                    if attempt < START_ATTEMPTS && log.contains("address already in use") =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(settings: &JaegerSettings) -> Result<JaegerProcess, JaegerProcessError> {
        let ports = JaegerPorts::pick().map_err(JaegerProcessError::Files)?;
        let dir = tempfile::Builder::new()
            .prefix("tracelab-jaeger-")
            .tempdir()
            .map_err(JaegerProcessError::Files)?;
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config_yaml(&ports, settings.max_traces))
            .map_err(JaegerProcessError::Files)?;
        let log = std::fs::File::create(dir.path().join("jaeger.log"))
            .map_err(JaegerProcessError::Files)?;
        let log_for_stderr = log.try_clone().map_err(JaegerProcessError::Files)?;
        let mut command = Command::new(&settings.bin);
        command
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr)
            .kill_on_drop(true);
        let child = spawn(&mut command)
            .await
            .map_err(|source| JaegerProcessError::Spawn {
                path: settings.bin.clone(),
                source,
            })?;
        let mut process = JaegerProcess {
            child: std::sync::Mutex::new(child),
            ports,
            max_traces: settings.max_traces,
            dir,
        };
        process.wait_healthy(settings.start_timeout).await?;
        Ok(process)
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), JaegerProcessError> {
        let started = Instant::now();
        let client = Client::default();
        let authority = format!("127.0.0.1:{}", self.ports.health);
        loop {
            if let Some(status) = self.exit_status() {
                return Err(JaegerProcessError::Exited {
                    status,
                    log: self.log_tail(),
                });
            }
            let answer = client
                .send(
                    &authority,
                    &Method::GET,
                    "/status",
                    HeaderMap::new(),
                    Bytes::new(),
                    Duration::from_secs(1),
                )
                .await;
            if answer.is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                let log = self.log_tail();
                self.kill().await;
                return Err(JaegerProcessError::Unhealthy {
                    health_url: self.health_url(),
                    timeout,
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn ports(&self) -> JaegerPorts {
        self.ports
    }

    pub fn max_traces(&self) -> usize {
        self.max_traces
    }

    /// Query API and UI root, like `http://localhost:16686`.
    pub fn query_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.query_http)
    }

    pub fn otlp_traces_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/traces", self.ports.otlp_http)
    }

    /// The OTLP/gRPC endpoint, as exporters take it.
    pub fn otlp_grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.otlp_grpc)
    }

    /// Where Zipkin v2 JSON is accepted (what Envoy's zipkin tracer posts to).
    pub fn zipkin_spans_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v2/spans", self.ports.zipkin)
    }

    pub fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}/status", self.ports.health)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("jaeger.log")
    }

    /// The last lines Jaeger wrote.
    pub fn log_tail(&self) -> String {
        tail(&self.log_path(), LOG_TAIL_LINES)
    }

    /// Has Jaeger exited (crashed) since it started?
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.try_wait().ok().flatten()
    }

    /// Resolves when Jaeger exits on its own (checked a few times a second).
    pub async fn exited(&self) -> ExitStatus {
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Kill Jaeger and wait for it; its files go with `self`. Memory
    /// storage has nothing to flush, so no graceful shutdown is needed.
    pub async fn stop(mut self) {
        self.kill().await;
    }

    async fn kill(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill().await;
    }
}

impl Drop for JaegerProcess {
    /// A run dropped half-way (an interrupt during start-up, a panic) still
    /// must not leave Jaeger behind: kill it and reap it before returning.
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.start_kill();
            for _ in 0..200 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Spawn, retrying "text file busy": a binary written a moment ago can
/// still be open for writing in a process another thread forked.
async fn spawn(command: &mut Command) -> std::io::Result<Child> {
    const ETXTBSY: i32 = 26;
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempts < 20 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let tail = all[start..].join("\n");
    if tail.trim().is_empty() {
        "  (Jaeger wrote nothing)".to_string()
    } else {
        tail
    }
}

/// Jaeger v2's all-in-one pipeline on the given loopback ports. Spans go
/// straight from the receivers to memory storage (no batch processor), so
/// an accepted export is searchable at once.
fn config_yaml(ports: &JaegerPorts, max_traces: usize) -> String {
    format!(
        "\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp, zipkin, jaeger]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: {max_traces}
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query_http}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_grpc}
      http:
        endpoint: 127.0.0.1:{otlp_http}
  zipkin:
    endpoint: 127.0.0.1:{zipkin}
  jaeger:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{jaeger_grpc}
      thrift_http:
        endpoint: 127.0.0.1:{jaeger_thrift_http}
      thrift_compact:
        endpoint: 127.0.0.1:{jaeger_compact}
      thrift_binary:
        endpoint: 127.0.0.1:{jaeger_binary}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
",
        health = ports.health,
        query_http = ports.query_http,
        query_grpc = ports.query_grpc,
        otlp_http = ports.otlp_http,
        zipkin = ports.zipkin,
        otlp_grpc = ports.otlp_grpc,
        jaeger_grpc = ports.jaeger_grpc,
        jaeger_thrift_http = ports.jaeger_thrift_http,
        jaeger_compact = ports.jaeger_compact,
        jaeger_binary = ports.jaeger_binary,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_puts_every_listener_on_the_given_loopback_ports() {
        let ports = JaegerPorts {
            query_http: 1001,
            query_grpc: 1002,
            otlp_http: 1003,
            zipkin: 1004,
            health: 1005,
            otlp_grpc: 1006,
            jaeger_grpc: 1007,
            jaeger_thrift_http: 1008,
            jaeger_compact: 1009,
            jaeger_binary: 1010,
        };
        let yaml = config_yaml(&ports, 77);
        for port in 1001..=1010 {
            assert!(
                yaml.contains(&format!("endpoint: 127.0.0.1:{port}\n")),
                "{port}"
            );
        }
        assert!(yaml.contains("max_traces: 77"));
        assert!(
            !yaml.contains("sampling"),
            "no remote sampling file to miss"
        );
        assert_eq!(
            yaml.matches("endpoint:").count(),
            10,
            "no default port left"
        );
    }

    #[test]
    fn picked_ports_are_distinct() {
        let p = JaegerPorts::pick().unwrap();
        let mut all = vec![
            p.query_http,
            p.query_grpc,
            p.otlp_http,
            p.zipkin,
            p.health,
            p.otlp_grpc,
            p.jaeger_grpc,
            p.jaeger_thrift_http,
        ];
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 8);
        assert_ne!(p.jaeger_compact, p.jaeger_binary);
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let tail = tail(&path, 3);
        assert_eq!(tail, "line 48\nline 49\nline 50");
        assert_eq!(tail_of_missing(), "  (Jaeger wrote nothing)");
    }

    fn tail_of_missing() -> String {
        tail(Path::new("/nonexistent/tracelab/jaeger.log"), 3)
    }

    #[tokio::test]
    async fn a_missing_binary_is_reported_with_how_to_build_one() {
        let settings = JaegerSettings::new("/nonexistent/jaeger");
        let err = JaegerProcess::start(&settings).await.err().unwrap();
        assert!(matches!(err, JaegerProcessError::Missing(_)));
        assert!(err.to_string().contains("scripts/install-jaeger.sh"));
    }

    #[tokio::test]
    async fn a_binary_that_exits_at_once_is_reported_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("jaeger");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"cannot load config: $2\" >&2\nexit 7\n",
        )
        .unwrap();
        make_executable(&fake);
        let err = JaegerProcess::start(&JaegerSettings::new(&fake))
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(matches!(err, JaegerProcessError::Exited { .. }), "{text}");
        assert!(text.contains("cannot load config: "), "{text}");
        assert!(text.contains("config.yaml"), "{text}");
    }

    #[tokio::test]
    async fn a_binary_that_never_gets_healthy_times_out_and_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("jaeger");
        std::fs::write(&fake, "#!/bin/sh\necho starting\nexec sleep 60\n").unwrap();
        make_executable(&fake);
        let mut settings = JaegerSettings::new(&fake);
        settings.start_timeout = Duration::from_millis(200);
        let err = JaegerProcess::start(&settings).await.err().unwrap();
        let text = err.to_string();
        assert!(
            matches!(err, JaegerProcessError::Unhealthy { .. }),
            "{text}"
        );
        assert!(text.contains("starting"), "{text}");
        assert!(text.contains("/status"), "{text}");
    }

    fn make_executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let mut perms = std::fs::metadata(path).unwrap().permissions();
        perms.set_mode(0o755);
        std::fs::set_permissions(path, perms).unwrap();
    }
}
