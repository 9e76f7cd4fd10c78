//! Hearing the SDK's OTLP exporter say that a collector rejected spans.
//!
//! tracelab's own exporter reads a collector's `partial_success` itself.
//! The SDK's exporter (gRPC; HTTP with extra headers or compression) reads
//! it too, but only logs it, as an internal `tracing` event
//! (`TonicTracesClient.PartialSuccess`, `HttpTraceClient.PartialSuccess`).
//! [`heard`] polls one export with a subscriber that picks those events up,
//! so the spans they name count as rejected, not delivered.
//!
//! The subscriber is enabled for those events alone and only while that
//! export future is polled: nothing is installed process-wide, no other
//! event is built, and an export of another component is not heard. (While
//! an export is polled it is the thread's subscriber: were tracelab ever to
//! install one of its own for logs, the export's other events would have to
//! be passed on to it.) Over HTTP JSON nothing is heard: the SDK cannot
//! parse `rejectedSpans` written as the JSON string collectors write.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::LazyLock;

use tracing::instrument::WithSubscriber as _;
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber, field, span};

use super::otlp_exporter::Rejected;

tokio::task_local! {
    /// What the export being heard was told, in its task.
    static HEARD: RefCell<Said>;
}

/// One dispatcher for every export: making one per export would have
/// `tracing` recompute every callsite's interest each time.
static LISTENER: LazyLock<Dispatch> = LazyLock::new(|| Dispatch::new(Listener));

/// `export`'s outcome and what the collector at `endpoint` said it
/// rejected, as the SDK's exporter logged it while `export` ran.
pub async fn heard<F: Future>(endpoint: &str, export: F) -> (F::Output, Rejected) {
    let (outcome, said) = HEARD
        .scope(RefCell::new(Said::default()), async {
            let outcome = export.with_subscriber(LISTENER.clone()).await;
            (outcome, HEARD.with(|said| said.take()))
        })
        .await;
    let rejected = Rejected::said(endpoint, said.rejected_spans, &said.error_message);
    (outcome, rejected)
}

/// Enabled for the SDK exporters' partial-success events, nothing else.
struct Listener;

fn is_partial_success(metadata: &Metadata<'_>) -> bool {
    metadata.is_event()
        && metadata.target().starts_with("opentelemetry")
        && metadata.name().ends_with(".PartialSuccess")
}

impl Subscriber for Listener {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_partial_success(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        is_partial_success(metadata)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }

    fn event(&self, event: &Event<'_>) {
        let mut fields = Said::default();
        event.record(&mut fields);
        // Outside an export being heard (another task), nothing to tell.
        let _ = HEARD.try_with(|said| {
            let mut said = said.borrow_mut();
            said.rejected_spans = said.rejected_spans.saturating_add(fields.rejected_spans);
            if !fields.error_message.is_empty() {
                said.error_message = fields.error_message;
            }
        });
    }

    // Spans are never enabled, so none is ever made, entered or recorded.
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// The two fields the partial-success events carry.
#[derive(Default)]
struct Said {
    rejected_spans: i64,
    error_message: String,
}

impl field::Visit for Said {
    fn record_i64(&mut self, field: &field::Field, value: i64) {
        if field.name() == "rejected_spans" {
            self.rejected_spans = value;
        }
    }

    fn record_u64(&mut self, field: &field::Field, value: u64) {
        if field.name() == "rejected_spans" {
            self.rejected_spans = i64::try_from(value).unwrap_or(i64::MAX);
        }
    }

    fn record_str(&mut self, field: &field::Field, value: &str) {
        if field.name() == "error_message" {
            self.error_message = value.to_string();
        }
    }

    fn record_debug(&mut self, _: &field::Field, _: &dyn fmt::Debug) {}
}
