//! OTLP requests and raw gRPC calls, for the tests that feed intakes by
//! hand: the request a client library would build, and gRPC frames with
//! whatever flags and bytes a test wants (as no client library sends).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// One resource (`service.name = service`) with `spans` in one scope.
pub fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A gRPC call to `server` (`http://host:port`) with a hand-made frame:
/// `message` as is, flagged compressed or not, `grpc-encoding` when given.
/// Returns the status code and message (from headers or trailers).
pub async fn raw_grpc(
    server: &str,
    path: &str,
    encoding: Option<&str>,
    compressed: bool,
    message: &[u8],
) -> (tonic::Code, String) {
    let stream = tokio::net::TcpStream::connect(server.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let mut frame = vec![u8::from(compressed)];
    frame.extend((message.len() as u32).to_be_bytes());
    frame.extend(message);
    let mut builder = http::Request::post(format!("{server}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(encoding) = encoding {
        builder = builder.header("grpc-encoding", encoding);
    }
    let response = sender
        .send_request(builder.body(Full::new(Bytes::from(frame))).unwrap())
        .await
        .expect("the server answers");
    let (parts, body) = response.into_parts();
    let status = match tonic::Status::from_header_map(&parts.headers) {
        Some(status) => status,
        None => {
            let trailers = body.collect().await.unwrap().trailers().cloned().unwrap();
            tonic::Status::from_header_map(&trailers).expect("a grpc-status")
        }
    };
    (status.code(), status.message().to_string())
}
