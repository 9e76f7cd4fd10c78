//! The script API through the loader: what each function builds, and the
//! error (with its place) for each way of getting it wrong.

use std::path::Path;
use std::time::Duration;

use crate::scenario::load::{Limits, load_source};
use crate::scenario::model::{
    Abort, Action, Check, CompareOp, Count, CountScope, DurationTest, Latency, Measured,
    Propagation, Quantifier, Role, Scenario, Selector, Statistic, Step, TagOp, UpstreamPolicy,
};

/// A topology every test can build on: front → api → db.
const BASE: &str = r#"
proxy("front", #{ routes: [route("/*", #{ to: "api" })] });
service("api", #{ routes: [route("/", #{ calls: [request("db", "/")] })] });
service("db", #{ routes: [route("/")] });
traffic("t", #{ path: "/" });
"#;

fn load(text: &str) -> Result<Scenario, String> {
    load_source(Path::new("s.rhai"), text, &Limits::default()).map_err(|e| e.to_string())
}

fn with_base(text: &str) -> Result<Scenario, String> {
    load(&format!("{BASE}{text}"))
}

/// The error of a script, which must fail.
fn error(text: &str) -> String {
    load(text).expect_err("the script should be refused")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_seed_defaults_to_1_and_can_be_set() {
    assert_eq!(with_base("").unwrap().seed, 1);
    let s = load(&format!("scenario(\"x\", #{{ seed: 42 }});{BASE}")).unwrap();
    assert_eq!((s.name.as_str(), s.seed), ("x", 42));
    let err = error("scenario(\"x\", #{ sed: 42 });");
    assert!(
        err.contains("s.rhai:1:1: scenario(\"x\"): unknown field `sed`"),
        "{err}"
    );
}

#[test]
fn parallel_calls_become_one_step() {
    let s = load(
        r#"service("api", #{ routes: [route("/", #{ calls: [
            parallel([request("a", "/"), request("b", "/")]),
            request("c", "/"),
        ] })] });
        for n in ["a", "b", "c"] { service(n, #{ routes: [route("/")] }); }"#,
    )
    .unwrap();
    let Action::Respond(handler) = &s.components[0].routes[0].action else {
        panic!("a service route responds");
    };
    assert!(matches!(&handler.steps[0], Step::Parallel(calls) if calls.len() == 2));
    assert!(matches!(&handler.steps[1], Step::Call(c) if c.service == "c"));
}

#[test]
fn parallel_takes_only_requests() {
    let err = error("\nlet p = parallel([request(\"a\", \"/\"), 5]);");
    assert!(
        err.starts_with("s.rhai:2:9: parallel([...])[1] must be a request(...) value, found i64"),
        "{err}"
    );
    assert!(error("parallel([]);").contains("needs at least one request"));
    let err = error("route(\"/\", #{ calls: [\"svc\"] });");
    assert!(
        err.contains("calls[0] must be a request(...) or parallel([...]) value"),
        "{err}"
    );
}

#[test]
fn a_call_to_an_undeclared_service_inside_parallel_is_found() {
    let err = error(
        "service(\"a\", #{ routes: [route(\"/\", #{ calls: [parallel([\n  request(\"ghost\", \"/\")])] })] });",
    );
    assert!(err.starts_with("s.rhai:2:3: "), "{err}");
    assert!(err.contains("\"ghost\", which is not declared"), "{err}");
}

#[test]
fn latency_is_fixed_uniform_or_normal() {
    let s = load(
        r#"service("a", #{ routes: [
            route("/1", #{ latency: "10ms" }),
            route("/2", #{ latency: uniform("5ms", "20ms") }),
            route("/3", #{ latency: normal("10ms", "2ms"), fail: #{ status: 503, probability: 0.25 } }),
            route("/4", #{ fail: #{} }),
        ] });"#,
    )
    .unwrap();
    let faults: Vec<_> = s.components[0]
        .routes
        .iter()
        .map(|r| r.faults.clone())
        .collect();
    assert_eq!(faults[0].latency, Some(Latency::Fixed(ms(10))));
    assert_eq!(
        faults[1].latency,
        Some(Latency::Uniform {
            low: ms(5),
            high: ms(20)
        })
    );
    assert_eq!(
        faults[2].latency,
        Some(Latency::Normal {
            mean: ms(10),
            std_dev: ms(2)
        })
    );
    assert_eq!(
        faults[2].abort,
        Some(Abort {
            status: 503,
            probability: 0.25
        })
    );
    assert_eq!(
        faults[3].abort,
        Some(Abort {
            status: 500,
            probability: 1.0
        })
    );
}

#[test]
fn bad_faults_are_errors_at_their_place() {
    let cases = [
        (
            "route(\"/\", #{ latency: \"10 parsecs\" })",
            "route(\"/\"): latency: \"10 parsecs\" is not a duration",
        ),
        (
            "route(\"/\", #{ latency: 10 })",
            "latency is a duration (\"10ms\"), uniform(\"5ms\", \"20ms\") or normal(\"10ms\", \"2ms\"), found i64",
        ),
        (
            "uniform(\"20ms\", \"5ms\")",
            "uniform(\"20ms\", \"5ms\"): the low end is above the high end",
        ),
        (
            "route(\"/\", #{ fail: #{ status: 503, chance: 0.1 } })",
            "route(\"/\"): fail: unknown field `chance`, expected `status` or `probability`",
        ),
        (
            "route(\"/\", #{ fail: #{ probability: 1.5 } })",
            "probability must be from 0 to 1",
        ),
        (
            "route(\"/\", #{ fail: #{ status: 99 } })",
            "status 99 is not a reply status (200-599)",
        ),
        (
            "route(\"/\", #{ fail: 0.5 })",
            "`fail` is a map such as #{ status: 503, probability: 0.1 }",
        ),
    ];
    for (text, want) in cases {
        let err = error(&format!("\n  let r = {text};"));
        assert!(err.starts_with("s.rhai:2:"), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn upstream_policies_are_read_from_routes_and_requests() {
    let s = load(
        r#"proxy("p", #{ routes: [route("/*", #{ to: "a", timeout: "2s", retries: 2, per_try_timeout: "500ms" })] });
        service("a", #{ routes: [route("/", #{ calls: [request("a", "/x", #{ timeout: "50ms" })] })] });"#,
    )
    .unwrap();
    let Action::Forward { policy, .. } = &s.components[0].routes[0].action else {
        panic!("a proxy route forwards");
    };
    assert_eq!(
        *policy,
        UpstreamPolicy {
            timeout: Some(ms(2000)),
            retries: 2,
            per_try_timeout: Some(ms(500))
        }
    );
    let Action::Respond(handler) = &s.components[1].routes[0].action else {
        panic!("a service route responds");
    };
    assert_eq!(handler.steps[0].calls()[0].policy.timeout, Some(ms(50)));
}

#[test]
fn bad_policies_are_errors() {
    let cases = [
        (
            "route(\"/\", #{ to: \"a\", retries: 11 })",
            "at most 10 retries",
        ),
        (
            "route(\"/\", #{ to: \"a\", per_try_timeout: \"1s\" })",
            "per_try_timeout needs retries",
        ),
        (
            "route(\"/\", #{ timeout: \"1s\" })",
            "belong to a forwarding route",
        ),
        (
            "request(\"a\", \"/\", #{ timeout: \"0s\" })",
            "timeout must be above zero",
        ),
        (
            "request(\"a\", \"/\", #{ retry: 1 })",
            "unknown field `retry`",
        ),
    ];
    for (text, want) in cases {
        let err = error(&format!("let r = {text};"));
        assert!(err.starts_with("s.rhai:1:9: "), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn sampling_and_propagation_are_per_component() {
    let s = load(
        r#"proxy("p", #{ sampling: 0.5, propagation: ["w3c", "jaeger"], routes: [route("/*", #{ to: "a" })] });
        service("a", #{ propagation: "none", routes: [route("/")] });"#,
    )
    .unwrap();
    assert_eq!(s.components[0].sampling, 0.5);
    assert_eq!(s.components[1].sampling, 1.0);
    assert_eq!(s.components[1].propagation, Propagation::None);
    let err = error("proxy(\"p\", #{ sampling: 2, routes: [route(\"/*\", #{ to: \"p\" })] });");
    assert!(
        err.contains("proxy(\"p\"): sampling must be from 0 to 1"),
        "{err}"
    );
    let err = error("service(\"a\", #{ propagation: \"zipkin\", routes: [route(\"/\")] });");
    assert!(
        err.contains("unknown propagation \"zipkin\"; expected w3c, b3, b3-single, jaeger or none"),
        "{err}"
    );
}

#[test]
fn a_process_needs_a_command_and_runs_in_the_scenario_folder() {
    let s = load_source(
        Path::new("labs/p.rhai"),
        r#"process("api", #{ cmd: ["python3", "app.py"], env: #{ MODE: "test" }, ready_timeout: "3s" });
        traffic("t", #{ path: "/", to: "api" });"#,
        &Limits::default(),
    )
    .unwrap();
    let c = &s.components[0];
    assert_eq!(c.role, Role::Process);
    let program = c.program.as_ref().unwrap();
    assert_eq!(program.command, ["python3", "app.py"]);
    assert_eq!(program.env, [("MODE".to_string(), "test".to_string())]);
    assert_eq!(program.dir, Path::new("labs"));
    assert_eq!(program.ready_timeout, ms(3000));
    assert_eq!(s.traffic[0].target, "api");

    assert!(error("process(\"api\", #{ cmd: [] });").contains("cmd names the program"));
    assert!(error("process(\"api\", #{});").contains("missing field `cmd`"));
    let err = error("process(\"api\", #{ cmd: [\"x\"], routes: [] });");
    assert!(err.contains("unknown field `routes`"), "{err}");
}

#[test]
fn traffic_is_closed_or_open() {
    let s = with_base(r#"traffic("open", #{ rate: 20, duration: "1.5s", path: "/" });"#).unwrap();
    let open = s.traffic_block("open").unwrap();
    assert_eq!((open.rate, open.requests), (Some(20.0), 30));
    let cases = [
        ("#{ rate: 10, path: \"/\" }", "rate needs a duration"),
        (
            "#{ duration: \"1s\", path: \"/\" }",
            "duration needs a rate",
        ),
        (
            "#{ rate: 10, duration: \"1s\", requests: 5, path: \"/\" }",
            "not both",
        ),
        (
            "#{ rate: 0, duration: \"1s\", path: \"/\" }",
            "rate is requests per second, above 0",
        ),
        (
            "#{ rate: 0.1, duration: \"1s\", path: \"/\" }",
            "must come to between 1 and",
        ),
    ];
    for (opts, want) in cases {
        let err = error(&format!("traffic(\"x\", {opts});"));
        assert!(
            err.starts_with("s.rhai:1:1: traffic(\"x\"): "),
            "{opts}: {err}"
        );
        assert!(err.contains(want), "{opts}: {err}");
    }
}

#[test]
fn tags_take_values_predicates_and_lists_of_predicates() {
    let s = with_base(
        r#"expect_traces("t", span("*", "*", #{ tags: #{
            a: "x", b: 200, c: ne("y"), d: lt(500), e: [ge(200), le(299)],
            f: contains("z"), g: matches("^h"), h: exists(), i: absent(), j: eq(true),
        } }));"#,
    )
    .unwrap();
    let Check::TraceShape { pattern, .. } = &s.expectations[0].check else {
        panic!("a trace shape");
    };
    let ops: Vec<(&str, &TagOp)> = pattern
        .tags
        .iter()
        .map(|t| (t.key.as_str(), &t.op))
        .collect();
    assert_eq!(ops[0], ("a", &TagOp::Equals("x".into())));
    assert_eq!(ops[1], ("b", &TagOp::Equals("200".into())));
    assert_eq!(ops[2], ("c", &TagOp::NotEquals("y".into())));
    assert_eq!(ops[3], ("d", &TagOp::Compare(CompareOp::Lt, 500.0)));
    assert_eq!(ops[4], ("e", &TagOp::Compare(CompareOp::Ge, 200.0)));
    assert_eq!(ops[5], ("e", &TagOp::Compare(CompareOp::Le, 299.0)));
    assert_eq!(ops[6], ("f", &TagOp::Contains("z".into())));
    assert!(matches!(ops[7], ("g", TagOp::Matches(re)) if re.0.as_str() == "^h"));
    assert_eq!(ops[8], ("h", &TagOp::Exists));
    assert_eq!(ops[9], ("i", &TagOp::Absent));
    assert_eq!(ops[10], ("j", &TagOp::Equals("true".into())));
}

#[test]
fn misused_predicates_are_errors_at_their_place() {
    let cases = [
        ("matches(\"(\")", "matches(\"(\"): not a regular expression"),
        ("lt(\"fast\")", "lt(\"fast\"): \"fast\" is not a duration"),
        (
            "lt([1])",
            "lt(...) takes a number (lt(500)) or a duration (lt(\"50ms\")), found array",
        ),
        (
            "span(\"a\", \"b\", #{ tags: #{ x: lt(\"5ms\") } })",
            "tag \"x\": lt(\"5ms\") compares a duration",
        ),
        (
            "span(\"a\", \"b\", #{ duration: lt(5) })",
            "duration: lt(5) is not a duration bound",
        ),
        (
            "span(\"a\", \"b\", #{ duration: \"5ms\" })",
            "a duration bound is lt(\"50ms\"), le(...), gt(...) or ge(...), found string",
        ),
        (
            "span(\"a\", \"b\", #{ tags: 5 })",
            "tags is a map of tag → value or predicate, found i64",
        ),
        (
            "span(\"a\", \"b\", #{ tag: #{} })",
            "unknown field `tag`, expected one of `kind`, `error`, `tags`, `duration`",
        ),
    ];
    for (text, want) in cases {
        let err = error(&format!("\n\nlet x = {text};"));
        assert!(err.starts_with("s.rhai:3:9: "), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn span_duration_bounds_are_read() {
    let s = with_base(
        r#"expect_traces("t", span("db", "*", #{ duration: [gt("1ms"), lt("50ms")] }), #{ mode: "loose" });"#,
    )
    .unwrap();
    let Check::TraceShape { pattern, .. } = &s.expectations[0].check else {
        panic!("a trace shape");
    };
    assert_eq!(
        pattern.duration,
        [
            DurationTest {
                op: CompareOp::Gt,
                bound: ms(1)
            },
            DurationTest {
                op: CompareOp::Lt,
                bound: ms(50)
            },
        ]
    );
}

#[test]
fn expect_spans_counts_per_trace_or_per_traffic() {
    let s = with_base(
        r#"expect_spans("t", span("db", "*"));
        expect_spans("t", span("db", "*"), #{ count: 2 });
        expect_spans("t", span("db", "*"), #{ at_most: 3, per: "traffic", name: "few" });"#,
    )
    .unwrap();
    let counts: Vec<(Count, CountScope)> = s
        .expectations
        .iter()
        .map(|e| match &e.check {
            Check::SpanCount { count, scope, .. } => (*count, *scope),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        counts,
        [
            (Count::AtLeast(1), CountScope::EachTrace),
            (Count::Exactly(2), CountScope::EachTrace),
            (Count::AtMost(3), CountScope::Traffic),
        ]
    );
    assert_eq!(s.expectations[2].name, "few");
    let err = error("expect_spans(\"t\", span(\"a\", \"b\"), #{ count: 1, at_least: 2 });");
    assert!(
        err.contains("give one of count, at_least, at_most"),
        "{err}"
    );
    let err = error("expect_spans(\"t\", span(\"a\", \"b\"), #{ per: \"request\" });");
    assert!(
        err.contains("per is \"trace\" (each trace) or \"traffic\""),
        "{err}"
    );
    let err = error("expect_spans(\"t\", span(\"a\", \"b\", [span(\"c\", \"d\")]));");
    assert!(
        err.contains("a selector matches single spans; drop its children"),
        "{err}"
    );
}

#[test]
fn expect_broken_takes_a_quantifier() {
    let s = with_base("expect_broken(\"t\");\nexpect_broken(\"t\", #{ at_least: 2 });").unwrap();
    assert_eq!(
        s.expectations[0].check,
        Check::BrokenPropagation {
            quantifier: Quantifier::All
        }
    );
    assert_eq!(
        s.expectations[1].check,
        Check::BrokenPropagation {
            quantifier: Quantifier::AtLeast(2)
        }
    );
    assert!(
        error("expect_broken(\"t\", #{ quantifier: \"most\" });")
            .contains("quantifier is \"all\", \"any\" or \"none\"")
    );
}

#[test]
fn expect_duration_reads_statistics_and_bounds() {
    let s = with_base(
        r#"expect_duration("t", #{ p99: lt("50ms"), "p99.9": lt("80ms"), each: [gt("1ms"), lt("1s")], mean: le("20ms"), spans: span("db", "*") });"#,
    )
    .unwrap();
    let Check::Duration { measured, bounds } = &s.expectations[0].check else {
        panic!("a duration check");
    };
    assert!(
        matches!(measured, Measured::Spans(Selector::Span(p)) if p.service.as_deref() == Some("db"))
    );
    let stats: Vec<Statistic> = bounds.iter().map(|b| b.statistic).collect();
    assert!(stats.contains(&Statistic::Percentile(99.0)));
    assert!(stats.contains(&Statistic::Percentile(99.9)));
    assert_eq!(stats.iter().filter(|s| **s == Statistic::Each).count(), 2);
    assert!(stats.contains(&Statistic::Mean));

    let cases = [
        (
            "#{ \"p100.5\": lt(\"1s\") }",
            "unknown key `p100.5`; expected one of each, min, max, mean, pNN",
        ),
        (
            "#{ p99: \"50ms\" }",
            "p99: a duration bound is lt(\"50ms\")",
        ),
        ("#{ name: \"x\" }", "give at least one bound"),
        (
            "#{ spans: 5, max: lt(\"1s\") }",
            "spans: a selector is span(...) or child/descendant/sibling(...) of them, found i64",
        ),
    ];
    for (opts, want) in cases {
        let err = error(&format!("expect_duration(\"t\", {opts});"));
        assert!(
            err.starts_with("s.rhai:1:1: expect_duration(\"t\"): "),
            "{opts}: {err}"
        );
        assert!(err.contains(want), "{opts}: {err}");
    }
}

#[test]
fn integrity_switches_apply_to_one_block_or_all() {
    let s = with_base(
        r#"traffic("u", #{ path: "/" });
        integrity(#{ orphans: false });
        integrity("t", #{ time_window: false, orphans: true });"#,
    )
    .unwrap();
    let t = s.traffic_block("t").unwrap().integrity;
    let u = s.traffic_block("u").unwrap().integrity;
    assert!(!t.time_window && t.orphans && t.propagation);
    assert!(u.time_window && !u.orphans);
    let err = with_base("\nintegrity(\"nope\", #{ orphans: false });").unwrap_err();
    assert!(
        err.contains("s.rhai:7:1: integrity(...) refers to traffic \"nope\""),
        "{err}"
    );
    let err = error("integrity(#{ orphan: false });");
    assert!(err.contains("unknown field `orphan`"), "{err}");
}

#[test]
fn a_script_error_inside_a_helper_function_points_into_the_helper() {
    let err = error(
        "fn faulty() {\n    uniform(\"1s\", \"1ms\")\n}\nroute(\"/\", #{ latency: faulty() });",
    );
    assert!(err.starts_with("s.rhai:2:5: "), "{err}");
}

#[test]
fn every_operation_the_mesh_can_name_a_span_is_accepted_in_a_pattern() {
    // front's route has no operation: `egress <host>`; api's call none:
    // `egress db`; db's server span named by a traffic header.
    let script = format!(
        "{BASE}{}",
        r#"traffic("direct", #{ to: "db", path: "/", headers: #{ "x-envoy-decorator-operation": "direct" } });
        expect_spans("t", span("front", "egress 127.0.0.1:8000"), #{ count: 0 });
        expect_spans("t", span("api", "egress db"), #{ count: 0 });
        expect_spans("t", span("api", "ingress"), #{ count: 0 });
        expect_spans("direct", span("db", "direct"), #{ count: 0 });
        expect_spans("t", span("*", "egress db"), #{ count: 0 });
        "#
    );
    load(&script).unwrap();
}

#[test]
fn an_operation_no_span_can_have_is_refused_unless_a_program_could_name_it() {
    let err = error(&format!(
        r#"{BASE}expect_spans("t", span("db", "egress api"), #{{ count: 0 }});"#
    ));
    assert!(
        err.contains(r#"no span of "db" (a service) can have operation "egress api""#),
        "{err}"
    );
    // A program may call db with any decorator: db's names are open.
    load(&format!(
        r#"{BASE}process("app", #{{ cmd: ["true"] }});
        expect_spans("t", span("db", "egress api"), #{{ count: 0 }});"#
    ))
    .unwrap();
}

#[test]
fn a_callee_continues_a_callers_trace_only_through_a_format_both_speak() {
    let s = load(
        r#"
        proxy("edge", #{ routes: [route("/*", #{ to: "api" })] });
        proxy("closed", #{ propagation: "none", routes: [route("/*", #{ to: "api" })] });
        service("api", #{ routes: [route("/")] });
        service("jaeger-only", #{ propagation: ["jaeger"], routes: [route("/")] });
        service("drops", #{ propagation: "none", routes: [route("/")] });
        process("app", #{ cmd: ["true"], propagation: "w3c" });
        process("deaf", #{ cmd: ["true"], propagation: "none" });
        traffic("t", #{ to: "edge", path: "/" });
        "#,
    )
    .unwrap();
    let c = |name: &str| s.component(name).unwrap();
    assert!(c("api").continues(c("edge")));
    assert!(c("app").continues(c("edge")), "w3c is one of the defaults");
    assert!(!c("jaeger-only").continues(c("edge")));
    // A sidecar reads context whatever its app does, and writes it too.
    assert!(c("drops").continues(c("edge")));
    assert!(c("api").continues(c("drops")));
    assert!(
        !c("closed").continues(c("api")),
        "a proxy that drops context"
    );
    assert!(!c("deaf").continues(c("edge")));
}

#[test]
fn an_operation_of_the_wrong_kind_is_refused_in_a_check_that_holds_on_nothing() {
    let err = error(&format!(
        r#"{BASE}expect_spans("t", span("db", "ingress", #{{ kind: "client" }}), #{{ count: 0 }});"#
    ));
    assert!(
        err.contains(r#"no client span of "db" (a service) can have operation "ingress""#),
        "{err}"
    );
    assert!(
        err.contains(r#"its server spans are named "ingress""#),
        "{err}"
    );
    let err = error(&format!(
        r#"{BASE}expect_spans("t", span("api", "egress db", #{{ kind: "internal" }}), #{{ count: 0 }});"#
    ));
    assert!(err.contains("it makes no spans of other kinds"), "{err}");
    load(&format!(
        r#"{BASE}expect_spans("t", span("api", "egress db", #{{ kind: "client" }}), #{{ count: 0 }});
        expect_spans("t", span("front", "egress x", #{{ kind: "client" }}), #{{ count: 0 }});"#
    ))
    .unwrap();
}
