//! The other ways OTLP comes in: every span feature sent over OTLP/gRPC
//! (plain and gzip) and over OTLP/HTTP gzip-compressed reads back from the
//! embedded collector exactly as from Jaeger through `/api/traces`.

use crate::otlp::now_ns;
use crate::traces::{Case, feature_cases};
use crate::{Compare, Pair};

#[derive(Debug, Clone, Copy)]
enum Path {
    Grpc,
    GrpcGzip,
    HttpGzip,
}

async fn send_every_feature(path: Path) {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let cases = feature_cases(now_ns() - 60_000_000_000);
    for case in &cases {
        match path {
            Path::Grpc => pair.export_grpc(&case.request, false).await,
            Path::GrpcGzip => pair.export_grpc(&case.request, true).await,
            Path::HttpGzip => pair.export_gzip(&case.request).await,
        }
        pair.wait_for_trace(&case.trace, case.spans).await;
    }
    compare_cases(&mut pair, &cases, path).await;
    pair.stop_and_assert().await;
}

async fn compare_cases(pair: &mut Pair, cases: &[Case], path: Path) {
    for case in cases {
        let compare = if case.spans == 1 {
            Compare::Bytes
        } else {
            Compare::Normalised
        };
        let (jaeger, embedded) = pair.get(&format!("/api/traces/{}", case.trace)).await;
        pair.compare(
            &format!("{path:?}: {}", case.name),
            &jaeger,
            &embedded,
            compare,
        );
    }
    pair.check("/api/services", Compare::Normalised).await;
}

#[tokio::test]
async fn every_span_feature_sent_over_otlp_grpc_reads_back_as_from_jaeger() {
    send_every_feature(Path::Grpc).await;
}

#[tokio::test]
async fn every_span_feature_sent_over_gzip_compressed_otlp_grpc_reads_back_as_from_jaeger() {
    send_every_feature(Path::GrpcGzip).await;
}

#[tokio::test]
async fn every_span_feature_sent_over_gzip_compressed_otlp_http_reads_back_as_from_jaeger() {
    send_every_feature(Path::HttpGzip).await;
}
