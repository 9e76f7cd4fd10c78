//! The trace viewer the embedded collector serves beside the Jaeger API:
//! `GET /` searches traces (service, operation, min/max duration, limit),
//! `GET /trace/{id}` shows one as a waterfall with its spans' tags and its
//! critical path, `GET /compare?a=ID&b=ID` (or two `trace=ID`, as ticked in
//! the search results) shows two side by side, `GET /dependencies` draws
//! which service calls which.
//!
//! It reads the store only through the Jaeger query API ([`super::query`]),
//! exactly as a Jaeger UI would, lays traces out with
//! [`crate::report::waterfall`] and renders them with [`crate::report::web`].

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde::de::DeserializeOwned;

use super::dependencies::DependencyLink;
use super::query;
use super::store::Store;
use crate::jaeger::model::{Envelope, Trace};
use crate::report::trace_compare::TraceCompare;
use crate::report::waterfall::Waterfall;
use crate::report::web::dependencies::{DependencyPage, Edge};
use crate::report::web::{self, SearchForm, SearchPage, compare};
use crate::server::Body;

/// Results per search unless the form says otherwise (the Jaeger UI's default).
const DEFAULT_LIMIT: usize = 20;

/// Answer a viewer page, or `None` when `path` is not one.
pub fn handle(store: &Store, path: &str, query: &str) -> Option<Response<Body>> {
    if path == "/" || path == "/search" {
        return Some(html(200, web::search_page(&search(store, query))));
    }
    if path == "/compare" {
        return Some(compare(store, query));
    }
    if path == "/dependencies" {
        return Some(html(200, dependencies(store, query)));
    }
    let id = path.strip_prefix("/trace/")?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(
        match api::<Vec<Trace>>(store, &format!("/api/traces/{id}"), "") {
            Ok(mut traces) if !traces.is_empty() => {
                html(200, web::trace_page(&Waterfall::of(&traces.remove(0))))
            }
            _ => html(404, web::not_found_page(id)),
        },
    )
}

/// Two traces side by side; a form asking for them while one is missing.
fn compare(store: &Store, query: &str) -> Response<Body> {
    let mut a = String::new();
    let mut b = String::new();
    let mut ticked = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        match key.as_ref() {
            "a" => a = value,
            "b" => b = value,
            "trace" => ticked.push(value),
            _ => {}
        }
    }
    // Ticked traces compare the older as A: "slower in B" then means it
    // got slower.
    let mut by_age = false;
    if a.is_empty() && b.is_empty() {
        match ticked.as_slice() {
            [] => return html(200, compare::pick_page("", "", None)),
            [x, y] => {
                (a, b) = (x.clone(), y.clone());
                by_age = true;
            }
            _ => {
                return html(
                    400,
                    compare::pick_page(
                        ticked.first().map_or("", String::as_str),
                        "",
                        Some(&format!("tick two traces to compare, not {}", ticked.len())),
                    ),
                );
            }
        }
    }
    if a.is_empty() || b.is_empty() {
        return html(200, compare::pick_page(&a, &b, None));
    }
    let fetch = |id: &str| -> Option<Trace> {
        if id.contains('/') {
            return None;
        }
        api::<Vec<Trace>>(store, &format!("/api/traces/{id}"), "")
            .ok()
            .and_then(|mut traces| (!traces.is_empty()).then(|| traces.remove(0)))
    };
    match (fetch(&a), fetch(&b)) {
        (Some(ta), Some(tb)) => {
            let (wa, wb) = (Waterfall::of(&ta), Waterfall::of(&tb));
            let (wa, wb) = if by_age && wb.start_us < wa.start_us {
                (wb, wa)
            } else {
                (wa, wb)
            };
            html(200, compare::compare_page(&TraceCompare::of(&wa, &wb)))
        }
        (found_a, _) => {
            let missing = if found_a.is_none() { &a } else { &b };
            html(
                404,
                compare::pick_page(
                    &a,
                    &b,
                    Some(&format!("trace {missing} is not in this collector")),
                ),
            )
        }
    }
}

fn search(store: &Store, query: &str) -> SearchPage {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .collect();
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let services = api::<Vec<String>>(store, "/api/services", "").unwrap_or_default();
    let mut form = SearchForm {
        service: param("service"),
        operation: param("operation"),
        min_duration: param("minDuration"),
        max_duration: param("maxDuration"),
        limit: param("limit")
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_LIMIT),
    };
    // The first service is searched straight away, so traces show on arrival.
    if form.service.is_empty()
        && let Some(first) = services.first()
    {
        form.service = first.clone();
    }
    let mut page = SearchPage {
        services,
        operations: Vec::new(),
        form,
        results: Vec::new(),
        error: None,
        now_us: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64,
    };
    if page.form.service.is_empty() {
        return page;
    }
    let service_path = form_urlencoded::byte_serialize(page.form.service.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    page.operations = api::<Vec<String>>(
        store,
        &format!("/api/services/{service_path}/operations"),
        "",
    )
    .unwrap_or_default();
    let mut search = form_urlencoded::Serializer::new(String::new());
    search.append_pair("service", &page.form.service);
    for (key, value) in [
        ("operation", &page.form.operation),
        ("minDuration", &page.form.min_duration),
        ("maxDuration", &page.form.max_duration),
    ] {
        if !value.is_empty() {
            search.append_pair(key, value);
        }
    }
    search.append_pair("limit", &page.form.limit.to_string());
    match api::<Vec<Trace>>(store, "/api/traces", &search.finish()) {
        Ok(traces) => {
            let mut results: Vec<_> = traces.iter().map(|t| Waterfall::of(t).summary()).collect();
            results.sort_by_key(|r| std::cmp::Reverse(r.start_us));
            page.results = results;
        }
        Err(e) => page.error = Some(e),
    }
    page
}

/// The graph of `/api/dependencies` over the look-back asked for (a day
/// unless `lookback=HOURS` says otherwise).
fn dependencies(store: &Store, query: &str) -> String {
    let hours = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "lookback")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .filter(|h| (1..=24 * 365).contains(h))
        .unwrap_or(24);
    let lookback_ms = hours * 3600 * 1000;
    let mut page = DependencyPage {
        edges: Vec::new(),
        lookback_hours: hours,
        error: None,
    };
    match api::<Vec<DependencyLink>>(
        store,
        "/api/dependencies",
        &format!("lookback={lookback_ms}"),
    ) {
        Ok(links) => {
            page.edges = links
                .into_iter()
                .map(|l| Edge {
                    parent: l.parent,
                    child: l.child,
                    calls: l.call_count,
                })
                .collect();
        }
        Err(e) => page.error = Some(e),
    }
    web::dependencies::dependencies_page(&page)
}

/// Ask the query API and unwrap its envelope; `Err` carries Jaeger's message.
fn api<T: DeserializeOwned>(store: &Store, path: &str, query: &str) -> Result<T, String> {
    let answer = query::handle(store, path, query).ok_or_else(|| format!("no route {path}"))?;
    let envelope: Envelope<Option<T>> =
        serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    if let Some(error) = envelope.errors.and_then(|mut e| e.pop()) {
        return Err(error.msg);
    }
    envelope.data.ok_or_else(|| "no data".to_string())
}

fn html(status: u16, page: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(page)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::store::tests::recent_chain;
    use http_body_util::BodyExt;

    fn store() -> Store {
        recent_chain()
    }

    async fn get(store: &Store, path: &str, query: &str) -> (u16, String) {
        let response = handle(store, path, query).expect("a viewer route");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_front_page_searches_the_first_service_at_once() {
        let (status, html) = get(&store(), "/", "").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("<option selected>front-proxy</option>"),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="/trace/0000000000000007">"#),
            "{html}"
        );
        assert!(html.contains(r#"<span class="badge span-count">2 spans</span>"#));
    }

    #[tokio::test]
    async fn filters_go_to_the_query_api_and_its_errors_are_shown() {
        let s = store();
        let (_, html) = get(&s, "/", "service=service1&operation=nope").await;
        assert!(
            html.contains(r#"<span class="count">0</span> traces"#),
            "{html}"
        );
        let (_, html) = get(&s, "/", "service=service1&minDuration=fast").await;
        assert!(
            html.contains("unable to parse param &#39;minDuration&#39;"),
            "{html}"
        );
    }

    #[tokio::test]
    async fn compare_shows_two_traces_or_asks_for_them() {
        let s = store();
        let (status, html) = get(&s, "/compare", "a=7&b=7").await;
        assert_eq!(status, 200);
        assert!(html.contains(r#"<div class="side a">"#), "{html}");
        assert_eq!(html.matches(r#"<div class="row same""#).count(), 2);
        let (status, html) = get(&s, "/compare", "trace=7&trace=0000000000000007").await;
        assert_eq!(status, 200, "{html}");
        let (status, html) = get(&s, "/compare", "a=7&b=abc").await;
        assert_eq!(status, 404);
        assert!(
            html.contains("trace abc is not in this collector"),
            "{html}"
        );
        let (status, html) = get(&s, "/compare", "trace=7").await;
        assert_eq!(status, 400);
        assert!(html.contains("tick two traces to compare, not 1"), "{html}");
        let (status, html) = get(&s, "/compare", "").await;
        assert_eq!(status, 200);
        assert!(html.contains(r#"<form class="compare-pick""#));
    }

    #[tokio::test]
    async fn the_dependencies_page_draws_the_api_s_links() {
        let (status, html) = get(&store(), "/dependencies", "lookback=1").await;
        assert_eq!(status, 200);
        assert!(
            html.contains(r#"data-parent="front-proxy" data-child="service1" data-calls="1""#),
            "{html}"
        );
        assert!(html.contains(r#"<option value="1" selected>"#), "{html}");
    }

    #[tokio::test]
    async fn a_trace_page_draws_every_span_and_an_unknown_one_is_404() {
        let s = store();
        let (status, html) = get(&s, "/trace/7", "").await;
        assert_eq!(status, 200);
        assert_eq!(html.matches(r#"<details class="span"#).count(), 2);
        let (status, html) = get(&s, "/trace/abc", "").await;
        assert_eq!(status, 404);
        assert!(html.contains("is not in this collector"));
        assert!(handle(&s, "/trace/7/extra", "").is_none());
        assert!(handle(&s, "/other", "").is_none());
    }
}
