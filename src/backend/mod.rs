//! Where spans go and traces are read from: the embedded collector (the
//! default), a Jaeger binary tracelab starts for the run
//! ([`jaeger_process`]), or an existing Jaeger. Either way the mesh gets an
//! OTLP endpoint (HTTP, or gRPC when the run asks) and the assertions get a
//! Jaeger query API client.

pub mod jaeger_process;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

use self::jaeger_process::{JaegerProcess, JaegerProcessError, JaegerSettings};
use crate::collector::{CollectorConfig, RunningCollector};
use crate::http_client::Client;
use crate::jaeger::JaegerClient;
use crate::mesh::telemetry::{OtlpEndpoint, OtlpProtocol};

/// What the user asked for.
#[derive(Debug, Clone)]
pub enum BackendChoice {
    Embedded(CollectorConfig),
    /// A Jaeger already running: its query API root and OTLP root (HTTP,
    /// or gRPC with `otlp_protocol` grpc).
    External {
        query_url: String,
        otlp_url: String,
        otlp_protocol: OtlpProtocol,
    },
    /// A Jaeger binary to start for the run and stop after it.
    JaegerBinary(JaegerSettings),
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot start the embedded collector: {0}")]
    Bind(crate::collector::CollectorError),
    #[error("{0}")]
    Unusable(String),
    #[error(transparent)]
    Jaeger(#[from] JaegerProcessError),
}

pub enum Backend {
    Embedded(RunningCollector),
    External {
        query_url: String,
        otlp: OtlpEndpoint,
    },
    /// A Jaeger tracelab started (`--jaeger-bin`).
    Started(JaegerProcess),
}

impl Backend {
    pub async fn start(choice: &BackendChoice) -> Result<Backend, BackendError> {
        match choice {
            BackendChoice::Embedded(config) => RunningCollector::start_ephemeral(config)
                .await
                .map(Backend::Embedded)
                .map_err(BackendError::Bind),
            BackendChoice::External {
                query_url,
                otlp_url,
                otlp_protocol,
            } => {
                let otlp = match otlp_protocol {
                    OtlpProtocol::Grpc => OtlpEndpoint::grpc(otlp_url),
                    http => OtlpEndpoint {
                        protocol: *http,
                        url: otlp_traces_url(otlp_url),
                    },
                };
                let backend = Backend::External {
                    query_url: query_url.trim_end_matches('/').to_string(),
                    otlp,
                };
                backend.preflight().await?;
                Ok(backend)
            }
            BackendChoice::JaegerBinary(settings) => {
                let backend = Backend::Started(JaegerProcess::start(settings).await?);
                match backend.preflight().await {
                    Ok(()) => Ok(backend),
                    Err(e) => {
                        let message = match &backend {
                            Backend::Started(p) => explain_started(p, e.to_string(), true),
                            _ => e.to_string(),
                        };
                        backend.stop().await;
                        Err(BackendError::Unusable(message))
                    }
                }
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Embedded(_) => "embedded",
            Backend::External { .. } | Backend::Started(_) => "jaeger",
        }
    }

    pub fn query_url(&self) -> String {
        match self {
            Backend::Embedded(c) => c.base_url(),
            Backend::External { query_url, .. } => query_url.clone(),
            Backend::Started(p) => p.query_url(),
        }
    }

    /// Where the mesh exports with `protocol` (a running Jaeger has the one
    /// endpoint it was given).
    pub fn export_endpoint(&self, protocol: OtlpProtocol) -> OtlpEndpoint {
        let (traces_url, grpc_url) = match self {
            Backend::External { otlp, .. } => return otlp.clone(),
            Backend::Embedded(c) => (c.otlp_traces_url(), c.otlp_grpc_url()),
            Backend::Started(p) => (p.otlp_traces_url(), p.otlp_grpc_url()),
        };
        match protocol {
            OtlpProtocol::Grpc => OtlpEndpoint::grpc(grpc_url),
            http => OtlpEndpoint {
                protocol: http,
                url: traces_url,
            },
        }
    }

    /// Where Zipkin v2 JSON is taken, when tracelab knows it (a running
    /// Jaeger was given only its OTLP endpoint).
    pub fn zipkin_spans_url(&self) -> Option<String> {
        match self {
            Backend::Embedded(c) => Some(c.zipkin_spans_url()),
            Backend::Started(p) => Some(p.zipkin_spans_url()),
            Backend::External { .. } => None,
        }
    }

    /// The OTLP/HTTP traces URL, or the one endpoint a running Jaeger was given.
    pub fn otlp_traces_url(&self) -> String {
        self.export_endpoint(OtlpProtocol::HttpProtobuf).url
    }

    pub fn client(&self) -> Result<JaegerClient, BackendError> {
        JaegerClient::new(&self.query_url()).map_err(|e| BackendError::Unusable(e.to_string()))
    }

    /// Check both ends answer before anything runs, so an unreachable
    /// collector is one clear error, not a run full of missing traces.
    pub async fn preflight(&self) -> Result<(), BackendError> {
        let client = self.client()?;
        client.services().await.map_err(|e| {
            BackendError::Unusable(format!(
                "{e}\n  is Jaeger running, and is {} its query API (port 16686)?",
                self.query_url()
            ))
        })?;
        let endpoint = self.export_endpoint(OtlpProtocol::HttpProtobuf);
        if endpoint.protocol == OtlpProtocol::Grpc {
            return preflight_grpc(&endpoint.url).await;
        }
        let otlp = endpoint.url;
        let authority = otlp
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| BackendError::Unusable(format!("{otlp} is not an http:// URL")))?;
        let path = &otlp["http://".len() + authority.len()..];
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-protobuf"),
        );
        // An empty ExportTraceServiceRequest: every OTLP receiver accepts it.
        let answer = Client::default()
            .send(
                authority,
                &Method::POST,
                path,
                headers,
                Bytes::new(),
                Duration::from_secs(5),
            )
            .await;
        match answer {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) => Err(BackendError::Unusable(format!(
                "the OTLP endpoint {otlp} answered {} to an empty export; is it an OTLP/HTTP receiver (port 4318)?",
                r.status
            ))),
            Err(e) => Err(BackendError::Unusable(format!(
                "the OTLP endpoint {otlp} did not answer: {}",
                e.body()
            ))),
        }
    }

    pub async fn stop(self) {
        match self {
            Backend::Embedded(collector) => collector.stop().await,
            Backend::Started(process) => process.stop().await,
            Backend::External { .. } => {}
        }
    }

    /// Add what the backend knows to an infrastructure failure: a started
    /// Jaeger that has exited says so, with the end of its log.
    pub fn explain(&self, message: String) -> String {
        match self {
            Backend::Started(process) => explain_started(process, message, false),
            _ => message,
        }
    }

    /// Resolves if the backend dies on its own (a started Jaeger exits);
    /// never for the others.
    pub async fn died(&self) {
        match self {
            Backend::Started(process) => {
                process.exited().await;
            }
            _ => std::future::pending().await,
        }
    }

    pub fn evicted_traces(&self) -> u64 {
        match self {
            Backend::Embedded(c) => c.store().stats().evicted_traces,
            Backend::External { .. } | Backend::Started(_) => 0,
        }
    }

    /// The deepest trace search the backend answers: Jaeger's memory
    /// storage refuses a `limit` above its `max_traces`.
    pub fn max_search_depth(&self) -> usize {
        match self {
            Backend::Embedded(c) => c.max_traces(),
            Backend::Started(p) => p.max_traces(),
            Backend::External { .. } => crate::collector::DEFAULT_MAX_TRACES,
        }
    }
}

/// An empty export over gRPC: every OTLP/gRPC receiver accepts it.
async fn preflight_grpc(url: &str) -> Result<(), BackendError> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let attempt = async {
        let mut client = TraceServiceClient::connect(url.to_string())
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        client
            .export(ExportTraceServiceRequest::default())
            .await
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(BackendError::Unusable(format!(
            "the OTLP/gRPC endpoint {url} refused an empty export ({e}); is it an OTLP/gRPC receiver (port 4317)?"
        ))),
        Err(_) => Err(BackendError::Unusable(format!(
            "the OTLP/gRPC endpoint {url} did not answer within 5 s"
        ))),
    }
}

/// A failure of a run on a started Jaeger: whether Jaeger exited, and the
/// end of its log when it did (or always, with `always_log`).
fn explain_started(process: &JaegerProcess, message: String, always_log: bool) -> String {
    match process.exit_status() {
        Some(status) => format!(
            "{message}\n  Jaeger exited ({status}); the end of its log:\n{}",
            process.log_tail()
        ),
        None if always_log => format!(
            "{message}\n  the end of Jaeger's log:\n{}",
            process.log_tail()
        ),
        None => message,
    }
}

/// `http://host:4318` → `http://host:4318/v1/traces`; a URL that already
/// names the path is kept.
pub fn otlp_traces_url(otlp: &str) -> String {
    let trimmed = otlp.trim_end_matches('/');
    if trimmed.ends_with("/v1/traces") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_otlp_base_url_gets_the_traces_path_once() {
        assert_eq!(
            otlp_traces_url("http://jaeger:4318"),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            otlp_traces_url("http://jaeger:4318/"),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            otlp_traces_url("http://j:4318/v1/traces"),
            "http://j:4318/v1/traces"
        );
    }
}
