//! Checks every trace of a traffic block must pass whatever the scenario
//! expects: one trace per request (else propagation broke), a trace for
//! every sampled request, one root, no orphans, unique span ids, children
//! inside their parent's time window, a span from every component that
//! answered a hop of the trace. A scenario switches any of them off with
//! `integrity(...)`; switched-off checks leave no outcome.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::responses::BlockCounts;
use super::tree::TraceTree;
use super::{Accumulate, Failure, Kept, Outcome, OutcomeSource, Unit};
use crate::jaeger::model::Trace;
use crate::scenario::model::{IntegrityChecks, Traffic, counted, format_duration};
use crate::traffic::OPEN_MODEL_IN_FLIGHT;
use crate::traffic::stats::Schedule;

/// Clocks round to microseconds, and Jaeger adds its own adjustments: a
/// child may overhang its parent by this much before it counts.
pub const TIME_WINDOW_SLACK_US: u64 = 1_000;

/// Failures listed per outcome by default; the count says how many there were.
pub(crate) const SHOWN: usize = 5;

/// What a per-trace check found wrong: (span, expected, observed).
type Found = (Option<String>, String, String);

/// Each caller's callees whose span must join its trace.
pub type Calls = HashMap<String, HashSet<String>>;

/// A per-trace check.
type Finder = fn(&TraceTree<'_>) -> Option<Found>;

/// One built-in check's outcome as it accumulates, and how many it saw.
struct Tally {
    out: Outcome,
    total: u64,
}

impl Tally {
    fn new(block: &str, name: &str, check: &'static str) -> Tally {
        Tally {
            out: Outcome {
                name: name.to_string(),
                source: OutcomeSource::Integrity { check },
                traffic: block.to_string(),
                passed: true,
                observed: String::new(),
                failures: Vec::new(),
                failure_count: 0,
            },
            total: 0,
        }
    }

    /// Count a failure, listing it if fewer than `shown` are; true when listed.
    fn fail(&mut self, shown: usize, failure: Failure) -> bool {
        self.out.failure_count += 1;
        let show = self.out.failures.len() < shown;
        if show {
            self.out.failures.push(failure);
        }
        show
    }

    /// Count one trace, failed when `found` says what is wrong with it
    /// (kept in full when the failure is listed).
    fn judge(
        &mut self,
        shown: usize,
        kept: &mut Kept,
        trace: &Trace,
        request_id: Option<&str>,
        found: Option<Found>,
    ) {
        self.total += 1;
        let Some((span, expected, observed)) = found else {
            return;
        };
        let failure = Failure {
            trace_id: Some(trace.trace_id.clone()),
            request_id: request_id.map(str::to_string),
            span,
            expected,
            observed,
            ..Failure::default()
        };
        if self.fail(shown, failure) {
            kept.keep(trace);
        }
    }

    fn finish(mut self, observed: impl FnOnce(u64, u64) -> String) -> Outcome {
        self.out.passed = self.out.failure_count == 0;
        let passing = self.total - self.out.failure_count as u64;
        self.out.observed = observed(passing, self.total);
        self.out
    }
}

/// The block's built-in checks (those switched on), one request at a time.
pub struct IntegrityJudge {
    shown: usize,
    propagation: Option<Tally>,
    complete: Option<Tally>,
    per_trace: Vec<(Tally, Finder)>,
    /// With the calls (caller, callee) whose callee's span must join the
    /// caller's trace.
    reported: Option<(Tally, Calls)>,
}

impl IntegrityJudge {
    /// `calls`: the calls (caller, callee) whose callee reports its span
    /// of them within the caller's trace.
    pub fn new(block: &str, on: IntegrityChecks, shown: usize, calls: Calls) -> IntegrityJudge {
        let checks: [(bool, &str, &'static str, Finder); 4] = [
            (
                on.single_root,
                "one root span per trace",
                "integrity.single_root",
                single_root,
            ),
            (
                on.orphans,
                "no orphan spans",
                "integrity.no_orphans",
                no_orphans,
            ),
            (
                on.unique_span_ids,
                "unique span ids",
                "integrity.unique_span_ids",
                unique_span_ids,
            ),
            (
                on.time_window,
                "children inside their parent's time window",
                "integrity.time_window",
                time_window,
            ),
        ];
        IntegrityJudge {
            shown,
            propagation: on
                .propagation
                .then(|| Tally::new(block, "each request is one trace", "integrity.propagation")),
            complete: on.complete.then(|| {
                Tally::new(
                    block,
                    "every sampled request has a trace",
                    "integrity.complete",
                )
            }),
            per_trace: checks
                .into_iter()
                .filter(|(enabled, ..)| *enabled)
                .map(|(_, name, check, find)| (Tally::new(block, name, check), find))
                .collect(),
            reported: on.reported.then(|| {
                (
                    Tally::new(
                        block,
                        "every component a call reached reported its span",
                        "integrity.reported",
                    ),
                    calls,
                )
            }),
        }
    }

    /// Checks failed already (any failure is final for these).
    pub fn failed_for_sure(&self) -> usize {
        let failing = |t: &&Tally| t.out.failure_count > 0;
        self.propagation.iter().filter(failing).count()
            + self.complete.iter().filter(failing).count()
            + self.reported.iter().map(|(t, _)| t).filter(failing).count()
            + self
                .per_trace
                .iter()
                .map(|(t, _)| t)
                .filter(failing)
                .count()
    }
}

impl Accumulate for IntegrityJudge {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept) {
        let record = unit.record;
        let shown = self.shown;
        if let Some(tally) = &mut self.propagation
            && !unit.traces.is_empty()
        {
            tally.total += 1;
            if unit.traces.len() > 1 {
                tally.fail(
                    shown,
                    Failure {
                        trace_id: Some(
                            unit.traces
                                .iter()
                                .map(|t| t.trace_id.clone())
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                        request_id: Some(record.request_id.clone()),
                        expected: "1 trace".into(),
                        observed: format!("{} traces: propagation broke", unit.traces.len()),
                        ..Failure::default()
                    },
                );
            }
        }
        if let Some(tally) = &mut self.complete
            && record.sampled
        {
            tally.total += 1;
            if unit.traces.is_empty() {
                tally.fail(
                    shown,
                    Failure {
                        trace_id: record.trace_id.clone(),
                        request_id: Some(record.request_id.clone()),
                        expected: "a trace in the collector".into(),
                        observed: match record.status {
                            Some(s) => format!("none (the request answered {s})"),
                            None => "none (the request got no response)".into(),
                        },
                        ..Failure::default()
                    },
                );
            }
        }
        if self.per_trace.is_empty() && self.reported.is_none() {
            return;
        }
        for trace in unit.new {
            let tree = TraceTree::new(trace);
            if let Some((tally, calls)) = &mut self.reported {
                let found = unreported_hop(&tree, calls);
                tally.judge(shown, kept, trace, Some(&record.request_id), found);
            }
            for (tally, find) in &mut self.per_trace {
                tally.judge(shown, kept, trace, None, find(&tree));
            }
        }
    }

    fn finish(self: Box<Self>, _: &BlockCounts) -> Vec<Outcome> {
        let mut out = Vec::new();
        if let Some(t) = self.propagation {
            out.push(t.finish(|ok, all| format!("{ok} of {all} requests are one trace")));
        }
        if let Some(t) = self.complete {
            out.push(t.finish(|ok, all| format!("{ok} of {all} sampled requests have a trace")));
        }
        for (t, _) in self.per_trace {
            out.push(t.finish(|ok, all| format!("{ok} of {all} traces pass")));
        }
        if let Some((t, _)) = self.reported {
            out.push(t.finish(|ok, all| format!("{ok} of {all} traces pass")));
        }
        out
    }
}

/// A client span of the mesh whose call a component answered (Envoy's
/// `upstream_cluster` names it; no flag says the call never reached it, got
/// no answer or was not made), where the callee continues the caller's
/// trace but no span of it is a child of that call: it answered, but its
/// span went elsewhere or nowhere (a program that does not trace, a peer
/// exporting to another collector, a span later than the wait).
fn unreported_hop(tree: &TraceTree<'_>, calls: &Calls) -> Option<Found> {
    tree.nodes.iter().find_map(|n| {
        // A server span's upstream_cluster is its own app (local_service).
        if n.span.kind() != Some("client") {
            return None;
        }
        let callee = n.span.tag("upstream_cluster")?.value.as_str()?;
        if !calls.get(n.service).is_some_and(|c| c.contains(callee)) {
            return None;
        }
        if n.children.iter().any(|&c| tree.nodes[c].service == callee) {
            return None;
        }
        // "-", or only "DI" (a delay injected before the call).
        let flags = n.span.tag("response_flags")?.value.as_str()?;
        if !flags.split(',').all(|f| f == "-" || f == "DI") {
            return None;
        }
        let status = n
            .span
            .tag("http.status_code")
            .map_or_else(|| "?".to_string(), |t| t.value_text());
        Some((
            Some(format!("{} [{}]", n.label(), n.span.span_id)),
            format!("a span of {callee}, which answered this call, as its child"),
            format!(
                "none: {callee} answered {status} but reported no span of it in this trace \
                 (does it trace, and export to this run's collector? is its span later than the wait?)"
            ),
        ))
    })
}

fn single_root(tree: &TraceTree<'_>) -> Option<Found> {
    (tree.roots.len() != 1).then(|| {
        let roots = tree
            .roots
            .iter()
            .map(|&r| tree.nodes[r].label())
            .collect::<Vec<_>>()
            .join(", ");
        (
            None,
            "1 root".to_string(),
            format!("{} roots: {roots}", tree.roots.len()),
        )
    })
}

fn no_orphans(tree: &TraceTree<'_>) -> Option<Found> {
    tree.orphans.first().map(|&o| {
        let span = tree.nodes[o].span;
        (
            Some(format!("{} [{}]", tree.nodes[o].label(), span.span_id)),
            format!(
                "parent {} in the trace",
                span.parent_span_id().unwrap_or("?")
            ),
            "parent missing".to_string(),
        )
    })
}

fn unique_span_ids(tree: &TraceTree<'_>) -> Option<Found> {
    let mut seen = HashSet::new();
    tree.nodes
        .iter()
        .find(|n| !seen.insert(n.span.span_id.as_str()))
        .map(|n| {
            (
                Some(n.span.span_id.clone()),
                "each span id once".to_string(),
                format!("span id {} more than once", n.span.span_id),
            )
        })
}

fn time_window(tree: &TraceTree<'_>) -> Option<Found> {
    // Times as offsets from the trace's start, as a waterfall shows them.
    let began = tree.nodes.iter().map(|n| n.span.start_time).min()?;
    let at = |us: u64| format_duration(Duration::from_micros(us.saturating_sub(began)));
    tree.nodes.iter().find_map(|n| {
        let parent_node = &tree.nodes[n.parent?];
        let parent = parent_node.span;
        let (child, pstart) = (n.span, parent.start_time);
        let pend = pstart + parent.duration;
        let cend = child.start_time + child.duration;
        let early = child.start_time + TIME_WINDOW_SLACK_US < pstart;
        let late = cend > pend + TIME_WINDOW_SLACK_US;
        (early || late).then(|| {
            let how = if early {
                format!(
                    "starts {} before",
                    format_duration(Duration::from_micros(pstart - child.start_time))
                )
            } else {
                format!(
                    "ends {} after",
                    format_duration(Duration::from_micros(cend - pend))
                )
            };
            (
                Some(format!("{} [{}]", n.label(), child.span_id)),
                format!(
                    "within its parent {}, from {} to {} into the trace (1 ms of slack)",
                    parent_node.label(),
                    at(pstart),
                    at(pend)
                ),
                format!(
                    "{} to {} into the trace: it {how} its parent",
                    at(child.start_time),
                    at(cend)
                ),
            )
        })
    })
}

/// The failed check a block gets when the embedded collector evicted
/// traces during the run and the traces read back do not hold every span
/// delivered: its checks judged what eviction left, so they cannot pass.
pub fn kept_by_the_collector(block: &str, evicted: u64, max_traces: usize) -> Outcome {
    failed_run_check(
        block,
        "the collector kept every trace",
        "collector.max_traces",
        format!("traces evicted {evicted} times at max traces {max_traces}"),
        Failure {
            expected: "every trace of the run kept until judged".into(),
            observed: format!(
                "the embedded collector evicted the oldest traces {evicted} times; \
                 this run's traces may be missing or partial: raise --max-traces"
            ),
            ..Failure::default()
        },
    )
}

/// How far behind its schedule an open-model block may fall before it
/// no longer sent what the script asked: a second, or a tenth of its
/// planned length, whichever is longer (a soak may hiccup; it may not
/// drift).
pub fn schedule_slack(block: &Traffic) -> Option<Duration> {
    let rate = block.rate.filter(|r| *r > 0.0)?;
    let planned = Duration::from_secs_f64(block.requests as f64 / rate);
    Some((planned / 10).max(Duration::from_secs(1)))
}

/// The failed check an open-model block gets when its requests left
/// later than its slack allows: its checks judged traffic at another rate
/// than the script's, so they must not pass alone.
pub fn kept_its_schedule(block: &Traffic, schedule: &Schedule) -> Option<Outcome> {
    let slack = schedule_slack(block)?;
    let behind = Duration::from_secs_f64(schedule.behind_ms / 1000.0);
    if behind <= slack {
        return None;
    }
    let rate = block.rate.unwrap_or_default();
    let mut why = Vec::new();
    if schedule.waited_for_judge > 0 {
        why.push(format!(
            "{} waited for the judge to catch up (the mesh's exporters or the \
             collector could not keep up with this rate)",
            counted(schedule.waited_for_judge, "request")
        ));
    }
    if schedule.waited_in_flight > 0 {
        why.push(format!(
            "{} waited for one of the {OPEN_MODEL_IN_FLIGHT} places in flight (the target \
             answered too slowly for this rate)",
            counted(schedule.waited_in_flight, "request")
        ));
    }
    if why.is_empty() {
        why.push("this machine could not send them faster".into());
    }
    Some(failed_run_check(
        &block.name,
        "the traffic kept its schedule",
        "traffic.schedule",
        format!(
            "requests left up to {} behind their schedule of {rate}/s",
            format_duration(behind)
        ),
        Failure {
            expected: format!(
                "each of {} sent within {} of its time at {rate}/s",
                counted(block.requests, "request"),
                format_duration(slack)
            ),
            observed: format!(
                "requests left up to {} late: {}; lower the rate",
                format_duration(behind),
                why.join(", and ")
            ),
            ..Failure::default()
        },
    ))
}

/// The failed check a block gets when spans of the run never reached the
/// collector (retries included): its checks judged partial traces.
pub fn delivered_to_the_collector(block: &str, undelivered: u64, ended: u64) -> Outcome {
    failed_run_check(
        block,
        "every span reached the collector",
        "collector.delivery",
        format!("{undelivered} of {ended} spans not delivered"),
        Failure {
            expected: "every span the components ended, delivered".into(),
            observed: format!(
                "{undelivered} spans were refused, rejected or never answered, retries included; \
                 this run's traces may be missing or partial"
            ),
            ..Failure::default()
        },
    )
}

/// The failed propagation check a streaming run gets when the mesh began
/// traces that no request of it claimed: a call that lost the trace
/// context started a trace of its own.
pub fn unclaimed_traces(block: &str, traces: usize) -> Outcome {
    failed_run_check(
        block,
        "each request is one trace",
        "integrity.propagation",
        format!("{traces} traces began inside the mesh, apart from any request's"),
        Failure {
            expected: "each request's spans in the trace the edge began".into(),
            observed: format!(
                "{traces} traces began inside the mesh without the edge's trace context: \
                 propagation broke (run with --judge-at-end to see which requests)"
            ),
            ..Failure::default()
        },
    )
}

/// A check about the whole run (not about each trace) that failed.
fn failed_run_check(
    block: &str,
    name: &str,
    check: &'static str,
    observed: String,
    failure: Failure,
) -> Outcome {
    Outcome {
        name: name.into(),
        source: OutcomeSource::Integrity { check },
        traffic: block.to_string(),
        passed: false,
        observed,
        failures: vec![failure],
        failure_count: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tree::tests::trace;
    use crate::jaeger::model::KeyValue;

    /// The sandbox's trace, service1's call to service2 tagged as the mesh
    /// tags it; `with_callee`: service2's own span is in it.
    fn call_to_service2(flags: &str, with_callee: bool) -> Trace {
        let mut rows = vec![
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("b", Some("a"), "service1", "checkAvailability", "server"),
            ("c", Some("b"), "service1", "checkStock", "client"),
        ];
        if with_callee {
            rows.push(("d", Some("c"), "service2", "checkStock", "server"));
        }
        let mut t = trace(&rows);
        t.spans[2].tags.extend([
            KeyValue::string("upstream_cluster", "service2"),
            KeyValue::string("response_flags", flags),
            KeyValue::string("http.status_code", "200"),
        ]);
        t
    }

    fn calls() -> Calls {
        [("front-proxy", "service1"), ("service1", "service2")]
            .map(|(a, b)| (a.to_string(), HashSet::from([b.to_string()])))
            .into()
    }

    #[test]
    fn a_call_answered_without_a_span_of_the_callee_fails_reported() {
        let t = call_to_service2("-", false);
        let (span, expected, observed) =
            unreported_hop(&TraceTree::new(&t), &calls()).expect("service2 is silent");
        assert_eq!(span.as_deref(), Some("service1 checkStock (client) [c]"));
        assert_eq!(
            expected,
            "a span of service2, which answered this call, as its child"
        );
        assert!(
            observed.starts_with("none: service2 answered 200 but reported no span of it"),
            "{observed}"
        );
        // A delay injected before the call still reached it.
        let t = call_to_service2("DI", false);
        assert!(unreported_hop(&TraceTree::new(&t), &calls()).is_some());
    }

    #[test]
    fn a_callee_with_its_span_a_call_that_never_reached_it_or_one_that_breaks_context_passes() {
        let with_span = call_to_service2("-", true);
        assert!(unreported_hop(&TraceTree::new(&with_span), &calls()).is_none());
        for flags in ["UF", "UT", "DI,UF", "URX"] {
            let t = call_to_service2(flags, false);
            assert!(
                unreported_hop(&TraceTree::new(&t), &calls()).is_none(),
                "{flags}"
            );
        }
        // service2 reads no format service1 writes: its span is in a trace
        // of its own, which the propagation check is about.
        let mut others = calls();
        others.remove("service1");
        let t = call_to_service2("-", false);
        assert!(unreported_hop(&TraceTree::new(&t), &others).is_none());
    }
}
