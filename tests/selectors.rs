//! Structural selectors (`child`, `descendant`, `sibling`: TraceQL's `>`,
//! `>>`, `~`) in `expect_spans` and `expect_duration`, and closures as tag
//! and span predicates: they pick the spans they say on real traces, and a
//! closure that fails (an endless loop, an error, too much memory, no
//! bool) stops the run with exit code 2 at its place in the script.

mod common;

use std::path::Path;

use common::{path_str, render, run_text, scratch_scenario, stderr, tracelab};

/// front → api; api asks db and cache at once, then db again; db reads
/// from disk: per trace 2 db, 2 disk, 1 cache server spans.
const FAN_OUT: &str = r#"
proxy("front", #{ routes: [route("/*", #{ to: "api", operation: "handle" })] });
service("api", #{ routes: [route("/order", #{ calls: [
    parallel([request("db", "/q", #{ operation: "query" }), request("cache", "/get", #{ operation: "get" })]),
    request("db", "/q", #{ operation: "query" }),
] })] });
service("db", #{ routes: [route("/q", #{ calls: [request("disk", "/read", #{ operation: "read" })] })] });
service("cache", #{ routes: [route("/get")] });
service("disk", #{ routes: [route("/read")] });
traffic("t", #{ requests: 3, path: "/order" });
"#;

fn with(checks: &str) -> String {
    format!("{FAN_OUT}{checks}")
}

#[tokio::test]
async fn child_descendant_and_sibling_pick_the_spans_traceql_would() {
    let text = with(
        r#"
        // { front } >> { disk, server }: both disk reads, two hops below.
        expect_spans("t", span("front", "*").descendant(span("disk", "*", #{ kind: "server" })), #{ count: 2 });
        // { api handle, server } > { * }: its three client spans.
        expect_spans("t", span("api", "handle", #{ kind: "server" }).child(span("*", "*")), #{ count: 3 });
        // { api get, client } ~ { api query }: the two query calls beside it.
        expect_spans("t", span("api", "get", #{ kind: "client" }).sibling(span("api", "query")), #{ count: 2 });
        // Chained left to right: { front } > { api, server } > { * } ~ { api get }.
        expect_spans("t", descendant(span("front", "*"), span("api", "*", #{ kind: "server" })).child(span("*", "*")).sibling(span("api", "get")), #{ count: 1 });
        // Not directly below front: nothing.
        expect_spans("t", child(span("front", "*"), span("db", "*")), #{ count: 0, per: "traffic" });
        expect_duration("t", #{ spans: span("api", "*").child(span("db", "*")), max: lt("5s") });
        "#,
    );
    let (report, backend) = run_text("selectors.rhai", &text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
    let duration = report
        .outcomes
        .iter()
        .find(|o| o.name.contains("api * > db *"))
        .expect("the duration check names its selector");
    assert!(
        duration.observed.contains("(6 spans api * > db *)"),
        "two db server spans in each of 3 traces: {}",
        duration.observed
    );
}

#[tokio::test]
async fn a_wrong_structural_count_fails_naming_the_selector_as_traceql_reads() {
    let text = with(
        r#"expect_spans("t", span("api", "*", #{ kind: "server" }).descendant(span("disk", "*")), #{ count: 3 });"#,
    );
    let (report, backend) = run_text("selectors.rhai", &text).await;
    backend.stop().await;
    assert!(!report.passed);
    let failed = report.outcomes.iter().find(|o| !o.passed).unwrap();
    assert_eq!(
        failed.failures[0].expected,
        "exactly 3 spans api * (server) >> disk *"
    );
    assert_eq!(
        failed.failures[0].observed, "2 such spans",
        "two disk server spans (the client spans to disk are db's)"
    );
}

#[tokio::test]
async fn closures_judge_spans_and_tags_with_captured_values_and_the_scripts_functions() {
    let text = with(
        r#"
        let wanted = "/q";
        fn is_query(url) { url.ends_with("/q") }
        // A span predicate: the whole span as a map.
        expect_spans("t", span("*", "*", #{ where: |s| s.kind == "server" && s.service == "db"
            && s.tags["http.url"].ends_with(wanted) && s.duration_us >= 0 && !s.error }), #{ count: 2 });
        // A missing tag reads as (): `?.` and `??` say what then.
        expect_spans("t", span("*", "*", #{ where: |s| s.tags["no.such.tag"]?.starts_with("x") ?? false }), #{ count: 0, per: "traffic" });
        // A tag predicate gets the value; a span without the tag fails it.
        expect_spans("t", span("*", "*", #{ kind: "server", tags: #{ "http.url": |url| is_query(url) } }), #{ count: 2 });
        expect_spans("t", span("*", "*", #{ tags: #{ "http.status_code": |code| code == "200" } }), #{ count: 12 });
        // With a structural selector, in expect_traces too.
        expect_spans("t", span("api", "*", #{ where: |s| s.operation == "handle" }).child(span("*", "*")), #{ count: 3 });
        expect_traces("t", span("front", "handle", #{ where: |s| s.parent_id == () }), #{ mode: "loose" });
        "#,
    );
    let (report, backend) = run_text("closures.rhai", &text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
}

#[tokio::test]
async fn a_closure_that_says_no_fails_its_check_not_the_run() {
    let text =
        with(r#"expect_spans("t", span("db", "*", #{ where: |s| s.duration_us > 60_000_000 }));"#);
    let (report, backend) = run_text("closures.rhai", &text).await;
    backend.stop().await;
    assert!(!report.passed);
    let failed: Vec<_> = report.outcomes.iter().filter(|o| !o.passed).collect();
    assert_eq!(failed.len(), 1, "{}", render(&report));
    assert!(
        failed[0]
            .name
            .contains("db * where passes the closure at 11:19"),
        "{}",
        failed[0].name
    );
}

/// The scenario at `name` with `checks`, run by the binary: exit code and
/// stderr.
fn run_binary(name: &str, checks: &str) -> (i32, String, tempfile::TempDir) {
    let (dir, path) = scratch_scenario(name, &with(checks));
    let out = tracelab(&["run", "-q", path_str(&path)]);
    (out.status.code().unwrap_or(-1), stderr(&out), dir)
}

#[test]
fn a_closure_that_loops_forever_is_stopped_by_the_sandbox_with_exit_2_at_its_place() {
    let (code, err, _dir) = run_binary(
        "endless.rhai",
        "expect_spans(\"t\", span(\"*\", \"*\", #{ where: |s| {\n    let n = 0;\n    loop { n += 1; }\n} }));\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("endless.rhai:11:19: span(\"*\", \"*\"): where: the closure failed on span "),
        "{err}"
    );
    // Whichever sandbox limit comes first: operations, or wall time on a
    // loaded machine.
    assert!(
        err.contains("it ran too many operations (an endless loop?)")
            || err.contains("stopped: the closure ran longer than 5 s"),
        "{err}"
    );
}

#[test]
fn a_closure_that_errors_or_could_only_say_no_stops_the_run_with_exit_2() {
    let cases = [
        (
            r#"expect_spans("t", span("*", "*", #{ where: |s| s.tags["nope"].starts_with("/api") }));"#,
            "closures.rhai:11:63: span(\"*\", \"*\"): where: the closure failed on span ",
            "no function starts_with((), string)",
        ),
        (
            r#"expect_spans("t", span("*", "*", #{ where: |s| { let x = "ab"; loop { x += x; } } }));"#,
            "closures.rhai:11:19: ",
            "stopped: the closure holds more than the sandbox's 64.0 MiB of memory",
        ),
        (
            r#"expect_spans("t", span("*", "*", #{ where: |s| { service("x", #{}); true } }));"#,
            "closures.rhai:11:",
            "service(...) is not available in a closure",
        ),
        (
            r#"expect_spans("t", span("*", "*", #{ tags: #{ "http.url": |u| u.len() } }));"#,
            "closures.rhai:11:19: span(\"*\", \"*\"): tag \"http.url\": the closure failed",
            "it must return true or false, not an integer",
        ),
        (
            // Envoy's status is a string: in plain Rhai this is false for
            // every span, and `count: 0` would pass on nothing.
            r#"expect_spans("t", span("*", "*", #{ where: |s| s.tags["http.status_code"] >= 500 }), #{ count: 0, per: "traffic" });"#,
            "closures.rhai:11:",
            "`>=` compares a string with an integer, which is never true",
        ),
        (
            r#"expect_spans("t", span("*", "*", #{ where: |s| s.duraton_us >= 0 }), #{ count: 0, per: "traffic" });"#,
            "closures.rhai:11:",
            "a span has no field duraton_us: did you mean duration_us?",
        ),
        (
            r#"expect_spans("t", span("*", "*", #{ where: |s| throw "no such thing" }));"#,
            "closures.rhai:11:",
            "no such thing",
        ),
    ];
    for (check, place, what) in cases {
        let (code, err, _dir) = run_binary("closures.rhai", check);
        assert_eq!(code, 2, "{check}: {err}");
        assert!(err.contains(place), "{check}: {err}");
        assert!(err.contains(what), "{check}: {err}");
    }
}

#[test]
fn closures_and_selectors_that_cannot_work_are_refused_when_the_script_loads() {
    let cases = [
        (
            r#"span("*", "*", #{ where: 5 })"#,
            "span(\"*\", \"*\"): where is a closure, |span| ..., found i64",
        ),
        (
            r#"span("*", "*", #{ where: |a, b| true })"#,
            "span(\"*\", \"*\"): where: give a closure of one argument, |span| ...",
        ),
        (
            r#"span("*", "*", #{ tags: #{ k: || true } })"#,
            "span(\"*\", \"*\"): tag \"k\": give a closure of one argument, |value| ...",
        ),
        (
            r#"child(span("a", "*", [span("b", "*")]), span("c", "*"))"#,
            "child(...): its first selector: a selector matches single spans; drop its children",
        ),
        (
            r#"descendant(span("a", "*"), 5)"#,
            "descendant(...): its second selector: a selector is span(...) or child/descendant/sibling(...) of them, found i64",
        ),
    ];
    for (value, want) in cases {
        let text = format!("{FAN_OUT}let x = {value};\n");
        let err = tracelab::scenario::load::load_source(
            Path::new("bad.rhai"),
            &text,
            &Default::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("bad.rhai:11:"), "{value}: {err}");
        assert!(err.contains(want), "{value}: {err}");
    }
}

#[tokio::test]
async fn a_closure_written_in_a_module_runs_with_the_modules_own_functions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(
        dir.path().join("lib/picks.rhai"),
        "fn is_db(s) { s.service == \"db\" }\n\
         fn db_servers() {\n    span(\"*\", \"*\", #{ kind: \"server\", where: |s| is_db(s) })\n}\n\
         fn broken() {\n    span(\"*\", \"*\", #{ where: |s| s.nope.len() > 1 })\n}\n",
    )
    .unwrap();
    let path = dir.path().join("m.rhai");
    std::fs::write(
        &path,
        with("import \"lib/picks\" as picks;\nexpect_spans(\"t\", picks::db_servers(), #{ count: 2 });\n"),
    )
    .unwrap();
    let out = tracelab(&["run", "-q", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(
        &path,
        with("import \"lib/picks\" as picks;\nexpect_spans(\"t\", picks::broken());\n"),
    )
    .unwrap();
    let out = tracelab(&["run", "-q", path_str(&path)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("lib/picks.rhai:6:"),
        "the module's file and line: {err}"
    );
}
