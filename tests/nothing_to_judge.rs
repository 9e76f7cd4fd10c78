//! A verdict never passes on nothing: each way a run used to exit 0
//! without having sent, traced or judged what the script meant now fails,
//! naming the block and what happened (exit 1), or is refused at load
//! (exit 2). And answers count as k6 counts them: a status outside
//! 200-399, or no response, fails the run unless the scenario designed it
//! or names it with expect_responses.

mod common;

use common::*;

/// A front proxy routing `/api/*` to a service, and `tail` after it.
fn lab(tail: &str) -> String {
    format!(
        r#"proxy("front", #{{ routes: [route("/api/*", #{{ to: "api" }})] }});
service("api", #{{ routes: [route("/api/*")] }});
{tail}
"#
    )
}

/// `tracelab run` on `text`: exit code, stdout, stderr.
fn run(text: &str) -> (Option<i32>, String, String) {
    let (_dir, path) = scratch_scenario("s.rhai", text);
    let out = tracelab(&["run", path_str(&path)]);
    (out.status.code(), stdout(&out), stderr(&out))
}

#[test]
fn a_path_that_is_not_a_request_target_is_refused_at_load_with_exit_2() {
    let (code, out, err) = run(&lab(r#"traffic("t", #{ requests: 3, path: "/s x<b>" });"#));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains(
            "s.rhai:3:1: traffic(\"t\"): path \"/s x<b>\" is not a request target: \
             a space at position 3 must be percent-encoded (%20)"
        ),
        "{err}"
    );
}

#[test]
fn an_empty_predicate_list_is_refused_at_load_with_exit_2() {
    let (code, out, err) = run(&lab(r#"traffic("t", #{ path: "/api/x" });
expect_traces("t", span("front", "*", #{ tags: #{ "http.method": [] } }), #{ mode: "loose" });"#));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains(
            "s.rhai:4:20: span(\"front\", \"*\"): tag \"http.method\": an empty list of predicates checks nothing"
        ),
        "{err}"
    );
    let (code, _, err) = run(&lab(r#"traffic("t", #{ path: "/api/x" });
expect_traces("t", span("front", "*", #{ duration: [] }), #{ mode: "loose" });"#));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("duration: an empty list of bounds checks nothing"),
        "{err}"
    );
}

#[test]
fn a_block_every_request_of_which_got_404_fails_naming_the_status_and_the_missing_route() {
    let (code, out, err) = run(&lab(r#"traffic("t", #{ requests: 3, path: "/nope" });"#));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(
            "✘ every request answered as expected (t) — 0 of 3 requests answered as expected: 3×404"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "observed: 3 requests answered 404: front has no route for /nope (Envoy's 404, flag NR)"
        ),
        "{out}"
    );
    assert!(out.contains("FAIL"), "{out}");
}

#[test]
fn a_block_every_request_of_which_timed_out_has_nothing_to_judge() {
    let (code, out, err) = run(&lab(
        r#"traffic("t", #{ requests: 2, path: "/api/slow", timeout: "100ms" });"#,
    )
    .replace(
        r#"route("/api/*")"#,
        r#"route("/api/*", #{ latency: "2s" })"#,
    ));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(
            // How many of the cut-off requests' traces arrived by then
            // depends on the clock; that none was answered does not.
            "✘ the traffic left something to judge (t) — nothing to judge: 0 requests answered,"
        ),
        "{out}"
    );
    assert!(
        out.contains("observed: none of the 2 requests was answered (2×no response (timed out))"),
        "{out}"
    );
    assert!(
        out.contains(
            "observed: 2 requests got no response: timed out after 100ms, the traffic's timeout"
        ),
        "{out}"
    );
}

#[test]
fn a_block_whose_every_request_went_unsampled_has_nothing_to_judge() {
    let text = lab(r#"traffic("t", #{ requests: 3, path: "/api/x" });"#).replace(
        r#"proxy("front", #{"#,
        r#"proxy("front", #{ sampling: 0.0,"#,
    );
    let (code, out, err) = run(&text);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(
            "observed: the edge (front, sampling 0) sampled none of the 3 answered requests: \
             raise its sampling or send more requests"
        ),
        "{out}"
    );
}

#[test]
fn statuses_a_scenario_injects_pass_and_expect_responses_counts_them() {
    let text = r#"scenario("s", #{ seed: 11 });
proxy("front", #{ routes: [route("/*", #{ to: "api" })] });
service("api", #{ routes: [route("/", #{ fail: #{ status: 503, probability: 0.5 } })] });
traffic("t", #{ requests: 20, path: "/" });
expect_responses("t", #{ status: 503, at_least: 1, at_most: "90%" });
"#;
    let (code, _, err) = run(text);
    assert_eq!(code, Some(2), "one count only: {err}");
    assert!(
        err.contains("give one of exactly, at_least, at_most"),
        "{err}"
    );
    let text = text.replace("at_least: 1, ", "");
    let (_dir, path) = scratch_scenario("s.rhai", &text);
    let out = tracelab(&["run", "-v", path_str(&path)]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}{}", stderr(&out));
    assert!(
        report.contains("✔ at most 90% of the requests of \"t\" answered 503 — "),
        "{report}"
    );
    assert!(
        report.contains(
            "✔ every request answered as expected (t) — 20 of 20 requests answered as expected"
        ),
        "{report}"
    );
    // Without the fault, a 503 is unexpected, and expect_responses says so too.
    let strict = text.replace("fail: #{ status: 503, probability: 0.5 }", "status: 503");
    let strict = strict.replace("at_most: \"90%\"", "at_most: 5");
    let (code, out, err) = run(&strict);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("✘ at most 5 requests of \"t\" answered 503 — 20 of 20 requests answered 503"),
        "{out}"
    );
}

#[test]
fn a_program_that_answers_without_tracing_fails_reported_not_a_count_of_0_on_it() {
    let (dir, path) = scratch_scenario(
        "s.rhai",
        r#"proxy("front", #{ routes: [route("/*", #{ to: "inventory", operation: "checkStock" })] });
process("inventory", #{ cmd: ["python3", "silent.py"], propagation: "w3c" });
traffic("stock", #{ requests: 3, path: "/stock" });
expect_spans("stock", span("inventory", "*", #{ error: true }), #{ count: 0, per: "traffic", name: "inventory never errors" });
"#,
    );
    std::fs::write(dir.path().join("silent.py"), python_answering_200("")).unwrap();
    let out = tracelab(&["run", path_str(&path)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains(
            "✘ every component a call reached reported its span (stock) — 0 of 3 traces pass"
        ),
        "{text}"
    );
    assert!(
        text.contains("none: inventory answered 200 but reported no span of it in this trace"),
        "{text}"
    );
}
