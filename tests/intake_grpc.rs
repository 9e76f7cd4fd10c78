//! OTLP/gRPC into `tracelab collector`: a tonic client's export lands and
//! reads back through the Jaeger API, plain or gzip-compressed; bad input
//! gets the status a gRPC client acts on (INVALID_ARGUMENT for a message
//! that is not one, RESOURCE_EXHAUSTED for one over the limit or a gzip
//! bomb, UNIMPLEMENTED for another service), never a crash, and nothing
//! stored before is lost. A run told `--otlp-protocol grpc` exports the
//! mesh's spans there (and is refused up front by a port that is not gRPC).

mod common;

use common::otlp::{raw_grpc, request};
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::io::Write as _;
use tonic::codec::CompressionEncoding;

const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

fn span(trace: u8, id: u8, parent: Option<u8>) -> Span {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    Span {
        trace_id: [[0; 15].as_slice(), &[trace]].concat(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent
            .map(|p| vec![0, 0, 0, 0, 0, 0, 0, p])
            .unwrap_or_default(),
        name: format!("op{id}"),
        kind: 2,
        start_time_unix_nano: now - 5_000_000,
        end_time_unix_nano: now,
        ..Default::default()
    }
}

async fn client(collector: &CollectorProcess) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(collector.grpc.clone())
        .await
        .expect("the collector answers gRPC")
}

fn services(collector: &CollectorProcess) -> Vec<String> {
    collector.get("/api/services")["data"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn span_count(collector: &CollectorProcess, trace: u8) -> usize {
    let body = collector.get(&format!("/api/traces/{trace:016x}"));
    body["data"][0]["spans"].as_array().map_or(0, Vec::len)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn an_otlp_grpc_export_lands_and_reads_back_through_the_jaeger_api() {
    let collector = CollectorProcess::start();
    let mut client = client(&collector).await;
    let answer = client
        .export(request(
            "grpc-shop",
            vec![span(1, 1, None), span(1, 2, Some(1))],
        ))
        .await
        .expect("accepted");
    assert_eq!(
        answer.into_inner().partial_success,
        Some(Default::default()),
        "empty, as Jaeger answers"
    );
    assert_eq!(services(&collector), ["grpc-shop"]);
    let trace = collector.get("/api/traces/0000000000000001");
    let spans = trace["data"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let child = spans.iter().find(|s| s["operationName"] == "op2").unwrap();
    assert_eq!(child["references"][0]["spanID"], "0000000000000001");
}

#[tokio::test]
async fn a_gzip_compressed_grpc_export_lands() {
    let collector = CollectorProcess::start();
    let mut client = client(&collector)
        .await
        .send_compressed(CompressionEncoding::Gzip);
    client
        .export(request("gzipped", vec![span(2, 1, None)]))
        .await
        .expect("accepted");
    assert_eq!(span_count(&collector, 2), 1);
    // zstd, which Go's gRPC clients can also send.
    let mut client = client_zstd(&collector).await;
    client
        .export(request("zstd", vec![span(3, 1, None)]))
        .await
        .expect("accepted");
    assert_eq!(span_count(&collector, 3), 1);
}

async fn client_zstd(
    collector: &CollectorProcess,
) -> TraceServiceClient<tonic::transport::Channel> {
    client(collector)
        .await
        .send_compressed(CompressionEncoding::Zstd)
}

#[tokio::test]
async fn bad_grpc_input_gets_a_clear_status_and_loses_nothing_stored() {
    let collector = CollectorProcess::start_with(&["--max-body-size", "64KiB"]);
    let mut client = client(&collector).await;
    client
        .export(request("before", vec![span(4, 1, None)]))
        .await
        .expect("accepted");

    // Not a protobuf message at all.
    let (code, message) = raw_grpc(&collector.grpc, EXPORT, None, false, b"\xff\xff\xffjunk").await;
    assert_eq!(code, tonic::Code::InvalidArgument, "{message}");

    // A span whose trace id is 3 bytes long.
    let mut bad = span(5, 1, None);
    bad.trace_id = vec![1, 2, 3];
    let status = client
        .export(request("bad-id", vec![span(6, 1, None), bad]))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("traceId"), "{status:?}");

    // Over the limit as sent.
    let big: Vec<Span> = (0..2000)
        .map(|i| span(7, (i % 250) as u8 + 1, None))
        .collect();
    let status = client
        .export(request("too-big", big))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

    // A gzip bomb: 64 KiB of limit, 16 MiB of zeros in a few KiB.
    let bomb = gzip(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 64 << 10);
    let (code, message) = raw_grpc(&collector.grpc, EXPORT, Some("gzip"), true, &bomb).await;
    assert_eq!(code, tonic::Code::ResourceExhausted, "{message}");

    // A compression the server does not take.
    let (code, message) = raw_grpc(&collector.grpc, EXPORT, Some("br"), true, b"x").await;
    assert_eq!(code, tonic::Code::Unimplemented, "{message}");

    // Another service on the OTLP port.
    let (code, message) = raw_grpc(
        &collector.grpc,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        None,
        false,
        b"",
    )
    .await;
    assert_eq!(code, tonic::Code::Unimplemented, "{message}");

    // A method TraceService does not have.
    let (code, message) = raw_grpc(
        &collector.grpc,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Import",
        None,
        false,
        b"",
    )
    .await;
    assert_eq!(code, tonic::Code::Unimplemented, "{message}");
    assert!(message.contains("Import"), "{message}");

    // Nothing of the refused exports is stored, nothing before is lost, and
    // the collector still takes a valid export.
    assert_eq!(services(&collector), ["before"]);
    assert_eq!(span_count(&collector, 4), 1);
    client
        .export(request("after", vec![span(8, 1, None)]))
        .await
        .expect("still accepting");
    assert_eq!(services(&collector), ["after", "before"]);
}

#[tokio::test]
async fn a_span_with_a_zero_span_id_is_refused_alone_in_partial_success() {
    let collector = CollectorProcess::start();
    let mut zero = span(9, 2, Some(1));
    zero.span_id = vec![0; 8];
    let answer = client(&collector)
        .await
        .export(request("partial", vec![span(9, 1, None), zero]))
        .await
        .expect("accepted");
    let partial = answer.into_inner().partial_success.expect("partial");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("spanId"), "{partial:?}");
    assert_eq!(span_count(&collector, 9), 1);
}

#[tokio::test]
async fn the_mesh_exports_over_grpc_when_the_run_says_so_and_the_sandbox_passes() {
    use std::sync::Arc;
    use tracelab::backend::BackendChoice;
    use tracelab::mesh::telemetry::OtlpProtocol;
    use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};
    // Only the collector's gRPC port is given: spans sent any other way
    // would be lost, and the run would fail its delivery check.
    let collector = CollectorProcess::start();
    let mut settings = RunSettings::embedded();
    settings.otlp_protocol = OtlpProtocol::Grpc;
    settings.backend = BackendChoice::External {
        query_url: collector.query.clone(),
        otlp_url: collector.grpc.clone(),
        otlp_protocol: OtlpProtocol::Grpc,
    };
    let scenario = tracelab::scenario::load(&scenario_path("jaeger.rhai")).unwrap();
    let backend = start_backend(&settings).await.unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
    assert_eq!(report.collector.otlp_traces_url, collector.grpc);
    assert_eq!(
        services(&collector),
        ["front-proxy", "service1", "service2"]
    );
}

#[tokio::test]
async fn an_http_port_given_as_the_grpc_endpoint_is_refused_before_the_run() {
    use tracelab::backend::BackendChoice;
    use tracelab::mesh::telemetry::OtlpProtocol;
    use tracelab::run::{RunSettings, start_backend};
    let collector = CollectorProcess::start();
    let mut settings = RunSettings::embedded();
    // The query port speaks HTTP only: an empty export over gRPC fails.
    settings.backend = BackendChoice::External {
        query_url: collector.query.clone(),
        otlp_url: collector.query.clone(),
        otlp_protocol: OtlpProtocol::Grpc,
    };
    let err = start_backend(&settings).await.err().expect("refused");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("OTLP/gRPC endpoint"), "{err}");
}
