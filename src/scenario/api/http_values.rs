//! HTTP values a script writes, checked where it writes them: request
//! targets (traffic and call paths), route paths, header names and values,
//! methods. A value HTTP cannot carry would otherwise be dropped or fail
//! every request at run time, with the run none the wiser.

use std::collections::BTreeMap;

use crate::scenario::model::PathMatch;

/// Headers tracelab writes itself on every request it sends: a script's
/// value would be overwritten or would break the request.
const SET_ON_REQUESTS: &[(&str, &str)] = &[
    (
        "x-request-id",
        "tracelab gives each request its own, to find its traces",
    ),
    ("host", "tracelab sets it to the target component"),
    ("content-length", "tracelab sets it from `body`"),
    ("transfer-encoding", "tracelab sets it from `body`"),
    ("connection", "tracelab manages its connections"),
    ("keep-alive", "tracelab manages its connections"),
    ("te", "it is a hop-by-hop header"),
    ("upgrade", "it is a hop-by-hop header"),
];

/// Headers a service's reply carries whatever the script says.
const SET_ON_REPLIES: &[(&str, &str)] = &[
    (
        "traceresponse",
        "the sidecar sets it, to tell traffic each request's trace id",
    ),
    ("content-length", "the reply's `body` sets it"),
    ("transfer-encoding", "the reply's `body` sets it"),
    ("connection", "it is a hop-by-hop header"),
    ("keep-alive", "it is a hop-by-hop header"),
    ("te", "it is a hop-by-hop header"),
    ("upgrade", "it is a hop-by-hop header"),
];

/// Who sends the headers being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderUse {
    /// `traffic(...)`'s request headers.
    Request,
    /// A service route's reply headers.
    Reply,
}

/// A request target in origin form (RFC 9112 §3.2.1): `/path` with an
/// optional `?query`, every other character percent-encoded.
pub fn request_target(path: &str) -> Result<(), String> {
    let shown = format!("{path:?} is not a request target");
    if !path.starts_with('/') {
        return Err(format!("{shown}: it must start with '/'"));
    }
    let mut in_query = false;
    let bytes = path.as_bytes();
    for (i, c) in path.char_indices() {
        let ok = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => true,
            '-' | '.' | '_' | '~' => true,
            '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '=' => true,
            ':' | '@' | '/' => true,
            '?' if in_query => true,
            '?' => {
                in_query = true;
                true
            }
            '%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return Err(format!(
                        "{shown}: '%' at position {} must start an escape such as %20",
                        i + 1
                    ));
                }
                true
            }
            _ => false,
        };
        if !ok {
            let escape = c
                .to_string()
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>();
            let name = match c {
                ' ' => "a space".to_string(),
                '#' => "'#' (a fragment never reaches the server)".to_string(),
                c if c.is_control() => format!("control character {:?}", c),
                c => format!("{c:?}"),
            };
            return Err(format!(
                "{shown}: {name} at position {} must be percent-encoded ({escape})",
                i + 1
            ));
        }
    }
    Ok(())
}

/// A route's path: exact (`/trace/1`) or a prefix ending in `*` (`/api/*`).
/// It matches the request's path alone, so it has no query, and `*`
/// appears only at its end.
pub fn route_path(path: &str) -> Result<PathMatch, String> {
    if !path.starts_with('/') {
        return Err("a path starts with '/'".into());
    }
    let (body, prefix) = match path.strip_suffix('*') {
        Some(body) => (body, true),
        None => (path, false),
    };
    if body.contains('*') {
        return Err("'*' only ends a prefix (\"/api/*\"); a route has no other wildcards".into());
    }
    if body.contains('?') {
        return Err(
            "a route matches the path alone, never the query: drop the '?' and what follows".into(),
        );
    }
    request_target(body).map_err(|e| {
        let why = e.split_once(": ").map_or(e.as_str(), |(_, why)| why);
        format!("not a path: {why}")
    })?;
    Ok(if prefix {
        PathMatch::Prefix(body.to_string())
    } else {
        PathMatch::Exact(body.to_string())
    })
}

/// Header names and values HTTP can carry, names lower-cased, none twice
/// and none of those tracelab writes itself.
pub fn headers(
    map: BTreeMap<String, String>,
    used: HeaderUse,
) -> Result<Vec<(String, String)>, String> {
    let reserved = match used {
        HeaderUse::Request => SET_ON_REQUESTS,
        HeaderUse::Reply => SET_ON_REPLIES,
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(map.len());
    let mut given: Vec<String> = Vec::with_capacity(map.len());
    for (name, value) in map {
        let parsed = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            format!(
                "headers: {name:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or ':')"
            )
        })?;
        let lower = parsed.as_str().to_string();
        if let Some((_, why)) = reserved.iter().find(|(r, _)| *r == lower) {
            return Err(format!("headers: {name:?} cannot be set: {why}"));
        }
        if let Some(i) = out.iter().position(|(n, _)| *n == lower) {
            return Err(format!(
                "headers: {name:?} is given twice (header names ignore case: {:?} is the same)",
                given[i]
            ));
        }
        if http::HeaderValue::from_str(&value).is_err() || value.trim() != value {
            return Err(format!(
                "headers: the value of {name:?}, {value:?}, is not a header value (visible ASCII and inner spaces only: no line breaks, control characters, non-ASCII text, or spaces at either end)"
            ));
        }
        out.push((lower, value));
        given.push(name);
    }
    Ok(out)
}

/// An HTTP method, `GET` when absent, upper-cased: a token that can carry
/// an origin-form request (so not `CONNECT`).
pub fn method(method: Option<String>) -> Result<String, String> {
    let method = method.unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
    if method.is_empty() || http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(format!("{method:?} is not an HTTP method"));
    }
    if method == "CONNECT" {
        return Err(
            "CONNECT opens a tunnel to a host:port, not a request to a path: tracelab cannot send it"
                .into(),
        );
    }
    Ok(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_targets_pass_and_others_say_what_to_encode() {
        for ok in [
            "/",
            "/trace/1",
            "/a%20b",
            "/search?q=a+b&n=1",
            "/p?x=/y?z",
            "/~u/(x);v=1:@!$'*,",
        ] {
            assert_eq!(request_target(ok), Ok(()), "{ok}");
        }
        let cases = [
            (
                "/s x<b>",
                "\"/s x<b>\" is not a request target: a space at position 3 must be percent-encoded (%20)",
            ),
            (
                "/a<b",
                "\"/a<b\" is not a request target: '<' at position 3 must be percent-encoded (%3C)",
            ),
            (
                "/a#top",
                "\"/a#top\" is not a request target: '#' (a fragment never reaches the server) at position 3 must be percent-encoded (%23)",
            ),
            (
                "/%zz",
                "\"/%zz\" is not a request target: '%' at position 2 must start an escape such as %20",
            ),
            (
                "/é",
                "\"/é\" is not a request target: 'é' at position 2 must be percent-encoded (%C3%A9)",
            ),
            ("x", "\"x\" is not a request target: it must start with '/'"),
        ];
        for (target, want) in cases {
            assert_eq!(request_target(target).unwrap_err(), want, "{target}");
        }
    }

    #[test]
    fn route_paths_are_exact_or_prefix_with_no_query_or_inner_wildcard() {
        assert_eq!(route_path("/*"), Ok(PathMatch::Prefix("/".into())));
        assert_eq!(route_path("/a/b"), Ok(PathMatch::Exact("/a/b".into())));
        assert!(
            route_path("/a*/b")
                .unwrap_err()
                .contains("'*' only ends a prefix")
        );
        assert!(
            route_path("/a?x=1")
                .unwrap_err()
                .contains("never the query")
        );
        assert_eq!(
            route_path("/a b").unwrap_err(),
            "not a path: a space at position 3 must be percent-encoded (%20)"
        );
        assert_eq!(route_path("a").unwrap_err(), "a path starts with '/'");
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn header_names_and_values_are_checked_and_names_lower_cased() {
        assert_eq!(
            headers(map(&[("X-Team", "a b")]), HeaderUse::Request),
            Ok(vec![("x-team".into(), "a b".into())])
        );
        let err = |pairs: &[(&str, &str)], used| headers(map(pairs), used).unwrap_err();
        assert!(
            err(&[("x team", "1")], HeaderUse::Request)
                .starts_with("headers: \"x team\" is not a header name")
        );
        assert!(
            err(&[("x-a", "1\r\nx-b: 2")], HeaderUse::Request).contains("is not a header value")
        );
        assert!(err(&[("x-a", " 1")], HeaderUse::Reply).contains("is not a header value"));
        assert_eq!(
            err(&[("X-Request-Id", "r")], HeaderUse::Request),
            "headers: \"X-Request-Id\" cannot be set: tracelab gives each request its own, to find its traces"
        );
        assert!(err(&[("traceresponse", "x")], HeaderUse::Reply).contains("cannot be set"));
        assert_eq!(
            err(&[("X-A", "1"), ("x-a", "2")], HeaderUse::Request),
            "headers: \"x-a\" is given twice (header names ignore case: \"X-A\" is the same)"
        );
        // A reply may set what a request may not, and the other way round.
        assert!(headers(map(&[("x-request-id", "r")]), HeaderUse::Reply).is_ok());
        assert!(headers(map(&[("traceresponse", "r")]), HeaderUse::Request).is_ok());
    }

    #[test]
    fn methods_are_tokens_upper_cased_and_not_connect() {
        assert_eq!(method(None).unwrap(), "GET");
        assert_eq!(method(Some("post".into())).unwrap(), "POST");
        assert_eq!(method(Some("PURGE".into())).unwrap(), "PURGE");
        assert!(
            method(Some("GE T".into()))
                .unwrap_err()
                .contains("is not an HTTP method")
        );
        assert!(
            method(Some(String::new()))
                .unwrap_err()
                .contains("is not an HTTP method")
        );
        assert!(
            method(Some("connect".into()))
                .unwrap_err()
                .starts_with("CONNECT opens a tunnel")
        );
    }
}
