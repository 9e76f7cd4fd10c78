//! The mesh's OTLP/HTTP protobuf exporter: each batch encoded once by
//! `otlp_encode` and POSTed through tracelab's HTTP client, retried as the
//! OTLP specification asks (connection failures, 429, 502, 503, 504, with
//! exponential backoff and jitter; a `Retry-After`, in seconds or as a
//! date, is honoured)
//! until the export's deadline. A collector that accepts a batch but
//! rejects some of its spans (OTLP's `partial_success`) is heard: the
//! export says how many, so the run's delivery count does not claim them.
//!
//! It sends what the SDK's OTLP/HTTP exporter sends, without converting
//! every span into intermediate structs first (see `otlp_encode`). Plain
//! `http://` only and no extra headers or compression: for anything else
//! `telemetry` keeps the SDK's exporter.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;
use rand::Rng;

use super::otlp_encode::{EncodedResource, export_request};
use crate::http_client::{Client, Failure};

/// Who sends, as the OTLP specification asks exporters to say.
const USER_AGENT: &str = concat!(
    "tracelab-otlp-exporter/",
    env!("CARGO_PKG_VERSION"),
    " (Rust)"
);

/// The longest wait a server's `Retry-After` may ask for.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// How a failed export is retried.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub max_retries: usize,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub max_jitter: Duration,
}

impl Backoff {
    /// One try, no retry.
    pub const NONE: Backoff = Backoff {
        max_retries: 0,
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        max_jitter: Duration::ZERO,
    };
}

#[derive(Debug)]
pub struct OtlpHttpExporter {
    client: Client,
    authority: String,
    path: String,
    url: String,
    /// One export: its first try and every retry together.
    timeout: Duration,
    backoff: Backoff,
    resource: EncodedResource,
}

/// Spans of an accepted batch the collector said it rejected
/// (`partial_success`), and why.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub spans: u64,
    pub message: String,
}

impl Rejected {
    /// What the collector at `endpoint` said: `spans` rejected (none when
    /// not above 0), with its message, if any.
    pub fn said(endpoint: &str, spans: i64, message: &str) -> Rejected {
        let Ok(spans @ 1..) = u64::try_from(spans) else {
            return Rejected::default();
        };
        let why = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        Rejected {
            spans,
            message: format!("{endpoint}: the collector rejected {spans} spans{why}"),
        }
    }
}

/// What one try came to, when it was not accepted.
enum Refusal {
    /// Worth another try, after at least this long (a `Retry-After`).
    Retryable(String, Option<Duration>),
    Final(String),
}

impl OtlpHttpExporter {
    /// An exporter to `url`, or `None` when it is not a plain `http://`
    /// URL: the SDK's exporter then does the job, or refuses a URL that does
    /// not parse when the mesh starts (rather than every batch failing).
    pub fn new(url: &str, timeout: Duration, backoff: Backoff) -> Option<Self> {
        let uri: http::Uri = url.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let authority = uri.authority()?.as_str();
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Some(OtlpHttpExporter {
            client: Client::default(),
            authority: authority.to_string(),
            path: path.to_string(),
            url: url.to_string(),
            timeout,
            backoff,
            resource: EncodedResource::default(),
        })
    }

    async fn try_once(&self, body: Bytes, timeout: Duration) -> Result<Rejected, Refusal> {
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        let response = self
            .client
            .send(
                &self.authority,
                &Method::POST,
                &self.path,
                headers,
                body,
                timeout,
            )
            .await;
        let response = match response {
            Ok(response) => response,
            Err(Failure::Connect(reason)) => {
                return Err(Refusal::Retryable(
                    format!("POST {}: {reason}", self.url),
                    None,
                ));
            }
            Err(Failure::Timeout(after)) => {
                return Err(Refusal::Retryable(
                    format!(
                        "POST {}: no answer within {} ms",
                        self.url,
                        after.as_millis()
                    ),
                    None,
                ));
            }
        };
        if (200..300).contains(&response.status) {
            return Ok(self.rejected(&response.body));
        }
        let message = format!(
            "POST {}: HTTP export failed with status code: {}",
            self.url, response.status
        );
        let retry_after = response
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after)
            .map(|wait| wait.min(MAX_THROTTLE));
        Err(match response.status {
            429 | 503 => Refusal::Retryable(message, retry_after),
            502 | 504 => Refusal::Retryable(message, None),
            _ => Refusal::Final(message),
        })
    }

    /// What an accepting answer says was rejected. A body that is empty or
    /// not OTLP protobuf (some collectors answer nothing) rejects nothing.
    fn rejected(&self, body: &[u8]) -> Rejected {
        match ExportTraceServiceResponse::decode(body).map(|r| r.partial_success) {
            Ok(Some(partial)) => Rejected::said(
                &format!("POST {}", self.url),
                partial.rejected_spans,
                &partial.error_message,
            ),
            _ => Rejected::default(),
        }
    }

    /// Export one batch: `Ok` once the collector accepted it, with the
    /// spans it said it rejected; `Err` when every try failed.
    pub async fn send(&self, batch: Vec<SpanData>) -> Result<Rejected, OTelSdkError> {
        let body = Bytes::from(export_request(&self.resource, &batch));
        drop(batch);
        let start = Instant::now();
        let mut retries = 0;
        let mut delay = self.backoff.initial_delay;
        let mut cap = self.backoff.max_delay;
        loop {
            let remaining = self.timeout.saturating_sub(start.elapsed());
            let (message, asked) = match self.try_once(body.clone(), remaining).await {
                Ok(rejected) => return Ok(rejected),
                Err(Refusal::Final(message)) => return Err(OTelSdkError::InternalFailure(message)),
                Err(Refusal::Retryable(message, asked)) => (message, asked),
            };
            if retries >= self.backoff.max_retries {
                return Err(OTelSdkError::InternalFailure(message));
            }
            retries += 1;
            if let Some(asked) = asked {
                cap = cap.max(asked);
                delay = delay.max(asked);
            }
            let jitter_ms = self.backoff.max_jitter.as_millis() as u64;
            let jitter = Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
            let wait = (delay + jitter).min(cap);
            if wait >= self.timeout.saturating_sub(start.elapsed()) {
                return Err(OTelSdkError::InternalFailure(format!(
                    "{message} (no time left for retry {retries})"
                )));
            }
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(cap);
        }
    }

    pub fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (a date past is no wait).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body_util::BodyExt;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
    use tokio_util::sync::CancellationToken;

    use std::time::SystemTime;

    use super::*;

    /// What the test collector saw: each request's content type, user
    /// agent and body; it answers the statuses of `answers` in turn, then 200.
    #[derive(Default)]
    struct Seen {
        requests: Mutex<Vec<(String, String, Bytes)>>,
        answers: Mutex<Vec<u16>>,
        /// Sent with every refusal, when set.
        retry_after: Option<&'static str>,
        /// The body of every 200.
        accepted_body: Vec<u8>,
    }

    impl crate::server::Handler for Seen {
        async fn handle(
            &self,
            request: http::Request<hyper::body::Incoming>,
            _: std::net::SocketAddr,
        ) -> http::Response<crate::server::Body> {
            let header = |name| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let (content_type, agent) = (header(CONTENT_TYPE), header(http::header::USER_AGENT));
            let body = request.into_body().collect().await.unwrap().to_bytes();
            self.requests
                .lock()
                .unwrap()
                .push((content_type, agent, body));
            let mut answers = self.answers.lock().unwrap();
            let status = if answers.is_empty() {
                200
            } else {
                answers.remove(0)
            };
            let body = if status == 200 {
                self.accepted_body.clone()
            } else {
                Vec::new()
            };
            let mut response = crate::server::text(status, body);
            if let (Some(after), true) = (self.retry_after, status != 200) {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static(after));
            }
            response
        }
    }

    async fn collector(answers: Vec<u16>) -> (String, Arc<Seen>, CancellationToken) {
        serve_test_collector(Seen {
            answers: Mutex::new(answers),
            ..Seen::default()
        })
        .await
    }

    async fn throttling_collector(
        answers: Vec<u16>,
        retry_after: Option<&'static str>,
    ) -> (String, Arc<Seen>, CancellationToken) {
        serve_test_collector(Seen {
            answers: Mutex::new(answers),
            retry_after,
            ..Seen::default()
        })
        .await
    }

    async fn serve_test_collector(seen: Seen) -> (String, Arc<Seen>, CancellationToken) {
        let seen = Arc::new(seen);
        let (addr, stop) = crate::server::serve_on_loopback(Arc::clone(&seen)).await;
        (format!("http://{addr}/v1/traces"), seen, stop)
    }

    /// Keeps what the SDK hands over.
    #[derive(Debug, Clone, Default)]
    struct Keep(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Keep {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    /// Two finished spans of service `svc`, as the SDK hands them over.
    fn finished_spans() -> (Resource, Vec<SpanData>) {
        let memory = Keep::default();
        let resource = Resource::builder_empty()
            .with_attributes([opentelemetry::KeyValue::new("service.name", "svc")])
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_simple_exporter(memory.clone())
            .build();
        let tracer = provider.tracer("test");
        for name in ["first", "second"] {
            tracer.start(name).end();
        }
        let spans = std::mem::take(&mut *memory.0.lock().unwrap());
        (resource, spans)
    }

    /// The error of one export of two spans to `url`, which must fail.
    async fn failed_export(url: &str, backoff: Backoff) -> String {
        let exporter = OtlpHttpExporter::new(url, Duration::from_secs(5), backoff).unwrap();
        exporter
            .send(finished_spans().1)
            .await
            .expect_err("the export fails")
            .to_string()
    }

    fn quick_retries() -> Backoff {
        Backoff {
            max_retries: 3,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_jitter: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn an_export_posts_one_otlp_protobuf_request_holding_the_batch_and_the_resource() {
        let (url, seen, _stop) = collector(vec![]).await;
        let (resource, spans) = finished_spans();
        let mut exporter =
            OtlpHttpExporter::new(&url, Duration::from_secs(5), Backoff::NONE).unwrap();
        exporter.set_resource(&resource);
        exporter.send(spans).await.unwrap();

        let requests = seen.requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        let (content_type, agent, body) = &requests[0];
        assert_eq!(content_type, "application/x-protobuf");
        assert!(agent.starts_with("tracelab-otlp-exporter/"), "{agent}");
        let request = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
        let resource_spans = &request.resource_spans[0];
        let service = &resource_spans.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        let names: Vec<&str> = resource_spans.scope_spans[0]
            .spans
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["first", "second"]);
    }

    #[tokio::test]
    async fn a_503_and_a_502_are_retried_until_the_collector_accepts() {
        let (url, seen, _stop) = collector(vec![503, 502]).await;
        let exporter =
            OtlpHttpExporter::new(&url, Duration::from_secs(5), quick_retries()).unwrap();
        exporter.send(finished_spans().1).await.unwrap();
        let requests = seen.requests.lock().unwrap();
        assert_eq!(requests.len(), 3);
        assert!(
            requests.iter().all(|r| r.2 == requests[0].2),
            "every try sends the same body"
        );
    }

    #[tokio::test]
    async fn a_400_is_final_and_the_error_names_the_url_and_the_status() {
        let (url, seen, _stop) = collector(vec![400]).await;
        let error = failed_export(&url, quick_retries()).await;
        assert!(error.contains(&url) && error.contains("400"), "{error}");
        assert_eq!(seen.requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_collector_that_keeps_refusing_costs_the_retries_then_an_error() {
        let (url, seen, _stop) = collector(vec![503; 10]).await;
        let error = failed_export(&url, quick_retries()).await;
        assert!(error.contains("503"), "{error}");
        assert_eq!(
            seen.requests.lock().unwrap().len(),
            4,
            "one try and three retries"
        );
    }

    #[tokio::test]
    async fn no_collector_listening_is_an_error_naming_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        drop(listener);
        let error = failed_export(&url, Backoff::NONE).await;
        assert!(error.contains(&url), "{error}");
    }

    #[tokio::test]
    async fn a_429_waits_as_long_as_its_retry_after_says_before_the_next_try() {
        let (url, seen, _stop) = throttling_collector(vec![429], Some("1")).await;
        let exporter =
            OtlpHttpExporter::new(&url, Duration::from_secs(5), quick_retries()).unwrap();
        let started = Instant::now();
        exporter.send(finished_spans().1).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(seen.requests.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_retry_after_past_the_deadline_ends_the_export_at_once_with_an_error() {
        let (url, seen, _stop) = throttling_collector(vec![503], Some("20")).await;
        let error = failed_export(&url, quick_retries()).await;
        assert!(error.contains("no time left"), "{error}");
        assert_eq!(seen.requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn spans_a_collector_accepts_but_rejects_are_counted_with_its_reason() {
        let answer = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 1,
                error_message: "span too large".into(),
            }),
        };
        let (url, _seen, _stop) = serve_test_collector(Seen {
            accepted_body: answer.encode_to_vec(),
            ..Seen::default()
        })
        .await;
        let exporter = OtlpHttpExporter::new(&url, Duration::from_secs(5), Backoff::NONE).unwrap();
        let rejected = exporter.send(finished_spans().1).await.unwrap();
        assert_eq!(rejected.spans, 1);
        assert!(
            rejected.message.contains(&url) && rejected.message.contains("span too large"),
            "{}",
            rejected.message
        );
    }

    #[tokio::test]
    async fn an_accepting_answer_in_text_or_json_rejects_nothing() {
        for body in [
            &b"ok"[..],
            b"{\"partialSuccess\":{}}",
            b"<html>accepted</html>",
        ] {
            let (url, _seen, _stop) = serve_test_collector(Seen {
                accepted_body: body.to_vec(),
                ..Seen::default()
            })
            .await;
            let exporter =
                OtlpHttpExporter::new(&url, Duration::from_secs(5), Backoff::NONE).unwrap();
            let rejected = exporter.send(finished_spans().1).await.unwrap();
            assert_eq!(rejected, Rejected::default(), "{body:?}");
        }
    }

    #[tokio::test]
    async fn the_embedded_collector_s_partial_success_reaches_the_exporter() {
        let collector = crate::collector::RunningCollector::start_ephemeral(&Default::default())
            .await
            .unwrap();
        let (_, mut spans) = finished_spans();
        // An all-zero trace id: the collector stores the other span, rejects this one.
        let zero = &mut spans[0];
        zero.span_context = opentelemetry::trace::SpanContext::new(
            opentelemetry::trace::TraceId::INVALID,
            zero.span_context.span_id(),
            zero.span_context.trace_flags(),
            false,
            Default::default(),
        );
        let exporter = OtlpHttpExporter::new(
            &collector.otlp_traces_url(),
            Duration::from_secs(5),
            Backoff::NONE,
        )
        .unwrap();
        assert_eq!(exporter.send(spans).await.unwrap().spans, 1);
        let (_, whole) = finished_spans();
        assert_eq!(exporter.send(whole).await.unwrap(), Rejected::default());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let ahead = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = retry_after(&ahead).unwrap();
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn only_plain_http_urls_get_this_exporter() {
        let backoff = Backoff::NONE;
        let timeout = Duration::from_secs(1);
        assert!(
            OtlpHttpExporter::new("https://collector:4318/v1/traces", timeout, backoff).is_none()
        );
        assert!(OtlpHttpExporter::new("http:///v1/traces", timeout, backoff).is_none());
        // Unparsable: left to the SDK's exporter, which refuses it at start.
        assert!(OtlpHttpExporter::new("http://jae ger:4318/v1/traces", timeout, backoff).is_none());
        let with_query = OtlpHttpExporter::new("http://c:4318/v1/traces?x=1", timeout, backoff);
        assert_eq!(with_query.unwrap().path, "/v1/traces?x=1");
        let exporter = OtlpHttpExporter::new("http://collector:4318", timeout, backoff).unwrap();
        assert_eq!(
            (exporter.authority.as_str(), exporter.path.as_str()),
            ("collector:4318", "/")
        );
    }
}
