use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};

use super::*;
use crate::jaeger::model::{KeyValue, Process, RefType, Reference, Span};

/// (span id, parent id, service, operation, kind, start µs, end µs).
pub(crate) type Row<'a> = (
    &'a str,
    Option<&'a str>,
    &'a str,
    &'a str,
    &'a str,
    u64,
    u64,
);

/// A trace from rows.
pub(crate) fn timed(rows: &[Row<'_>]) -> Trace {
    let mut processes = BTreeMap::new();
    let spans = rows
        .iter()
        .map(|&(id, parent, service, op, kind, start, end)| {
            let pid = format!("p-{service}");
            processes.insert(
                pid.clone(),
                Process {
                    service_name: service.into(),
                    tags: vec![],
                },
            );
            Span {
                trace_id: "t".into(),
                span_id: id.into(),
                flags: 1,
                operation_name: op.into(),
                references: parent
                    .map(|p| {
                        vec![Reference {
                            ref_type: RefType::ChildOf,
                            trace_id: "t".into(),
                            span_id: p.into(),
                        }]
                    })
                    .unwrap_or_default(),
                start_time: start,
                duration: end - start,
                tags: vec![KeyValue::string("span.kind", kind)],
                logs: vec![],
                process_id: pid,
                warnings: None,
            }
        })
        .collect();
    Trace {
        trace_id: "t".into(),
        spans,
        processes,
        warnings: None,
    }
}

/// scenarios/fan-out.rhai's shape with round timings: the shop's client
/// span, the API's server span, three parallel calls (pricing the slowest),
/// then recommendations.
pub(crate) fn fan_out() -> Trace {
    timed(&[
        ("shop", None, "shop", "productPage", "client", 0, 100),
        ("api", Some("shop"), "api", "productPage", "server", 5, 95),
        ("c-item", Some("api"), "api", "getItem", "client", 10, 40),
        (
            "s-item",
            Some("c-item"),
            "catalog",
            "getItem",
            "server",
            12,
            38,
        ),
        ("c-price", Some("api"), "api", "getPrice", "client", 10, 50),
        (
            "s-price",
            Some("c-price"),
            "pricing",
            "getPrice",
            "server",
            12,
            48,
        ),
        ("c-rev", Some("api"), "api", "getReviews", "client", 10, 30),
        (
            "s-rev",
            Some("c-rev"),
            "reviews",
            "getReviews",
            "server",
            12,
            28,
        ),
        ("c-sim", Some("api"), "api", "getSimilar", "client", 52, 80),
        (
            "s-sim",
            Some("c-sim"),
            "recommendations",
            "getSimilar",
            "server",
            54,
            78,
        ),
    ])
}

/// The path as (span id, start, end).
fn path(trace: &Trace) -> Vec<(String, u64, u64)> {
    TraceTimes::of(trace)
        .sections
        .iter()
        .map(|s| (trace.spans[s.span].span_id.clone(), s.start_us, s.end_us))
        .collect()
}

fn expect(rows: &[(&str, u64, u64)]) -> Vec<(String, u64, u64)> {
    rows.iter()
        .map(|&(id, s, e)| (id.to_string(), s, e))
        .collect()
}

#[test]
fn fan_out_critical_path_matches_the_hand_computed_one() {
    // By hand: the shop waits for the API; the API's last call
    // (recommendations) ends last; before it started (52), the slowest of
    // the parallel three (pricing, ended 50) held the path; before those
    // started, the API and the shop themselves.
    let trace = fan_out();
    assert_eq!(
        path(&trace),
        expect(&[
            ("shop", 0, 5),
            ("api", 5, 10),
            ("c-price", 10, 12),
            ("s-price", 12, 48),
            ("c-price", 48, 50),
            ("api", 50, 52),
            ("c-sim", 52, 54),
            ("s-sim", 54, 78),
            ("c-sim", 78, 80),
            ("api", 80, 95),
            ("shop", 95, 100),
        ])
    );
    let times = TraceTimes::of(&trace);
    assert_eq!(times.total_critical_us(), 100, "one root: its whole time");
    let shares: Vec<(String, u64)> = times
        .by_service(&trace)
        .into_iter()
        .map(|s| (s.service, s.critical_us))
        .collect();
    assert_eq!(
        shares,
        [
            ("pricing".to_string(), 36),
            ("api".to_string(), 30),
            ("recommendations".to_string(), 24),
            ("shop".to_string(), 10),
        ]
    );
    // catalog and reviews finished early: never on the path.
    for id in ["c-item", "s-item", "c-rev", "s-rev"] {
        let i = trace.spans.iter().position(|s| s.span_id == id).unwrap();
        assert_eq!(times.critical_us[i], 0, "{id}");
    }
}

#[test]
fn self_time_is_the_span_less_its_childrens_union() {
    let trace = fan_out();
    let times = TraceTimes::of(&trace);
    let self_of =
        |id: &str| times.self_us[trace.spans.iter().position(|s| s.span_id == id).unwrap()];
    // The API ran 90 µs; its calls covered 10..50 and 52..80 (the three
    // parallel ones overlap and count once): 68 µs.
    assert_eq!(self_of("api"), 22);
    assert_eq!(self_of("shop"), 10);
    assert_eq!(self_of("c-price"), 4);
    assert_eq!(self_of("s-price"), 36, "a leaf's self time is its duration");
}

#[test]
fn a_sequential_chain_steps_down_and_back_up() {
    let trace = timed(&[
        (
            "a",
            None,
            "front-proxy",
            "checkAvailability",
            "client",
            0,
            2000,
        ),
        (
            "b",
            Some("a"),
            "service1",
            "checkAvailability",
            "server",
            100,
            1900,
        ),
        (
            "c",
            Some("b"),
            "service1",
            "checkStock",
            "client",
            300,
            1500,
        ),
        (
            "d",
            Some("c"),
            "service2",
            "checkStock",
            "server",
            500,
            1100,
        ),
    ]);
    assert_eq!(
        path(&trace),
        expect(&[
            ("a", 0, 100),
            ("b", 100, 300),
            ("c", 300, 500),
            ("d", 500, 1100),
            ("c", 1100, 1500),
            ("b", 1500, 1900),
            ("a", 1900, 2000),
        ])
    );
}

#[test]
fn a_child_overlapping_the_last_finishing_one_is_off_the_path() {
    // b ends last; before b started (40) no child had ended (a ends at 60).
    let trace = timed(&[
        ("p", None, "s", "p", "server", 0, 100),
        ("a", Some("p"), "s", "a", "client", 10, 60),
        ("b", Some("p"), "s", "b", "client", 40, 80),
    ]);
    assert_eq!(
        path(&trace),
        expect(&[("p", 0, 40), ("b", 40, 80), ("p", 80, 100)])
    );
}

#[test]
fn children_outside_their_parent_are_cut_or_dropped() {
    // c overhangs both ends of b (clock skew): cut to b's time; d lies
    // wholly after b, e wholly before it: dropped, with d's child.
    let trace = timed(&[
        ("a", None, "s", "a", "client", 0, 100),
        ("b", Some("a"), "s", "b", "server", 20, 60),
        ("c", Some("b"), "t", "c", "server", 10, 90),
        ("d", Some("b"), "t", "d", "server", 70, 95),
        ("d2", Some("d"), "t", "d2", "server", 75, 80),
        ("e", Some("b"), "t", "e", "server", 0, 15),
    ]);
    assert_eq!(
        path(&trace),
        expect(&[("a", 0, 20), ("c", 20, 60), ("a", 60, 100)])
    );
}

#[test]
fn a_consumer_does_not_block_its_producer() {
    let trace = timed(&[
        ("api", None, "api", "order", "server", 0, 50),
        ("send", Some("api"), "api", "publish", "producer", 10, 20),
        (
            "recv",
            Some("send"),
            "worker",
            "consume",
            "consumer",
            15,
            45,
        ),
    ]);
    assert_eq!(
        path(&trace),
        expect(&[("api", 0, 10), ("send", 10, 20), ("api", 20, 50)])
    );
}

#[test]
fn every_root_gets_its_own_path_in_start_order() {
    // "o" lost its parent (never arrived): a second root.
    let trace = timed(&[
        ("o", Some("missing"), "s2", "late", "server", 200, 260),
        ("r", None, "s1", "first", "server", 0, 100),
        ("r1", Some("r"), "s1", "call", "client", 20, 40),
    ]);
    assert_eq!(
        path(&trace),
        expect(&[
            ("r", 0, 20),
            ("r1", 20, 40),
            ("r", 40, 100),
            ("o", 200, 260)
        ])
    );
}

#[test]
fn zero_length_spans_and_equal_ends_do_not_loop() {
    let trace = timed(&[
        ("p", None, "s", "p", "server", 0, 10),
        ("z", Some("p"), "s", "z", "client", 10, 10),
        ("y", Some("p"), "s", "y", "client", 4, 10),
        ("x", Some("p"), "s", "x", "client", 5, 5),
    ]);
    // z starts at the parent's end: dropped. y ends with the parent and
    // holds 4..10; x (5..5) never ended before 4; p holds 0..4.
    assert_eq!(path(&trace), expect(&[("p", 0, 4), ("y", 4, 10)]));
    let zero = timed(&[("only", None, "s", "op", "server", 7, 7)]);
    assert!(TraceTimes::of(&zero).sections.is_empty());
}

#[test]
fn a_chain_a_hundred_thousand_deep_does_not_overflow_the_stack() {
    let ids: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
    let rows: Vec<_> = (0..ids.len())
        .map(|i| {
            let parent = (i > 0).then(|| ids[i - 1].as_str());
            (
                ids[i].as_str(),
                parent,
                "s",
                "op",
                "server",
                i as u64,
                1_000_000 - i as u64,
            )
        })
        .collect();
    let times = TraceTimes::of(&timed(&rows));
    assert_eq!(times.total_critical_us(), 1_000_000);
    assert_eq!(times.sections.len(), 2 * 100_000 - 1);
}

#[test]
fn on_random_trees_the_path_tiles_each_root_and_stays_inside_its_spans() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    for round in 0..300 {
        let n = rng.random_range(1..40);
        let mut rows: Vec<(String, Option<String>, u64, u64)> = Vec::new();
        for i in 0..n {
            let parent = (i > 0 && rng.random_bool(0.9)).then(|| rng.random_range(0..i));
            let start = rng.random_range(0..1000u64);
            let end = start + rng.random_range(0..500u64);
            rows.push((format!("s{i}"), parent.map(|p| format!("s{p}")), start, end));
        }
        let table: Vec<_> = rows
            .iter()
            .map(|(id, p, s, e)| (id.as_str(), p.as_deref(), "svc", "op", "server", *s, *e))
            .collect();
        let trace = timed(&table);
        let times = TraceTimes::of(&trace);
        let roots: Vec<&(String, Option<String>, u64, u64)> =
            rows.iter().filter(|r| r.1.is_none()).collect();
        let expected: u64 = roots.iter().map(|r| r.3 - r.2).sum();
        assert_eq!(times.total_critical_us(), expected, "round {round}");
        for s in &times.sections {
            let span = &trace.spans[s.span];
            assert!(s.start_us < s.end_us, "round {round}: {s:?}");
            assert!(
                span.start_time <= s.start_us && s.end_us <= span.start_time + span.duration,
                "round {round}: {s:?} outside {}",
                span.span_id
            );
        }
        // Within one root's tree the sections follow on without gaps.
        for pair in times.sections.windows(2) {
            let same_tree = pair[0].end_us == pair[1].start_us;
            let next_root = roots.iter().any(|r| pair[1].start_us == r.2);
            assert!(same_tree || next_root, "round {round}: gap at {pair:?}");
        }
        let self_total: u64 = times.self_us.iter().sum();
        assert!(self_total <= trace.spans.iter().map(|s| s.duration).sum::<u64>());
    }
}
