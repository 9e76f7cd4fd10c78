//! Replays the fuzz seed corpus and every input a fuzzer once crashed on
//! (`fuzz/regressions/<target>/`) through the same entry points, on stable
//! Rust, in every test run.

use std::path::Path;

use tracelab::fuzzing;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for folder in ["corpus", "regressions"] {
        let dir = root.join(folder).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".gitkeep") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            // A panic here names the input that broke the invariant.
            eprintln!("replaying {}", path.display());
            check(&data);
            count += 1;
        }
    }
    count
}

#[test]
fn otlp_bodies_from_the_corpus_decode_or_fail_cleanly() {
    assert!(replay("otlp_decode", fuzzing::otlp_body) > 0);
}

#[test]
fn query_requests_from_the_corpus_get_jaeger_envelopes() {
    assert!(replay("query_params", fuzzing::query_request) > 0);
}

#[test]
fn scenario_texts_from_the_corpus_load_or_fail_with_a_position() {
    assert!(replay("scenario_load", fuzzing::scenario_text) > 0);
}

#[test]
fn the_sample_corpus_trace_is_the_sandbox_chain() {
    use tracelab::collector::otlp::{Encoding, decode};
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/otlp_decode/sandbox.json"),
    )
    .unwrap();
    let spans = decode(&body, Encoding::Json).unwrap();
    assert_eq!(
        spans.len(),
        4,
        "the query fuzzer's store holds one 4-span trace"
    );
}

#[test]
fn zipkin_bodies_from_the_corpus_decode_or_fail_cleanly() {
    assert!(replay("zipkin_decode", fuzzing::zipkin_body) > 0);
}

#[test]
fn the_zipkin_seed_corpus_decodes_so_the_fuzzer_starts_from_real_spans() {
    use tracelab::collector::{otlp, zipkin};
    for (file, spans) in [("sandbox_service1.json", 2), ("features.json", 4)] {
        let body = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus/zipkin_decode")
                .join(file),
        )
        .unwrap();
        let request = zipkin::decode(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
        let decoded = otlp::translate(request).unwrap();
        assert_eq!(decoded.len(), spans, "{file}");
    }
}

#[test]
fn otlp_grpc_messages_from_the_corpus_store_or_refuse_every_span() {
    assert!(replay("otlp_grpc", fuzzing::otlp_grpc_message) > 0);
}

#[test]
fn compressed_bodies_from_the_corpus_decode_within_the_limit_or_are_refused() {
    assert!(replay("compressed_body", fuzzing::compressed_body) > 0);
}

#[test]
fn api_v3_requests_from_the_corpus_get_the_gateways_answers() {
    assert!(replay("api_v3", fuzzing::api_v3_request) > 0);
}

#[test]
fn jaeger_thrift_bodies_from_the_corpus_decode_or_fail_cleanly() {
    assert!(replay("jaeger_thrift_decode", fuzzing::jaeger_thrift_body) > 0);
}

#[test]
fn jaeger_udp_datagrams_from_the_corpus_are_stored_or_dropped_cleanly() {
    assert!(replay("jaeger_udp_decode", fuzzing::jaeger_udp_datagram) > 0);
}

#[test]
fn jaeger_grpc_requests_from_the_corpus_decode_or_fail_cleanly() {
    assert!(replay("jaeger_grpc_decode", fuzzing::jaeger_grpc_request) > 0);
}

#[test]
fn zipkin_proto_bodies_from_the_corpus_decode_or_fail_cleanly() {
    assert!(replay("zipkin_proto_decode", fuzzing::zipkin_proto_body) > 0);
}

#[test]
fn zipkin_v1_bodies_from_the_corpus_decode_or_fail_cleanly() {
    assert!(replay("zipkin_v1_decode", fuzzing::zipkin_v1_body) > 0);
}
