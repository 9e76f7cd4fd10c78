//! Zipkin and Jaeger's legacy intake in `tracelab collector`, with real
//! clients and with bad input.
//!
//! Real clients: tests/clients/span-sender sends one trace with the
//! official libraries (the OpenTelemetry SDK's Zipkin exporter, zipkin-go's
//! protobuf reporter, Jaeger's own jaeger-client-go over HTTP and UDP, and
//! jaeger-idl's gRPC client) to the collector on Jaeger's default ports
//! (9411, 14268, 6831, 6832, 14250), each client at its own default
//! endpoint; the trace reads back through the Jaeger API with its spans,
//! kinds, parents and typed tags. When one of those ports is taken on this
//! machine, the collector and the clients move to free ports instead (said
//! in the test output), so the test checks the same path either way.
//!
//! Bad input: truncated thrift, a wrong content type, junk datagrams,
//! malformed protobuf, a gzip bomb, a bad gRPC message each get a clear
//! answer (junk datagrams: dropped and counted in the collector's log),
//! never a crash, and nothing stored before is lost.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A `tracelab collector` process, its banner read, its stderr kept.
struct Collector {
    child: Child,
    /// Banner name → URL ("Zipkin" → `http://127.0.0.1:9411/api/v2/spans`).
    urls: BTreeMap<String, String>,
    stderr: mpsc::Receiver<String>,
    /// On Jaeger's default ports (else every port free).
    on_defaults: bool,
}

impl Collector {
    /// On Jaeger's ports for the intakes under test (the others free);
    /// on free ports when one of them is taken.
    fn start() -> Collector {
        let defaults = [
            "--ui-port",
            "0",
            "--otlp-port",
            "0",
            "--otlp-grpc-port",
            "0",
        ];
        match Self::spawn(&defaults) {
            Ok(collector) => collector,
            Err(why) => {
                notice(&format!(
                    "a default port is taken ({why}); the collector and clients use free ports"
                ));
                Self::spawn(&["--free-ports"]).unwrap_or_else(|why| panic!("{why}"))
            }
        }
    }

    fn spawn(args: &[&str]) -> Result<Collector, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .arg("collector")
            .args(args)
            .env_remove("TRACELAB_CONFIG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (send, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        let mut urls = BTreeMap::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().unwrap();
                let said: Vec<String> = stderr.try_iter().collect();
                return Err(format!(
                    "tracelab collector exited ({status}): {}",
                    said.join("\n")
                ));
            };
            if line.contains("keeps") {
                break;
            }
            let mut words: Vec<&str> = line.split_whitespace().collect();
            if let Some(url) = words.pop()
                && url.contains("://")
            {
                urls.insert(words.join(" "), url.to_string());
            }
        }
        // Keep draining stdout so the collector never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Ok(Collector {
            child,
            urls,
            stderr,
            on_defaults: !args.contains(&"--free-ports"),
        })
    }

    fn url(&self, name: &str) -> &str {
        self.urls
            .get(name)
            .unwrap_or_else(|| panic!("the banner names no {name}: {:?}", self.urls))
    }

    /// `host:port` of a listener.
    fn authority(&self, name: &str) -> String {
        let url = self.url(name);
        let rest = url.split_once("://").unwrap().1;
        rest.split('/').next().unwrap().to_string()
    }

    fn query(&self) -> String {
        self.url("query API")
            .trim_end_matches("/api/services")
            .to_string()
    }

    fn get(&self, path: &str) -> Value {
        http(&self.query(), "GET", path, None, b"").json()
    }

    /// The spans of a trace, waiting until there are `wanted` (datagrams
    /// arrive when they arrive).
    fn trace(&self, trace_id: &str, wanted: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let trace = self.get(&format!("/api/traces/{trace_id}"));
            let spans = trace["data"][0]["spans"].as_array().map_or(0, Vec::len);
            if spans >= wanted {
                return trace["data"][0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id} has {spans} spans, not {wanted}: {trace}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn services(&self) -> Vec<String> {
        let mut names: Vec<String> = self.get("/api/services")["data"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Wait for a stderr line containing each of `texts`, in any order;
    /// the lines, in the order of `texts`.
    fn said(&self, texts: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut found: Vec<Option<String>> = vec![None; texts.len()];
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.stderr.recv_timeout(left).unwrap_or_else(|_| {
                panic!("the collector never said all of {texts:?}; it said {found:?}")
            });
            for (text, slot) in texts.iter().zip(found.iter_mut()) {
                if slot.is_none() && line.contains(text) {
                    *slot = Some(line.clone());
                }
            }
        }
        found.into_iter().flatten().collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client protocols, the banner line of the intake each reaches, and
/// whether its tags keep their types (Zipkin's are all strings).
const CLIENTS: [(&str, &str, bool); 6] = [
    ("zipkin-json", "Zipkin", false),
    ("zipkin-proto", "Zipkin", false),
    ("jaeger-thrift-http", "Jaeger thrift", true),
    ("jaeger-compact", "Jaeger compact", true),
    ("jaeger-binary", "Jaeger binary", true),
    ("jaeger-grpc", "Jaeger gRPC", true),
];

/// Send one trace of `spans` spans with span-sender; its trace id.
fn send(
    sender: &std::path::Path,
    collector: &Collector,
    protocol: &str,
    intake: &str,
    service: &str,
    gzip: bool,
) -> String {
    let mut command = Command::new(sender);
    command.args(["--protocol", protocol, "--service", service, "--spans", "3"]);
    if gzip {
        command.arg("--gzip");
    }
    if !collector.on_defaults {
        let endpoint = match protocol {
            "zipkin-json" | "zipkin-proto" | "jaeger-thrift-http" => {
                collector.url(intake).to_string()
            }
            _ => collector.authority(intake),
        };
        command.args(["--endpoint", &endpoint]);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "span-sender --protocol {protocol}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"].as_array()?.iter().find(|t| t["key"] == key)
}

/// What span-sender makes: a server root and two client children, its
/// tags on each, all of `service`.
fn assert_trace(trace: &Value, protocol: &str, service: &str, typed: bool) {
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3, "{protocol}: {trace}");
    let root = spans
        .iter()
        .find(|s| s["operationName"] == "root")
        .unwrap_or_else(|| panic!("{protocol}: no root span: {trace}"));
    assert_eq!(
        tag(root, "span.kind").unwrap()["value"],
        "server",
        "{protocol}"
    );
    for n in 1..=2 {
        let child = spans
            .iter()
            .find(|s| s["operationName"] == format!("child-{n}"))
            .unwrap_or_else(|| panic!("{protocol}: no child-{n}: {trace}"));
        assert_eq!(
            tag(child, "span.kind").unwrap()["value"],
            "client",
            "{protocol}"
        );
        assert_eq!(
            child["references"][0]["spanID"], root["spanID"],
            "{protocol}: child-{n} under the root"
        );
    }
    for span in spans {
        let process = &trace["processes"][span["processID"].as_str().unwrap()];
        assert_eq!(process["serviceName"], service, "{protocol}");
        assert_eq!(tag(span, "sender.protocol").unwrap()["value"], protocol);
        let int = tag(span, "test.int").unwrap();
        if typed {
            assert_eq!((&int["type"], &int["value"]), (&"int64".into(), &42.into()));
            assert_eq!(tag(span, "test.bool").unwrap()["value"], true);
            assert_eq!(tag(span, "test.double").unwrap()["value"], 2.5);
        } else {
            assert_eq!(
                (&int["type"], &int["value"]),
                (&"string".into(), &"42".into())
            );
        }
    }
}

#[test]
fn real_zipkin_and_jaeger_clients_land_in_tracelab_collector_on_its_default_ports() {
    let Some(sender) = span_sender() else {
        return;
    };
    let collector = Collector::start();
    let mut sent = Vec::new();
    for (protocol, intake, typed) in CLIENTS {
        let gzip_too = matches!(
            protocol,
            "zipkin-json" | "zipkin-proto" | "jaeger-thrift-http"
        );
        for gzip in [false, true].into_iter().filter(|&g| !g || gzip_too) {
            let service = format!("{protocol}{}", if gzip { "-gzip" } else { "" });
            let trace = send(&sender, &collector, protocol, intake, &service, gzip);
            sent.push((protocol, service, trace, typed));
        }
    }
    for (protocol, service, trace_id, typed) in &sent {
        let trace = collector.trace(trace_id, 3);
        assert_trace(&trace, protocol, service, *typed);
        if protocol.starts_with("jaeger-") && *protocol != "jaeger-grpc" {
            // jaeger-client-go's process tags, translated as Jaeger does.
            let process = &trace["processes"]["p1"];
            let version = process["tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["key"] == "opencensus.exporterversion")
                .unwrap_or_else(|| panic!("{protocol}: {process}"));
            assert!(
                version["value"].as_str().unwrap().starts_with("Jaeger-Go-"),
                "{protocol}: {process}"
            );
        }
    }
    let services = collector.services();
    assert_eq!(services.len(), sent.len(), "{services:?}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A valid thrift batch (binary protocol) of one span of `service`,
/// as jaeger-client-go's HTTP sender posts it.
fn thrift_batch(service: &str, trace_low: i64) -> Vec<u8> {
    use thrift::protocol::{
        TBinaryOutputProtocol, TFieldIdentifier, TListIdentifier, TOutputProtocol,
        TStructIdentifier, TType,
    };
    let mut out = Vec::new();
    let mut p = TBinaryOutputProtocol::new(&mut out, true);
    // (`p` borrows `out` until its last use below.)
    let field = |p: &mut TBinaryOutputProtocol<&mut Vec<u8>>, ty, id| {
        p.write_field_begin(&TFieldIdentifier::new("f", ty, id))
            .unwrap();
    };
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    p.write_struct_begin(&TStructIdentifier::new("Batch"))
        .unwrap();
    field(&mut p, TType::Struct, 1);
    p.write_struct_begin(&TStructIdentifier::new("Process"))
        .unwrap();
    field(&mut p, TType::String, 1);
    p.write_string(service).unwrap();
    p.write_field_stop().unwrap();
    p.write_struct_end().unwrap();
    field(&mut p, TType::List, 2);
    p.write_list_begin(&TListIdentifier::new(TType::Struct, 1))
        .unwrap();
    p.write_struct_begin(&TStructIdentifier::new("Span"))
        .unwrap();
    for (id, value) in [(1, trace_low), (2, 0), (3, 1), (4, 0)] {
        field(&mut p, TType::I64, id);
        p.write_i64(value).unwrap();
    }
    field(&mut p, TType::String, 5);
    p.write_string("op").unwrap();
    field(&mut p, TType::I32, 7);
    p.write_i32(1).unwrap();
    field(&mut p, TType::I64, 8);
    p.write_i64(now_us - 1_000).unwrap();
    field(&mut p, TType::I64, 9);
    p.write_i64(500).unwrap();
    p.write_field_stop().unwrap();
    p.write_struct_end().unwrap();
    p.write_field_stop().unwrap();
    p.write_struct_end().unwrap();
    out
}

/// A bad request: what it is, where it goes (base, path), its headers and
/// body, the status it must get and words the answer must hold.
type Refusal<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
    &'a str,
);

#[test]
fn bad_jaeger_and_zipkin_input_gets_a_clear_answer_and_loses_nothing_stored() {
    let collector = Collector::spawn(&["--free-ports", "--max-body-size", "64KiB"]).unwrap();
    let thrift = collector
        .url("Jaeger thrift")
        .trim_end_matches("/api/traces")
        .to_string();
    let zipkin = collector
        .url("Zipkin")
        .trim_end_matches("/api/v2/spans")
        .to_string();
    let x_thrift = Some("application/x-thrift");
    let kept = thrift_batch("kept", 0x4b1d);
    let answer = http(&thrift, "POST", "/api/traces", x_thrift, &kept);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let before = collector.trace("0000000000004b1d", 1);

    let refusals: Vec<Refusal> = vec![
        (
            "truncated thrift",
            &thrift,
            "/api/traces",
            vec![("Content-Type", "application/x-thrift")],
            kept[..kept.len() / 2].to_vec(),
            400,
            "Unable to process request body: the thrift data ends before the batch does",
        ),
        (
            "a JSON body on the thrift port",
            &thrift,
            "/api/traces",
            vec![("Content-Type", "application/json")],
            b"[]".to_vec(),
            400,
            "Unsupported content type: application/json (send jaeger.thrift's Batch",
        ),
        (
            "no content type",
            &thrift,
            "/api/traces",
            vec![],
            kept.clone(),
            400,
            "Cannot parse content type",
        ),
        (
            "a gzip bomb",
            &thrift,
            "/api/traces",
            vec![("Content-Type", "application/x-thrift"), ("Content-Encoding", "gzip")],
            gzip(&vec![0u8; 10 * 1024 * 1024]),
            413,
            "larger than the limit",
        ),
        (
            "an unknown content encoding",
            &thrift,
            "/api/traces",
            vec![("Content-Type", "application/x-thrift"), ("Content-Encoding", "br")],
            kept.clone(),
            415,
            "br",
        ),
        (
            "malformed Zipkin protobuf",
            &zipkin,
            "/api/v2/spans",
            vec![("Content-Type", "application/x-protobuf")],
            b"\x0a\x05\x0a\x01".to_vec(),
            400,
            "not a Zipkin protobuf ListOfSpans",
        ),
        (
            "Zipkin protobuf with an 8-byte trace id",
            &zipkin,
            "/api/v2/spans",
            vec![("Content-Type", "application/x-protobuf")],
            b"\x0a\x14\x0a\x08\x00\x00\x00\x00\x00\x00\x00\x01\x1a\x08\x00\x00\x00\x00\x00\x00\x00\x01"
                .to_vec(),
            400,
            "invalid TraceID: has length 8 yet wanted length 16",
        ),
        (
            "protobuf sent as application/protobuf",
            &zipkin,
            "/api/v2/spans",
            vec![("Content-Type", "application/protobuf")],
            b"\x0a\x02\x0a\x00".to_vec(),
            400,
            "read as Zipkin JSON",
        ),
        (
            "Zipkin v1 thrift",
            &zipkin,
            "/api/v1/spans",
            vec![("Content-Type", "application/x-thrift")],
            kept.clone(),
            415,
            "Zipkin v1 thrift is not taken",
        ),
        (
            "Zipkin v1 JSON with a zero trace id",
            &zipkin,
            "/api/v1/spans",
            vec![("Content-Type", "application/json")],
            br#"[{"traceId": "0000000000000000", "id": "0000000000000001"}]"#.to_vec(),
            400,
            "zipkinV1 span traceId: traceId is zero",
        ),
    ];
    for (what, base, path, headers, body, status, says) in refusals {
        let answer = http_with(base, "POST", path, &headers, &body);
        assert_eq!(answer.status, status, "{what}: {}", answer.text());
        assert!(answer.text().contains(says), "{what}: {}", answer.text());
    }

    // Junk on the agent ports: dropped, said in the log with a count.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for name in ["Jaeger compact", "Jaeger binary"] {
        for junk in [
            &b"junk"[..],
            &[0x82, 0x21, 0x01],
            &[0x80, 0x01, 0x00, 0x04, 0xff],
        ] {
            udp.send_to(junk, collector.authority(name)).unwrap();
        }
    }
    let lines = collector.said(&[
        "the Jaeger agent (compact thrift, UDP) dropped",
        "the Jaeger agent (binary thrift, UDP) dropped",
    ]);
    for line in &lines {
        assert!(line.contains("datagram"), "{line}");
        assert!(
            line.contains("the last: not a readable thrift emitBatch message"),
            "{line}"
        );
    }

    // A bad PostSpans: INVALID_ARGUMENT, which a client does not retry.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let grpc = format!("http://{}", collector.authority("Jaeger gRPC"));
    let code = runtime.block_on(post_spans_with_bad_trace_id(&grpc));
    assert_eq!(code, tonic::Code::InvalidArgument);

    // Nothing stored before is lost, nothing of the refused is stored, and
    // the intakes still take good input.
    assert_eq!(collector.trace("0000000000004b1d", 1), before);
    assert_eq!(collector.services(), ["kept"]);
    let answer = http(
        &thrift,
        "POST",
        "/api/traces",
        x_thrift,
        &thrift_batch("after", 0x4b1e),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(collector.services(), ["after", "kept"]);
}

async fn post_spans_with_bad_trace_id(url: &str) -> tonic::Code {
    use tracelab::collector::intake::jaeger_grpc::{
        POST_SPANS_PATH, PostSpansRequest, PostSpansResponse, ProtoBatch, ProtoSpan,
    };
    let channel = tonic::transport::Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let request = PostSpansRequest {
        batch: Some(ProtoBatch {
            spans: vec![ProtoSpan {
                trace_id: Some(vec![1; 5]),
                ..Default::default()
            }],
            process: None,
        }),
    };
    let codec: tonic_prost::ProstCodec<PostSpansRequest, PostSpansResponse> =
        tonic_prost::ProstCodec::default();
    let result = grpc
        .unary(
            tonic::Request::new(request),
            http::uri::PathAndQuery::from_static(POST_SPANS_PATH),
            codec,
        )
        .await;
    result.expect_err("a 5-byte trace id is refused").code()
}

#[test]
fn the_otlp_port_takes_zipkin_json_protobuf_and_v1_too() {
    let Some(sender) = span_sender() else {
        return;
    };
    let collector = Collector::spawn(&["--free-ports"]).unwrap();
    let otlp = collector
        .url("OTLP/HTTP")
        .trim_end_matches("/v1/traces")
        .to_string();
    let mut sent = Vec::new();
    for protocol in ["zipkin-json", "zipkin-proto"] {
        let output = Command::new(&sender)
            .args([
                "--protocol",
                protocol,
                "--service",
                protocol,
                "--spans",
                "3",
            ])
            .args(["--endpoint", &format!("{otlp}/api/v2/spans")])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        sent.push((
            protocol,
            String::from_utf8_lossy(&output.stdout).trim().to_string(),
        ));
    }
    for (protocol, trace_id) in sent {
        assert_trace(&collector.trace(&trace_id, 3), protocol, protocol, false);
    }
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let v1 = format!(
        r#"[{{"traceId": "0000000000000f1f", "id": "0000000000000001", "name": "v1 op",
             "timestamp": {now_us}, "duration": 10,
             "binaryAnnotations": [{{"key": "lc", "value": "v1-app"}}]}}]"#
    );
    let answer = http(
        &otlp,
        "POST",
        "/api/v1/spans",
        Some("application/json"),
        v1.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let trace = collector.trace("0000000000000f1f", 1);
    assert_eq!(trace["processes"]["p1"]["serviceName"], "v1-app", "{trace}");
}
