//! One OpenTelemetry tracer provider per component, exporting OTLP in
//! batches (HTTP protobuf by default, through tracelab's own encoder,
//! `otlp_exporter`; gRPC or HTTP JSON through the SDK's exporter when asked, as
//! `OTEL_EXPORTER_OTLP_PROTOCOL` names them), with counters that say how
//! many spans reached the collector and how many did not (spans a
//! collector accepted in a batch but said it rejected, OTLP's
//! `partial_success`, count as not delivered: tracelab's own exporter
//! reads it; the SDK's only logs it, and is heard doing so, see the module
//! `partial_success`; over HTTP JSON the SDK cannot read it at all).
//!
//! A failed export is retried with backoff (the OTLP exporter's own retry:
//! connection failures, 429, 502, 503, 504 over HTTP; UNAVAILABLE and the
//! other retryable codes over gRPC). Once a batch has failed every
//! retry, the collector is taken to be gone: later batches get one try
//! each, until one gets through, so a flush to a dead collector ends in
//! seconds, not minutes; what was lost is counted either way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{
    Protocol, RetryPolicy, SpanExporter as OtlpExporter, WithExportConfig, WithHttpConfig,
    WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, IdGenerator, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};

use super::otlp_exporter::{Backoff, OtlpHttpExporter, Rejected};

/// The OTLP transports, by the names `OTEL_EXPORTER_OTLP_PROTOCOL` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum OtlpProtocol {
    #[serde(rename = "grpc")]
    Grpc,
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "http/json")]
    HttpJson,
}

impl OtlpProtocol {
    pub const NAMES: &'static str = "grpc, http/protobuf or http/json";

    pub fn parse(text: &str) -> Option<OtlpProtocol> {
        Some(match text.trim() {
            "grpc" => OtlpProtocol::Grpc,
            "http/protobuf" => OtlpProtocol::HttpProtobuf,
            "http/json" => OtlpProtocol::HttpJson,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        }
    }
}

impl std::fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where spans go, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    pub protocol: OtlpProtocol,
    /// HTTP: the full traces URL (`http://host:4318/v1/traces`); gRPC: the
    /// server's URL (`http://host:4317`).
    pub url: String,
}

impl OtlpEndpoint {
    /// OTLP/HTTP protobuf to this traces URL.
    pub fn http(traces_url: impl Into<String>) -> Self {
        OtlpEndpoint {
            protocol: OtlpProtocol::HttpProtobuf,
            url: traces_url.into(),
        }
    }

    pub fn grpc(url: impl Into<String>) -> Self {
        OtlpEndpoint {
            protocol: OtlpProtocol::Grpc,
            url: url.into().trim_end_matches('/').to_string(),
        }
    }

    /// The base URL SDKs expect in `OTEL_EXPORTER_OTLP_ENDPOINT` (over
    /// HTTP they append `/v1/traces` themselves).
    pub fn base_url(&self) -> String {
        let url = self.url.trim_end_matches('/');
        match self.protocol {
            OtlpProtocol::Grpc => url.to_string(),
            _ => url.strip_suffix("/v1/traces").unwrap_or(url).to_string(),
        }
    }
}

impl std::fmt::Display for OtlpEndpoint {
    /// `http://host:4318/v1/traces`, or `grpc http://host:4317`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.protocol {
            OtlpProtocol::HttpProtobuf => f.write_str(&self.url),
            other => write!(f, "{other} {}", self.url),
        }
    }
}

/// How spans leave a component.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub endpoint: OtlpEndpoint,
    /// The collector's Zipkin v2 URL (`.../api/v2/spans`), when it has one:
    /// programs get it as `OTEL_EXPORTER_ZIPKIN_ENDPOINT`.
    pub zipkin_spans_url: Option<String>,
    /// Spans buffered per component before the oldest are dropped (and counted).
    pub max_queue_size: usize,
    pub max_batch_size: usize,
    pub scheduled_delay: Duration,
    /// One export try, and every retry of a batch together.
    pub timeout: Duration,
    /// Retries of a failed batch while the collector is not known gone.
    pub max_retries: usize,
    /// The first retry's delay; it doubles for each next one.
    pub retry_delay: Duration,
}

impl ExportSettings {
    /// OTLP/HTTP protobuf to this traces URL.
    pub fn new(otlp_traces_url: impl Into<String>) -> Self {
        Self::to(OtlpEndpoint::http(otlp_traces_url))
    }

    pub fn to(endpoint: OtlpEndpoint) -> Self {
        ExportSettings {
            endpoint,
            zipkin_spans_url: None,
            max_queue_size: 1 << 16,
            max_batch_size: 512,
            scheduled_delay: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
            // 100, 200, 400, 800, 1600 ms (plus jitter): ~3 s of outage ridden out.
            max_retries: 5,
            retry_delay: Duration::from_millis(100),
        }
    }
}

/// Delivery counts for one component's exporter.
#[derive(Debug, Default)]
pub struct ExportCounters {
    /// Sampled spans started (ended or not).
    pub started: AtomicU64,
    pub ended: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    /// Per trace, shared by every component of the mesh.
    pub ledger: Arc<super::ledger::SpanLedger>,
}

/// A snapshot of [`ExportCounters`], summed over components when needed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryStats {
    /// Spans the component finished.
    pub ended: u64,
    /// Spans the collector accepted.
    pub delivered: u64,
    /// Spans in batches the collector refused or never answered.
    pub failed: u64,
    /// Spans of accepted batches the collector said it rejected.
    #[serde(skip_serializing_if = "is_zero")]
    pub rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DeliveryStats {
    /// Spans that never reached the collector: failed, rejected, dropped or
    /// still queued.
    pub fn undelivered(&self) -> u64 {
        self.ended.saturating_sub(self.delivered)
    }

    pub fn add(&mut self, other: &DeliveryStats) {
        self.ended += other.ended;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.rejected += other.rejected;
        if other.last_error.is_some() {
            self.last_error.clone_from(&other.last_error);
        }
    }
}

impl ExportCounters {
    /// The spans delivered, if every span started has ended and reached
    /// the collector: then the collector holds exactly that many.
    pub fn settled(&self) -> Option<u64> {
        // Read in the opposite order of updates (started, ended, delivered
        // only grow, each at most the one before): equal reads mean equal
        // counts at one instant.
        let delivered = self.delivered.load(Ordering::SeqCst);
        let ended = self.ended.load(Ordering::SeqCst);
        let started = self.started.load(Ordering::SeqCst);
        (delivered == ended && ended == started).then_some(delivered)
    }

    pub fn snapshot(&self) -> DeliveryStats {
        DeliveryStats {
            ended: self.ended.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            last_error: self.last_error.lock().expect("counter lock").clone(),
        }
    }
}

/// Counts what each export delivers; exports through `retrying` until a
/// batch fails all its retries, then through `once` until one succeeds.
#[derive(Debug)]
struct CountingExporter {
    retrying: Exporter,
    once: Exporter,
    /// The last batch failed every retry: the collector seems gone.
    gone: AtomicBool,
    counters: Arc<ExportCounters>,
}

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let traces: Vec<u128> = if self.counters.ledger.tracking() {
            batch
                .iter()
                .map(|s| u128::from_be_bytes(s.span_context.trace_id().to_bytes()))
                .collect()
        } else {
            Vec::new()
        };
        let result = if self.gone.load(Ordering::Relaxed) {
            self.once.send(batch).await
        } else {
            self.retrying.send(batch).await
        };
        self.gone.store(result.is_err(), Ordering::Relaxed);
        // Which spans of a batch were rejected is not said: every trace of
        // it settles as lost, read back as soon as it is there, rather than
        // waited for until the judge's timeout for spans that never come.
        let whole = matches!(&result, Ok(rejected) if rejected.spans == 0);
        self.counters.ledger.exported(traces, whole);
        match result {
            Ok(rejected) => {
                let rejected_spans = rejected.spans.min(n);
                if rejected_spans > 0 {
                    self.counters
                        .rejected
                        .fetch_add(rejected_spans, Ordering::Relaxed);
                    *self.counters.last_error.lock().expect("counter lock") =
                        Some(rejected.message);
                }
                self.counters
                    .delivered
                    .fetch_add(n - rejected_spans, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                *self.counters.last_error.lock().expect("counter lock") = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _ = self.once.shutdown_with_timeout(timeout);
        self.retrying.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.retrying.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.retrying.set_resource(resource);
        self.once.set_resource(resource);
    }
}

/// The SDK's OTLP exporter, or tracelab's own for plain OTLP/HTTP protobuf.
#[derive(Debug)]
enum Exporter {
    /// With the endpoint it sends to, to name in what it is told. Every
    /// export goes through `partial_success::heard`: a partial-success
    /// event first met outside it would stay unheard for good (`tracing`
    /// caches each callsite's interest).
    Sdk(OtlpExporter, String),
    Own(OtlpHttpExporter),
}

impl Exporter {
    /// Export one batch; what the collector rejected of it, if it says.
    async fn send(&self, batch: Vec<SpanData>) -> Result<Rejected, OTelSdkError> {
        match self {
            Exporter::Sdk(e, endpoint) => {
                let (outcome, rejected) =
                    super::partial_success::heard(endpoint, e.export(batch)).await;
                outcome.map(|()| rejected)
            }
            Exporter::Own(e) => e.send(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            Exporter::Sdk(e, _) => e.shutdown_with_timeout(timeout),
            // Holds no batch and no connection worth closing.
            Exporter::Own(_) => Ok(()),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Exporter::Sdk(e, _) => e.force_flush(),
            Exporter::Own(_) => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Exporter::Sdk(e, _) => e.set_resource(resource),
            Exporter::Own(e) => e.set_resource(resource),
        }
    }
}

/// Environment settings the SDK's exporter reads and tracelab's does not.
const SDK_ONLY_SETTINGS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
];

/// tracelab's own exporter (it skips the SDK's per-span conversion, the
/// largest part of the export's cost) where it does all that is asked:
/// OTLP/HTTP protobuf to a plain `http://` URL, no extra headers or
/// compression from the environment.
fn own_exporter(
    endpoint: &OtlpEndpoint,
    timeout: Duration,
    backoff: Backoff,
) -> Option<OtlpHttpExporter> {
    if endpoint.protocol != OtlpProtocol::HttpProtobuf
        || SDK_ONLY_SETTINGS
            .iter()
            .any(|name| std::env::var_os(name).is_some())
    {
        return None;
    }
    OtlpHttpExporter::new(&endpoint.url, timeout, backoff)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP exporter for {service}: {reason}")]
pub struct TelemetryError {
    pub service: String,
    pub reason: String,
}

/// A tracer provider whose spans carry `service.name = service`.
/// `sample_ratio` applies to traces this component starts; it follows the
/// caller's decision otherwise, as Envoy does. The ratio sampler decides on
/// the trace id, so `ids` (seeded) makes the decisions repeat.
pub fn provider(
    service: &str,
    settings: &ExportSettings,
    sample_ratio: f64,
    ids: impl IdGenerator + 'static,
    counters: Arc<ExportCounters>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let endpoint = &settings.endpoint;
    let backoff = Backoff {
        max_retries: settings.max_retries,
        initial_delay: settings.retry_delay,
        max_delay: settings.retry_delay * 16,
        max_jitter: settings.retry_delay / 2,
    };
    let build = |backoff: Backoff| {
        if let Some(own) = own_exporter(endpoint, settings.timeout, backoff) {
            return Ok(Exporter::Own(own));
        }
        let retry = if backoff.max_retries == 0 {
            RetryPolicy::disabled()
        } else {
            RetryPolicy::default()
                .with_max_retries(backoff.max_retries)
                .with_initial_delay(backoff.initial_delay)
                .with_max_delay(backoff.max_delay)
                .with_max_jitter(backoff.max_jitter)
        };
        let built = match endpoint.protocol {
            OtlpProtocol::Grpc => OtlpExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.url.clone())
                .with_timeout(settings.timeout)
                .with_retry_policy(retry)
                .build(),
            http => OtlpExporter::builder()
                .with_http()
                .with_protocol(if http == OtlpProtocol::HttpJson {
                    Protocol::HttpJson
                } else {
                    Protocol::HttpBinary
                })
                .with_endpoint(endpoint.url.clone())
                .with_timeout(settings.timeout)
                .with_retry_policy(retry)
                .build(),
        };
        built
            .map(|e| Exporter::Sdk(e, endpoint.url.clone()))
            .map_err(|e| TelemetryError {
                service: service.to_string(),
                reason: e.to_string(),
            })
    };
    let exporter = CountingExporter {
        retrying: build(backoff)?,
        once: build(Backoff::NONE)?,
        gone: AtomicBool::new(false),
        counters,
    };
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(settings.max_queue_size)
        .with_max_export_batch_size(settings.max_batch_size)
        .with_scheduled_delay(settings.scheduled_delay)
        .build();
    let processor = BatchSpanProcessor::builder(exporter, Tokio)
        .with_batch_config(batch)
        .build();
    let root = if sample_ratio >= 1.0 {
        Sampler::AlwaysOn
    } else {
        Sampler::TraceIdRatioBased(sample_ratio)
    };
    Ok(SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_attributes([KeyValue::new("service.name", service.to_string())])
                .build(),
        )
        .with_sampler(Sampler::ParentBased(Box::new(root)))
        .with_id_generator(ids)
        .with_span_processor(processor)
        .build())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};

    use super::super::ledger::TraceState;
    use super::*;

    /// Random trace ids; the second span id it gives is all zero, which a
    /// collector (the embedded one, as Jaeger) refuses alone.
    #[derive(Debug, Default)]
    struct SecondSpanIdZero(AtomicU64);

    impl IdGenerator for SecondSpanIdZero {
        fn new_trace_id(&self) -> opentelemetry::trace::TraceId {
            opentelemetry_sdk::trace::RandomIdGenerator::default().new_trace_id()
        }

        fn new_span_id(&self) -> opentelemetry::trace::SpanId {
            match self.0.fetch_add(1, Ordering::Relaxed) {
                1 => opentelemetry::trace::SpanId::INVALID,
                n => opentelemetry::trace::SpanId::from(n + 1),
            }
        }
    }

    /// Both exporters: tracelab's own (OTLP/HTTP protobuf), which reads the
    /// answer, and the SDK's (gRPC), which only logs it and is heard. Over
    /// HTTP JSON the SDK's exporter cannot read a partial success as
    /// collectors write it (`"rejectedSpans": "1"`, int64 as a JSON
    /// string), so nothing reaches its log to be heard.
    #[tokio::test(flavor = "multi_thread")]
    async fn spans_a_collector_rejects_count_as_not_delivered_with_its_reason_and_their_trace_as_lost()
     {
        let collector = crate::collector::RunningCollector::start_ephemeral(
            &crate::collector::CollectorConfig::default(),
        )
        .await
        .unwrap();
        for endpoint in [
            OtlpEndpoint::http(collector.otlp_traces_url()),
            OtlpEndpoint::grpc(collector.otlp_grpc_url()),
        ] {
            let counters = Arc::new(ExportCounters::default());
            counters.ledger.track();
            let provider = provider(
                "svc",
                &ExportSettings::to(endpoint.clone()),
                1.0,
                SecondSpanIdZero::default(),
                Arc::clone(&counters),
            )
            .unwrap();
            let tracer = provider.tracer("test");
            // A root and its child, whose span id the collector refuses.
            let root = tracer.start("kept");
            let trace = u128::from_be_bytes(root.span_context().trace_id().to_bytes());
            let cx = opentelemetry::Context::current_with_span(root);
            tracer.start_with_context("refused", &cx);
            drop(cx);
            counters.ledger.started(trace);
            counters.ledger.started(trace);
            tokio::task::spawn_blocking(move || provider.shutdown())
                .await
                .unwrap()
                .unwrap();
            let stats = counters.snapshot();
            assert_eq!(
                (stats.delivered, stats.rejected, stats.failed),
                (1, 1, 0),
                "{endpoint:?}: {stats:?}"
            );
            let error = stats.last_error.unwrap_or_default();
            assert!(
                error.contains(&endpoint.url)
                    && error.contains("rejected 1 spans: ")
                    && error.contains("invalid spanId"),
                "{endpoint:?}: {error}"
            );
            // Not waited for as if both spans were there.
            assert!(
                matches!(counters.ledger.take(trace), TraceState::Lost { .. }),
                "{endpoint:?}: the trace settles as lost"
            );
        }
        collector.stop().await;
    }
}
