//! What a traffic block got back, counted per block, and the checks made
//! from those counts alone (no trace is held for them):
//!
//! - `expect_responses`: how many requests were answered with the
//!   statuses it names;
//! - the built-in responses check: as k6 counts `http_req_failed`, a status
//!   outside 200-399, or no response, is an unexpected outcome, unless the
//!   scenario designed it (a fault it injects, a timeout it sets, a reply
//!   status it declares: [`crate::scenario::statuses`]) or an
//!   `expect_responses` of the block names it;
//! - the built-in "something to judge" check: a block none of whose
//!   requests was answered, or none of whose requests left a trace, judged
//!   nothing, so the run cannot pass on it.
//!
//! Requests an interrupt cut off in flight are counted apart: neither
//! answered nor failed.

use std::collections::BTreeMap;

use super::{Accumulate, Failure, Kept, Outcome, OutcomeSource, Unit};
use crate::scenario::model::{
    Amount, CompareOp, ResponseCount, StatusPattern, Traffic, counted, format_duration,
};
use crate::scenario::statuses::Designed;
use crate::traffic::RequestRecord;

/// Per-block counts, added to one request at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockCounts {
    /// Requests sent and not cut off by an interrupt.
    pub sent: u64,
    /// Requests an interrupt cut off in flight.
    pub interrupted: u64,
    /// Status → requests answered with it, and the first such request.
    pub statuses: BTreeMap<u16, (u64, String)>,
    /// Why requests got no response → how many, and the first such request.
    pub no_response: BTreeMap<String, (u64, String)>,
    /// Answered requests whose trace the edge sampled (`traceresponse`).
    pub sampled: u64,
    /// Answered requests the edge said it did not sample.
    pub unsampled: u64,
    /// Requests with at least one trace in the collector.
    pub traced: u64,
}

impl BlockCounts {
    /// Count one request; `traced`: a trace of it was read back.
    pub fn add(&mut self, record: &RequestRecord, traced: bool) {
        if record.interrupted {
            self.interrupted += 1;
            return;
        }
        self.sent += 1;
        match record.status {
            Some(status) => {
                let entry = self
                    .statuses
                    .entry(status)
                    .or_insert_with(|| (0, record.request_id.clone()));
                entry.0 += 1;
                if record.sampled {
                    self.sampled += 1;
                } else if record.trace_id.is_some() {
                    self.unsampled += 1;
                }
            }
            None => {
                let why = no_response_reason(record.error.as_deref());
                let entry = self
                    .no_response
                    .entry(why)
                    .or_insert_with(|| (0, record.request_id.clone()));
                entry.0 += 1;
            }
        }
        if traced {
            self.traced += 1;
        }
    }

    pub fn answered(&self) -> u64 {
        self.statuses.values().map(|(n, _)| n).sum()
    }

    /// "7×200 3×503 2×no response (timed out)".
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, (n, _))| format!("{n}×{status}"))
            .collect();
        parts.extend(
            self.no_response
                .iter()
                .map(|(why, (n, _))| format!("{n}×no response ({why})")),
        );
        if parts.is_empty() {
            "none sent".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The traffic generator's error text, in a few words to group by.
fn no_response_reason(error: Option<&str>) -> String {
    let text = error.unwrap_or("no answer").trim();
    let lower = text.to_ascii_lowercase();
    if lower.contains("timeout") || lower.contains("timed out") {
        "timed out".into()
    } else if lower.contains("refused") {
        "connection refused".into()
    } else {
        let first = text.lines().next().unwrap_or(text);
        first.chars().take(80).collect()
    }
}

fn integrity(block: &str, name: &str, check: &'static str) -> Outcome {
    Outcome {
        name: name.into(),
        source: OutcomeSource::Integrity { check },
        traffic: block.into(),
        passed: true,
        observed: String::new(),
        failures: Vec::new(),
        failure_count: 0,
    }
}

/// Is `status` expected: 200-399, designed by the scenario, or named by an
/// `expect_responses` of the block?
fn expected(status: u16, designed: &[Designed], named: &[StatusPattern]) -> bool {
    (200..400).contains(&status)
        || designed.iter().any(|d| d.status == status)
        || named.iter().any(|p| p.matches(status))
}

/// What the block may answer, in words: "200-399, or 503 (fail at ledger
/// /write, 27:25), or 5xx (named by expect_responses)".
fn expected_words(designed: &[Designed], named: &[StatusPattern]) -> String {
    let mut words = vec!["a status in 200-399".to_string()];
    words.extend(designed.iter().map(ToString::to_string));
    words.extend(
        named
            .iter()
            .map(|p| format!("{p} (named by expect_responses)")),
    );
    words.join(", or ")
}

/// The built-in responses check of a block. `hints` explain statuses
/// the scenario's own routes make (a 404 where no route matches).
pub fn responses(
    block: &Traffic,
    counts: &BlockCounts,
    designed: &[Designed],
    named: &[StatusPattern],
    hints: &[(u16, String)],
) -> Outcome {
    let mut out = integrity(
        &block.name,
        "every request answered as expected",
        "integrity.responses",
    );
    let expected_text = expected_words(designed, named);
    let mut unexpected = 0;
    for (status, (n, first)) in &counts.statuses {
        if expected(*status, designed, named) {
            continue;
        }
        unexpected += n;
        out.failures.push(Failure {
            request_id: Some(first.clone()),
            expected: expected_text.clone(),
            observed: format!(
                "{} answered {status}{}",
                counted(*n, "request"),
                hints
                    .iter()
                    .find(|(s, _)| s == status)
                    .map(|(_, hint)| format!(": {hint}"))
                    .unwrap_or_default()
            ),
            ..Failure::default()
        });
    }
    for (why, (n, first)) in &counts.no_response {
        unexpected += n;
        let why = if why == "timed out" {
            format!(
                "timed out after {}, the traffic's timeout",
                format_duration(block.timeout)
            )
        } else {
            why.clone()
        };
        out.failures.push(Failure {
            request_id: Some(first.clone()),
            expected: expected_text.clone(),
            observed: format!("{} got no response: {why}", counted(*n, "request")),
            ..Failure::default()
        });
    }
    out.failure_count = out.failures.len();
    out.passed = unexpected == 0;
    out.observed = format!(
        "{} of {} answered as expected: {}",
        counts.sent - unexpected,
        counted(counts.sent, "request"),
        counts.summary()
    );
    out
}

/// The built-in "something to judge" check: at least one request of the
/// block answered, and at least one left a trace in the collector.
/// `entry_sampling`: the sampling of the component the block enters
/// through, to say why nothing was sampled.
pub fn judged(block: &Traffic, counts: &BlockCounts, entry_sampling: f64) -> Outcome {
    let mut out = integrity(
        &block.name,
        "the traffic left something to judge",
        "integrity.judged",
    );
    let answered = counts.answered();
    let failure = if counts.sent == 0 {
        Some((
            "requests sent".to_string(),
            "no request was sent".to_string(),
        ))
    } else if answered == 0 {
        Some((
            "at least one request answered".to_string(),
            format!(
                "none of the {} was answered ({})",
                counted(counts.sent, "request"),
                counts.summary()
            ),
        ))
    } else if counts.traced == 0 {
        let why = if let Some(formats) = &block.trace_context {
            let sent = match formats.len() {
                0 => "no trace context (its propagation is \"none\"), so only spans tagged with the request's x-request-id count".to_string(),
                _ => format!(
                    "{} started and sent as {}",
                    counted(counts.sampled, "trace"),
                    formats.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
                ),
            };
            format!(
                "none of the {} to target {} left a span in the collector ({sent}): does it export its spans to the collector this run reads, and read those headers?",
                counted(answered, "answered request"),
                block.target
            )
        } else if counts.sampled > 0 {
            let were = if counts.sampled == 1 { "was" } else { "were" };
            format!(
                "{} {were} sampled at the edge, yet none has a trace in the collector",
                counted(counts.sampled, "request")
            )
        } else if counts.unsampled == answered {
            format!(
                "the edge ({}, sampling {entry_sampling}) sampled none of the {}: raise its sampling or send more requests",
                block.target,
                counted(answered, "answered request")
            )
        } else {
            format!(
                "no trace of the {} reached the collector",
                counted(answered, "answered request")
            )
        };
        Some(("at least one trace of the traffic".to_string(), why))
    } else {
        None
    };
    out.observed = format!(
        "{} answered, {} left a trace",
        counted(answered, "request"),
        counts.traced
    );
    if let Some((expected, observed)) = failure {
        out.passed = false;
        out.observed = format!(
            "nothing to judge: {} answered, {} left a trace",
            counted(answered, "request"),
            counts.traced
        );
        out.failures.push(Failure {
            expected,
            observed,
            ..Failure::default()
        });
        out.failure_count = 1;
    }
    out
}

/// `expect_responses`: how many requests were answered with the statuses
/// it names.
pub fn expect_responses(
    outcome: &mut Outcome,
    counts: &BlockCounts,
    statuses: &[StatusPattern],
    count: ResponseCount,
) {
    let matching: u64 = counts
        .statuses
        .iter()
        .filter(|(s, _)| statuses.iter().any(|p| p.matches(**s)))
        .map(|(_, (n, _))| n)
        .sum();
    let total = counts.sent;
    let holds = |amount: Amount, op: CompareOp| {
        let (value, bound) = amount.compare(matching, total);
        op.holds(value, bound)
    };
    outcome.passed = match count {
        ResponseCount::All => total > 0 && matching == total,
        ResponseCount::Exactly(n) => matching == n,
        ResponseCount::AtLeast(a) => total > 0 && holds(a, CompareOp::Ge),
        ResponseCount::AtMost(a) => total > 0 && holds(a, CompareOp::Le),
    };
    let list = statuses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    outcome.observed = format!(
        "{matching} of {} answered {list}",
        counted(total, "request")
    );
    if !outcome.passed {
        outcome.failure_count = 1;
        outcome.failures.push(Failure {
            expected: format!("{count} answered {list}"),
            observed: format!("{matching} of {total}: {}", counts.summary()),
            ..Failure::default()
        });
    }
}

/// `expect_responses` as a check fed request by request: it reads the
/// block's counts, which the judge keeps, at the end.
pub struct ResponsesJudge<'a> {
    pub outcome: Outcome,
    pub statuses: &'a [StatusPattern],
    pub count: ResponseCount,
}

impl Accumulate for ResponsesJudge<'_> {
    fn add(&mut self, _: &Unit<'_>, _: &mut Kept) {}

    fn finish(self: Box<Self>, counts: &BlockCounts) -> Vec<Outcome> {
        let mut outcome = self.outcome;
        expect_responses(&mut outcome, counts, self.statuses, self.count);
        vec![outcome]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tests::record;
    use crate::scenario::model::Origin;
    use std::time::Duration;

    fn block() -> Traffic {
        Traffic {
            name: "t".into(),
            target: "front".into(),
            requests: 3,
            concurrency: 1,
            rate: None,
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: String::new(),
            timeout: Duration::from_millis(100),
            trace_context: None,
            integrity: Default::default(),
            origin: Origin::default(),
        }
    }

    /// Counts of requests answered `statuses` (None: no response), each
    /// traced when `traced`.
    fn counts(statuses: &[Option<u16>], traced: bool) -> BlockCounts {
        let mut c = BlockCounts::default();
        for (i, status) in statuses.iter().enumerate() {
            let mut r = record(&format!("r{i}"));
            r.status = *status;
            if status.is_none() {
                r.sampled = false;
                r.error = Some("upstream request timeout".into());
            }
            c.add(&r, traced && status.is_some());
        }
        c
    }

    fn injected_503() -> Designed {
        Designed {
            status: 503,
            cause: "fail at ledger /write".into(),
            origin: Origin::at(27, 25),
        }
    }

    #[test]
    fn answers_in_200_to_399_pass() {
        let o = responses(
            &block(),
            &counts(&[Some(200), Some(302)], true),
            &[],
            &[],
            &[],
        );
        assert!(o.passed, "{o:?}");
        assert_eq!(
            o.observed,
            "2 of 2 requests answered as expected: 1×200 1×302"
        );
    }

    #[test]
    fn every_request_answered_404_fails_naming_the_status_and_a_request() {
        let hint = [(404, "front has no route for /".to_string())];
        let o = responses(&block(), &counts(&[Some(404); 3], true), &[], &[], &hint);
        assert!(!o.passed);
        assert_eq!(o.observed, "0 of 3 requests answered as expected: 3×404");
        assert_eq!(
            o.failures[0].observed,
            "3 requests answered 404: front has no route for /"
        );
        assert_eq!(o.failures[0].expected, "a status in 200-399");
        assert_eq!(o.failures[0].request_id.as_deref(), Some("r0"));
    }

    #[test]
    fn no_response_is_an_unexpected_outcome_saying_why() {
        let o = responses(&block(), &counts(&[None, None], false), &[], &[], &[]);
        assert!(!o.passed);
        assert_eq!(
            o.failures[0].observed,
            "2 requests got no response: timed out after 100ms, the traffic's timeout"
        );
    }

    #[test]
    fn a_status_the_scenario_injects_or_names_is_expected() {
        let c = counts(&[Some(200), Some(503), Some(418)], true);
        let o = responses(&block(), &c, &[injected_503()], &[], &[]);
        assert!(!o.passed);
        assert_eq!(o.failure_count, 1, "{o:?}");
        assert_eq!(o.failures[0].observed, "1 request answered 418");
        assert_eq!(
            o.failures[0].expected,
            "a status in 200-399, or 503 (fail at ledger /write, 27:25)"
        );
        let o = responses(
            &block(),
            &c,
            &[injected_503()],
            &[StatusPattern::Class(4)],
            &[],
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn a_block_no_request_of_which_was_answered_has_nothing_to_judge() {
        let o = judged(&block(), &counts(&[None, None], false), 1.0);
        assert!(!o.passed);
        assert_eq!(
            o.observed,
            "nothing to judge: 0 requests answered, 0 left a trace"
        );
        assert_eq!(
            o.failures[0].observed,
            "none of the 2 requests was answered (2×no response (timed out))"
        );
    }

    #[test]
    fn a_block_without_a_trace_has_nothing_to_judge_and_says_whether_sampling_explains_it() {
        let o = judged(&block(), &counts(&[Some(200); 2], false), 1.0);
        assert!(!o.passed);
        assert_eq!(
            o.failures[0].observed,
            "2 requests were sampled at the edge, yet none has a trace in the collector"
        );
        let mut c = BlockCounts::default();
        let mut r = record("r");
        r.sampled = false;
        r.trace_id = Some("abc".into());
        c.add(&r, false);
        let o = judged(&block(), &c, 0.5);
        assert_eq!(
            o.failures[0].observed,
            "the edge (front, sampling 0.5) sampled none of the 1 answered request: raise its sampling or send more requests"
        );
        assert!(judged(&block(), &counts(&[Some(200)], true), 1.0).passed);
    }

    #[test]
    fn interrupted_requests_are_neither_answers_nor_failures() {
        let mut c = counts(&[Some(200)], true);
        let mut cut = record("cut");
        cut.status = None;
        cut.interrupted = true;
        c.add(&cut, false);
        assert_eq!((c.sent, c.interrupted), (1, 1));
        assert!(responses(&block(), &c, &[], &[], &[]).passed);
    }

    fn expecting(statuses: &[StatusPattern], count: ResponseCount, c: &BlockCounts) -> Outcome {
        let mut o = integrity("t", "x", "x");
        expect_responses(&mut o, c, statuses, count);
        o
    }

    #[test]
    fn expect_responses_counts_the_statuses_it_names() {
        let c = counts(&[Some(200), Some(200), Some(503), Some(503)], true);
        let s503 = [StatusPattern::Code(503)];
        assert!(expecting(&s503, ResponseCount::Exactly(2), &c).passed);
        assert!(expecting(&s503, ResponseCount::AtMost(Amount::Percent(50.0)), &c).passed);
        assert!(!expecting(&s503, ResponseCount::AtMost(Amount::Percent(25.0)), &c).passed);
        assert!(expecting(&s503, ResponseCount::AtLeast(Amount::Requests(2)), &c).passed);
        let o = expecting(&s503, ResponseCount::All, &c);
        assert!(!o.passed);
        assert_eq!(o.observed, "2 of 4 requests answered 503");
        assert_eq!(o.failures[0].expected, "every request answered 503");
        assert_eq!(o.failures[0].observed, "2 of 4: 2×200 2×503");
        let any = [StatusPattern::Class(2), StatusPattern::Class(5)];
        assert!(expecting(&any, ResponseCount::All, &c).passed);
        // Nothing sent is never "every request".
        assert!(!expecting(&s503, ResponseCount::All, &BlockCounts::default()).passed);
    }
}
