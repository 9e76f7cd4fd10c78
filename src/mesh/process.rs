//! External programs as components (`process(...)` in a scenario): start
//! one, wait for its port, stop it (SIGTERM, then SIGKILL), and turn
//! "crashed" or "never listened" into errors that quote its last output.
//! Signals go to the program itself: a shell wrapper should `exec` it.
//!
//! # What a program gets (its environment)
//! tracelab's own environment minus every inherited `OTEL_*` variable, then:
//! - `PORT`: the port to listen on, on 127.0.0.1.
//! - `OTEL_SERVICE_NAME`: the component's name.
//! - `OTEL_EXPORTER_OTLP_PROTOCOL` (and `..._TRACES_PROTOCOL`): the run's
//!   `--otlp-protocol`, `http/protobuf` unless told (`grpc`, `http/json`).
//! - `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's OTLP base URL for that
//!   protocol (over HTTP, SDKs append `/v1/traces`);
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full traces URL (over gRPC,
//!   the same); `OTEL_EXPORTER_OTLP_INSECURE=true` (plain HTTP/2 for gRPC);
//!   `OTEL_TRACES_EXPORTER=otlp`, metrics and logs exporters `none`.
//! - `OTEL_PROPAGATORS`: the component's `propagation` in SDK names
//!   (`tracecontext`, `b3multi`, `b3`, `jaeger`, or `none`).
//! - `OTEL_TRACES_SAMPLER=parentbased_traceidratio` and
//!   `OTEL_TRACES_SAMPLER_ARG`: its `sampling`.
//! - `OTEL_BSP_SCHEDULE_DELAY=200`: export spans within 200 ms.
//! - `TRACELAB_URL_<NAME>` for every component: `http://127.0.0.1:<port>`
//!   (`<NAME>` upper-cased, other characters than letters and digits as `_`).
//! - then the scenario's own `env` entries.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::telemetry::{OtlpEndpoint, OtlpProtocol};
use crate::scenario::model::{HeaderFormat, Program, Propagation};

/// Lines of output kept to explain a failure.
const TAIL_LINES: usize = 20;
const TAIL_LINE_CHARS: usize = 400;
const READY_POLL: Duration = Duration::from_millis(50);
/// How long a program that is exiting on its own may take to do so.
const EXIT_GRACE: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process {name}: cannot start {program:?}: {reason}")]
    Spawn {
        name: String,
        program: String,
        reason: String,
    },
    #[error("process {name} exited ({status}) before listening on port {port}{tail}")]
    ExitedEarly {
        name: String,
        status: String,
        port: u16,
        tail: Tail,
    },
    #[error(
        "process {name} did not listen on port {port} within {} s (it must listen on 127.0.0.1:$PORT; raise ready_timeout if it starts slowly){tail}",
        timeout.as_secs_f64()
    )]
    NeverReady {
        name: String,
        port: u16,
        timeout: Duration,
        tail: Tail,
    },
    #[error("process {name} exited during the run ({status}){tail}")]
    Crashed {
        name: String,
        status: String,
        tail: Tail,
    },
}

/// The last lines a program wrote, shown after an error.
#[derive(Debug, Clone, Default)]
pub struct Tail(pub Vec<String>);

impl std::fmt::Display for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("; it wrote nothing");
        }
        f.write_str("; its last output:")?;
        for line in &self.0 {
            write!(f, "\n    | {line}")?;
        }
        Ok(())
    }
}

/// The environment for the program of component `name` listening on `port`.
pub fn environment(
    name: &str,
    port: u16,
    propagation: &Propagation,
    sampling: f64,
    otlp: &OtlpEndpoint,
    peers: &[(String, String)],
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let base = otlp.base_url();
    let traces = match otlp.protocol {
        OtlpProtocol::Grpc => base.clone(),
        _ => format!("{base}/v1/traces"),
    };
    let protocol = otlp.protocol.as_str().to_string();
    let mut env = vec![
        ("PORT".to_string(), port.to_string()),
        ("OTEL_SERVICE_NAME".into(), name.to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), base),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(), traces),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), protocol.clone()),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL".into(), protocol),
        ("OTEL_EXPORTER_OTLP_INSECURE".into(), "true".into()),
        ("OTEL_TRACES_EXPORTER".into(), "otlp".into()),
        ("OTEL_METRICS_EXPORTER".into(), "none".into()),
        ("OTEL_LOGS_EXPORTER".into(), "none".into()),
        ("OTEL_PROPAGATORS".into(), sdk_propagators(propagation)),
        (
            "OTEL_TRACES_SAMPLER".into(),
            "parentbased_traceidratio".into(),
        ),
        ("OTEL_TRACES_SAMPLER_ARG".into(), sampling.to_string()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
    ];
    for (peer, authority) in peers {
        env.push((url_variable(peer), format!("http://{authority}")));
    }
    env.extend(extra.iter().cloned());
    env
}

/// `TRACELAB_URL_SERVICE_2` for `service-2`.
pub fn url_variable(component: &str) -> String {
    let suffix: String = component
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("TRACELAB_URL_{suffix}")
}

/// The OpenTelemetry SDKs' names for the formats (`OTEL_PROPAGATORS`).
fn sdk_propagators(propagation: &Propagation) -> String {
    match propagation {
        Propagation::None => "none".into(),
        Propagation::Formats(formats) => formats
            .iter()
            .map(|f| match f {
                HeaderFormat::W3c => "tracecontext",
                HeaderFormat::B3 => "b3multi",
                HeaderFormat::B3Single => "b3",
                HeaderFormat::Jaeger => "jaeger",
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub struct RunningProcess {
    name: String,
    port: u16,
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    stop_timeout: Duration,
}

impl RunningProcess {
    /// Start `program` with `env` (see [`environment`]); it should listen
    /// on `port`.
    pub fn spawn(
        name: &str,
        program: &Program,
        port: u16,
        env: &[(String, String)],
    ) -> Result<RunningProcess, ProcessError> {
        let (exe, args) = program
            .command
            .split_first()
            .expect("the script checks cmd is not empty");
        let mut command = Command::new(exe);
        command
            .args(args)
            .current_dir(&program.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        // It stays in tracelab's process group, so a Ctrl-C in the terminal
        // reaches it too, even if tracelab dies before it can stop it.
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn().map_err(|e| ProcessError::Spawn {
            name: name.to_string(),
            program: exe.clone(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "not found (is it installed and on PATH? it runs in {})",
                    program.dir.display()
                ),
                _ => e.to_string(),
            },
        })?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(out) = child.stdout.take() {
            collect_lines(out, Arc::clone(&tail));
        }
        if let Some(err) = child.stderr.take() {
            collect_lines(err, Arc::clone(&tail));
        }
        Ok(RunningProcess {
            name: name.to_string(),
            port,
            child,
            tail,
            stop_timeout: program.stop_timeout,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn tail(&self) -> Tail {
        Tail(
            self.tail
                .lock()
                .expect("tail lock")
                .iter()
                .cloned()
                .collect(),
        )
    }

    /// Wait until something accepts connections on the port, the program
    /// exits, or `timeout` passes (then it is killed).
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), ProcessError> {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the output readers a moment to catch the last lines.
                tokio::time::sleep(READY_POLL).await;
                return Err(ProcessError::ExitedEarly {
                    name: self.name.clone(),
                    status: describe_status(status),
                    port: self.port,
                    tail: self.tail(),
                });
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                self.kill().await;
                return Err(ProcessError::NeverReady {
                    name: self.name.clone(),
                    port: self.port,
                    timeout,
                    tail: self.tail(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Stop the program: SIGTERM, up to `stop_timeout` to exit, then
    /// SIGKILL. An error if it had already exited on its own.
    pub async fn stop(mut self) -> Result<(), ProcessError> {
        // A program that died on the last request closed its sockets a
        // moment before it became a zombie: give it that moment.
        let exited = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => tokio::time::timeout(EXIT_GRACE, self.child.wait())
                .await
                .ok()
                .and_then(Result::ok),
        };
        if let Some(status) = exited {
            tokio::time::sleep(READY_POLL).await;
            return Err(ProcessError::Crashed {
                name: self.name.clone(),
                status: describe_status(status),
                tail: self.tail(),
            });
        }
        self.terminate();
        if tokio::time::timeout(self.stop_timeout, self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
        Ok(())
    }

    #[cfg(unix)]
    fn terminate(&self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
    }

    #[cfg(not(unix))]
    fn terminate(&mut self) {
        let _ = self.child.start_kill();
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn describe_status(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}

/// Keep the last lines of `stream` (and keep the pipe drained, so the
/// program never blocks on a full pipe).
fn collect_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line: String = line.chars().take(TAIL_LINE_CHARS).collect();
            let mut tail = tail.lock().expect("tail lock");
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variables_are_upper_case_with_underscores() {
        assert_eq!(url_variable("service2"), "TRACELAB_URL_SERVICE2");
        assert_eq!(url_variable("front-proxy"), "TRACELAB_URL_FRONT_PROXY");
    }

    #[test]
    fn the_environment_names_the_collector_base_url_and_the_peers() {
        let env = environment(
            "api",
            8080,
            &Propagation::Formats(vec![HeaderFormat::W3c, HeaderFormat::B3]),
            0.5,
            &OtlpEndpoint::http("http://127.0.0.1:4318/v1/traces"),
            &[("service2".into(), "127.0.0.1:9000".into())],
            &[("GREETING".into(), "hi".into())],
        );
        let get = |k: &str| {
            env.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("PORT"), Some("8080"));
        assert_eq!(get("OTEL_SERVICE_NAME"), Some("api"));
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some("http://127.0.0.1:4318")
        );
        assert_eq!(get("OTEL_EXPORTER_OTLP_PROTOCOL"), Some("http/protobuf"));
        assert_eq!(get("OTEL_PROPAGATORS"), Some("tracecontext,b3multi"));
        assert_eq!(get("OTEL_TRACES_SAMPLER_ARG"), Some("0.5"));
        assert_eq!(get("TRACELAB_URL_SERVICE2"), Some("http://127.0.0.1:9000"));
        assert_eq!(get("GREETING"), Some("hi"));
    }

    #[test]
    fn a_grpc_run_tells_programs_to_export_over_grpc_to_the_grpc_port() {
        let env = environment(
            "api",
            8080,
            &Propagation::Formats(vec![HeaderFormat::W3c]),
            1.0,
            &OtlpEndpoint::grpc("http://127.0.0.1:4317/"),
            &[],
            &[],
        );
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("OTEL_EXPORTER_OTLP_PROTOCOL"), Some("grpc"));
        assert_eq!(get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), Some("grpc"));
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some("http://127.0.0.1:4317")
        );
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            Some("http://127.0.0.1:4317")
        );
    }
}
