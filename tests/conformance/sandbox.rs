//! The sandbox's own traces: the real mesh (Rust OpenTelemetry SDK, batch
//! export) runs scenarios/jaeger.rhai once, exporting through a tee that
//! sends every OTLP request to both Jaeger and the embedded collector; then
//! every trace and every search reads back the same from both.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracelab::backend::BackendChoice;
use tracelab::http_client::Client;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};
use tracelab::server::{Body, Handler, serve};

use crate::{Compare, Pair};

/// An OTLP/HTTP endpoint that forwards each request to several receivers
/// and answers with the last one's response (failing if any fails).
struct Tee {
    targets: Vec<String>,
    http: Client,
}

impl Handler for Tee {
    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Response<Body> {
        let path = request.uri().path().to_string();
        let mut headers = HeaderMap::new();
        if let Some(ct) = request.headers().get("content-type") {
            headers.insert("content-type", ct.clone());
        }
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let mut last = None;
        for target in &self.targets {
            let authority = &target["http://".len()..];
            let answer = self
                .http
                .send(
                    authority,
                    &Method::POST,
                    &path,
                    headers.clone(),
                    body.clone(),
                    Duration::from_secs(10),
                )
                .await;
            match answer {
                Ok(r) if r.status == 200 => last = Some(r),
                Ok(r) => return respond(502, Bytes::from(format!("{target}: {}", r.status))),
                Err(e) => return respond(502, Bytes::from(e.body())),
            }
        }
        let last = last.expect("at least one target");
        let mut response = respond(200, last.body);
        if let Some(ct) = last.headers.get("content-type") {
            response.headers_mut().insert("content-type", ct.clone());
        }
        response
    }
}

fn respond(status: u16, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    response
}

#[tokio::test]
async fn the_sandbox_scenarios_traces_read_back_from_the_embedded_collector_as_from_jaeger() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let root = |url: String| url.trim_end_matches("/v1/traces").to_string();
    let tee = Arc::new(Tee {
        targets: vec![
            root(pair.jaeger.otlp_traces_url()),
            root(pair.embedded.otlp_traces_url()),
        ],
        http: Client::default(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tee_url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let serving = tokio::spawn(serve(listener, tee, stop.clone().cancelled_owned()));

    // Export through the tee, read back from the embedded collector.
    let mut settings = RunSettings::embedded();
    settings.backend = BackendChoice::External {
        query_url: pair.embedded.base_url(),
        otlp_url: tee_url,
        otlp_protocol: Default::default(),
    };
    let scenario = tracelab::scenario::load(&crate::common::scenario_path("jaeger.rhai")).unwrap();
    let backend = start_backend(&settings).await.unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    backend.stop().await;
    stop.cancel();
    serving.await.unwrap();
    assert!(report.passed, "the sandbox scenario failed on the tee");
    let trace_ids = &report.traffic[0].trace_ids;
    assert_eq!(trace_ids.len(), 10);
    for id in trace_ids {
        pair.wait_for_trace(id, 4).await;
        pair.check(&format!("/api/traces/{id}"), Compare::Normalised)
            .await;
    }

    let mut paths = vec![
        "/api/services".to_string(),
        // front-proxy → service1 ×10, service1 → service1 ×10, service1 → service2 ×10.
        "/api/dependencies".into(),
        "/api/traces?service=front-proxy&tag=http.status_code:200".into(),
        "/api/traces?service=service2&tag=component:proxy&limit=20".into(),
        "/api/traces?service=service1&operation=checkStock&minDuration=1us".into(),
        "/api/traces?service=front-proxy&tag=response_flags:-&maxDuration=10s".into(),
        format!(
            "/api/traces?traceID={}&traceID={}",
            trace_ids[0], trace_ids[9]
        ),
    ];
    for service in ["front-proxy", "service1", "service2"] {
        paths.push(format!("/api/services/{service}/operations"));
        paths.push(format!("/api/operations?service={service}"));
        paths.push(format!("/api/operations?service={service}&spanKind=client"));
        paths.push(format!("/api/traces?service={service}"));
    }
    for path in &paths {
        // Traces exported in one request have no defined order in Jaeger.
        pair.check(path, Compare::AnyTraceOrder).await;
    }
    // The v3 API last: Jaeger's v3 adjusters change its stored traces.
    crate::api_v3::check_v3(&mut pair, "/api/v3/services").await;
    crate::api_v3::check_v3(&mut pair, "/api/v3/operations?service=service1").await;
    for id in trace_ids {
        crate::api_v3::check_v3(&mut pair, &format!("/api/v3/traces/{id}?raw_traces=true")).await;
        crate::api_v3::check_v3(&mut pair, &format!("/api/v3/traces/{id}")).await;
    }
    pair.stop_and_assert().await;
}
