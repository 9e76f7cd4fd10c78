//! Which tags a recording keeps. A tag whose value changes from run to run
//! (ids, timestamps, host names and addresses, ports, sizes, durations,
//! library versions) would make the recording fail the next run, so it is
//! left out, by its name or by the look of its value; a URL keeps only its
//! path, as a `contains(...)` predicate (its host and port are the run's).
//! Tags the pattern says otherwise (`span.kind`, `error`) are left out too.

/// What a recording says of one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// The tag equals this text.
    Equals(String),
    /// The tag's text contains this (a URL's path).
    Contains(String),
}

/// Tags that say what happened, not what it was: part of a shape's
/// identity, so a 503 trace and a 200 trace are two shapes.
pub const OUTCOME_TAGS: &[&str] = &[
    "http.status_code",
    "http.response.status_code",
    "response_flags",
    "rpc.grpc.status_code",
    "otel.status_code",
];

/// The tag as a recording keeps it, or `None` to leave it out.
pub fn keep(key: &str, value: &str) -> Option<Kept> {
    if volatile_key(key) {
        return None;
    }
    if is_url_key(key) {
        return url_path(value).map(Kept::Contains);
    }
    if volatile_value(value) {
        return None;
    }
    Some(Kept::Equals(value.to_string()))
}

/// Keys whose values are ids, addresses, sizes, times or versions, or
/// that the pattern states in other words.
fn volatile_key(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "span.kind",
        "error",
        "internal.span.format",
        "peer.address",
        "peer.hostname",
        "peer.ipv4",
        "peer.ipv6",
        "peer.port",
        "hostname",
        "http.host",
        "http.client_ip",
        "http.server_name",
        "http.user_agent",
        "user_agent",
        "upstream_service_time",
        "guid:x-request-id",
        "x-request-id",
        "request_size",
        "response_size",
        "tracelab.measured_duration_us",
    ];
    const PREFIXES: &[&str] = &[
        "net.",
        "network.",
        "client.",
        "server.",
        "host.",
        "user_agent.",
        "thread.",
        "process.",
        "code.",
        "telemetry.",
        "exception.",
    ];
    const SUFFIXES: &[&str] = &[
        "id",
        ".version",
        "_version",
        "size",
        ".length",
        "_length",
        ".duration",
        "_duration",
        "_ms",
        "_us",
        "_ns",
        ".time",
        "_time",
        "timestamp",
        ".port",
        "_port",
        ".address",
        "_address",
        ".ip",
        "_ip",
    ];
    let key = key.to_ascii_lowercase();
    EXACT.contains(&key.as_str())
        || PREFIXES.iter().any(|p| key.starts_with(p))
        || SUFFIXES.iter().any(|s| key.ends_with(s))
}

fn is_url_key(key: &str) -> bool {
    matches!(key, "http.url" | "url.full" | "http.target" | "url.path")
}

/// A URL's path (with its query), or the value itself when it is one.
fn url_path(value: &str) -> Option<String> {
    let rest = match value.split_once("://") {
        Some((_, rest)) => rest,
        None => return value.starts_with('/').then(|| value.to_string()),
    };
    Some(match rest.find('/') {
        Some(i) => rest[i..].to_string(),
        None => "/".to_string(),
    })
}

/// Values that look like ids, addresses or times whatever their key says.
fn volatile_value(value: &str) -> bool {
    let v = value.trim();
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    // A UUID, a trace or span id.
    let uuid = v.len() == 36 && v.split('-').map(str::len).eq([8, 4, 4, 4, 12]);
    let long_hex = v.len() >= 16 && hex(v);
    // 10.0.0.2, 10.0.0.2:8000, host:34567, [::1]:80
    let ip = v.parse::<std::net::IpAddr>().is_ok() || v.parse::<std::net::SocketAddr>().is_ok();
    let host_port = v.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && port.len() >= 2 && port.parse::<u16>().is_ok()
    });
    // 2024-05-01T10:00:00Z
    let timestamp = v.len() >= 19
        && v.as_bytes()[4] == b'-'
        && v.as_bytes()[10] == b'T'
        && v[..4].chars().all(|c| c.is_ascii_digit());
    uuid || long_hex || ip || host_port || timestamp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_tags_are_kept_as_they_are() {
        for (key, value) in [
            ("http.status_code", "200"),
            ("component", "proxy"),
            ("upstream_cluster", "service2"),
            ("response_flags", "-"),
            ("otel.scope.name", "opentelemetry.instrumentation.flask"),
            ("http.route", "/trace/1"),
            ("http.method", "GET"),
        ] {
            assert_eq!(keep(key, value), Some(Kept::Equals(value.into())), "{key}");
        }
    }

    #[test]
    fn ids_addresses_sizes_times_and_versions_are_left_out() {
        for (key, value) in [
            ("guid:x-request-id", "c6f2d4b0-9a7e-4c1b-8d2e-1f0a9b8c7d6e"),
            ("peer.address", "127.0.0.1"),
            ("net.peer.port", "41400"),
            ("http.host", "127.0.0.1:15001"),
            ("request_size", "0"),
            ("response_size", "68"),
            ("otel.scope.version", "0.66b1"),
            ("user_agent", "tracelab/0.1.0"),
            ("node_id", "db"),
            ("span.kind", "client"),
            ("error", "true"),
            ("anything", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("anything", "10.1.2.3:8080"),
            ("anything", "shop.internal:8080"),
            ("anything", "2024-05-01T10:00:00.123Z"),
        ] {
            assert_eq!(keep(key, value), None, "{key}={value}");
        }
    }

    #[test]
    fn a_url_keeps_its_path() {
        assert_eq!(
            keep("http.url", "http://127.0.0.1:45419/trace/2?x=1"),
            Some(Kept::Contains("/trace/2?x=1".into()))
        );
        assert_eq!(
            keep("http.url", "http://disk"),
            Some(Kept::Contains("/".into()))
        );
        assert_eq!(
            keep("http.target", "/trace/1"),
            Some(Kept::Contains("/trace/1".into()))
        );
        assert_eq!(keep("http.url", "not a url"), None);
    }
}
