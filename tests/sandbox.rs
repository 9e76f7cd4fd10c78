//! The Jaeger sandbox end to end, through the real binary: the scenario
//! passes, a wrong shape fails with exit 1 and names the span, and bad input
//! gets exit 2 or 3 with a clear message.

mod common;

use common::*;

#[test]
fn the_sandbox_scenario_passes_with_exit_0() {
    let out = tracelab(&["scenarios/jaeger.rhai"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("10 requests, 10×200"), "{text}");
    assert!(text.contains("10 traces, 40 spans"), "{text}");
    assert!(
        text.contains("✔ every sandbox request is the 4-span chain"),
        "{text}"
    );
    assert!(text.contains("PASS"), "{text}");
}

#[test]
fn a_wrong_expected_shape_exits_1_and_names_the_span_that_differs() {
    let text = sandbox_with(
        r#"span("service2", "checkStock", #{ kind: "server""#,
        r#"span("service2", "checkStok", #{ kind: "server""#,
    );
    let (_dir, path) = scratch_scenario("wrong.rhai", &text);
    let out = tracelab(&[path_str(&path)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("✘ every sandbox request is the 4-span chain"),
        "{text}"
    );
    assert!(text.contains("0 of 10 traces match"), "{text}");
    assert!(text.contains("at service1 checkStock (client) ["), "{text}");
    assert!(
        text.contains("expected: children: service2 checkStok (server)"),
        "{text}"
    );
    assert!(
        text.contains(
            "observed: no child service2 checkStok (server); instead: service2 checkStock (server)"
        ),
        "{text}"
    );
    assert!(text.contains("FAIL"), "{text}");
}

#[test]
fn a_syntax_error_exits_2_with_file_line_and_column() {
    let text = sandbox_with("traffic(\"sandbox\", #{", "traffic(\"sandbox\" #{");
    let (_dir, path) = scratch_scenario("broken.rhai", &text);
    let out = tracelab(&[path_str(&path)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let line = text
        .lines()
        .position(|l| l.starts_with("traffic("))
        .unwrap()
        + 1;
    let expected = format!("{}:{line}:19: ", path.display());
    assert!(err.contains(&expected), "want {expected:?} in {err}");
    assert!(stdout(&out).is_empty(), "nothing runs: {}", stdout(&out));
}

#[test]
fn a_route_to_an_unknown_service_exits_2_naming_the_known_ones() {
    let text = sandbox_with(r#"to: "service1""#, r#"to: "servce1""#);
    let (_dir, path) = scratch_scenario("typo.rhai", &text);
    let out = tracelab(&[path_str(&path)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("forwards to \"servce1\", which is not declared"),
        "{err}"
    );
    assert!(
        err.contains("(components: front-proxy, service1, service2)"),
        "{err}"
    );
}

#[test]
fn a_port_in_use_exits_3_and_says_which_component_wanted_it() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let text = sandbox_with("port: 8000", &format!("port: {port}"));
    let (_dir, path) = scratch_scenario("taken.rhai", &text);
    let out = tracelab(&["run", "--fixed-ports", path_str(&path)]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("front-proxy cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("already in use"), "{err}");
    drop(held);
}

#[test]
fn an_unreachable_collector_exits_3_with_what_to_check() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = tracelab(&[
        "run",
        "--jaeger-url",
        &url,
        "--otlp-endpoint",
        &url,
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("did not answer"), "{err}");
    assert!(err.contains("is Jaeger running"), "{err}");
}

#[test]
fn an_otlp_endpoint_that_is_not_a_url_stops_serve_at_start_with_exit_3() {
    let out = tracelab(&[
        "serve",
        "scenarios/jaeger.rhai",
        "--port",
        "front-proxy=0",
        "--port",
        "service1=0",
        "--port",
        "service2=0",
        "--otlp-endpoint",
        "http://jae ger:4318",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("invalid endpoint 'http://jae ger:4318/v1/traces'"),
        "{err}"
    );
    assert!(!stdout(&out).contains("ready"), "{}", stdout(&out));
}

#[test]
fn a_missing_scenario_file_exits_2() {
    let out = tracelab(&["scenarios/nope.rhai"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read the scenario scenarios/nope.rhai"));
}

#[test]
fn check_validates_without_running() {
    let out = tracelab(&["check", "scenarios/jaeger.rhai"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out)
            .contains("scenarios/jaeger.rhai: ok (3 components, 1 traffic blocks, 2 expectations)")
    );
}

#[test]
fn help_teaches_the_commands_and_exit_codes() {
    let out = tracelab(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("tracelab scenarios/jaeger.rhai"), "{text}");
    assert!(
        text.contains("Exit codes: 0 all checks passed, 1 a check failed"),
        "{text}"
    );
}
