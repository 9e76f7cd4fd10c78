//! Span patterns must name services the run can produce: a misspelt
//! service in `expect_spans(..., #{ count: 0 })` or a `quantifier: "none"`
//! shape would otherwise pass on nothing, matching no span ever.
//!
//! The services a run can see are known when every span comes from
//! something the script declares: its components (a program is told its
//! component's name as `OTEL_SERVICE_NAME`), the services its targets list,
//! and tracelab's own client span in front of a target. A target that lists
//! no services could report under any name: then nothing is refused.

use super::model::{
    Check, Component, Expectation, Measured, Origin, PathPart, Selector, SpanPattern, Target,
};

/// The service of tracelab's client span, put back as the root of each
/// trace of a request to a target.
pub const CLIENT_SERVICE: &str = "tracelab";

/// Where the script first names a service the run cannot produce, with the
/// message to refuse it with.
pub fn unknown_service(
    components: &[Component],
    targets: &[Target],
    expectations: &[Expectation],
) -> Option<(Origin, String)> {
    if targets.iter().any(|t| t.services.is_empty()) {
        return None;
    }
    let mut known: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    known.extend(
        targets
            .iter()
            .flat_map(|t| t.services.iter().map(String::as_str)),
    );
    if !targets.is_empty() {
        known.push(CLIENT_SERVICE);
    }
    let mut named = Vec::new();
    for expectation in expectations {
        collect(expectation, &mut named);
    }
    let (service, origin) = named.into_iter().find(|(s, _)| !known.contains(s))?;
    let hint = known
        .iter()
        .map(|k| (strsim::levenshtein(service, k), *k))
        .min()
        .filter(|(distance, _)| *distance <= 2 && distance * 3 <= service.len())
        .map(|(_, k)| format!("did you mean {k:?}? "))
        .unwrap_or_default();
    let mut services: Vec<&str> = known.clone();
    services.sort_unstable();
    services.dedup();
    Some((
        origin.clone(),
        format!(
            "no span of this run can have service {service:?}: {hint}the run's services are {} \
             (a system outside tracelab reports under the names its target(..., #{{ services: [...] }}) lists)",
            services.join(", ")
        ),
    ))
}

/// Every service an expectation names, with where: its span patterns'
/// (children included) or the service a critical-path bound is about.
fn collect<'a>(expectation: &'a Expectation, out: &mut Vec<(&'a str, &'a Origin)>) {
    let mut patterns = Vec::new();
    match &expectation.check {
        Check::TraceShape { pattern, .. } => tree(pattern, &mut patterns),
        Check::SpanCount { selector, .. } => selected(selector, &mut patterns),
        Check::Duration {
            measured: Measured::Spans(selector),
            ..
        } => selected(selector, &mut patterns),
        Check::CriticalPath(check) => match &check.part {
            PathPart::Service(name) => out.push((name, &expectation.origin)),
            PathPart::Spans(selector) => selected(selector, &mut patterns),
        },
        Check::Duration { .. } | Check::BrokenPropagation { .. } | Check::Responses { .. } => {}
    }
    out.extend(
        patterns
            .into_iter()
            .filter_map(|p| Some((p.service.as_deref()?, &p.origin))),
    );
}

fn selected<'a>(selector: &'a Selector, out: &mut Vec<&'a SpanPattern>) {
    for pattern in selector.patterns() {
        tree(pattern, out);
    }
}

fn tree<'a>(pattern: &'a SpanPattern, out: &mut Vec<&'a SpanPattern>) {
    out.push(pattern);
    for child in &pattern.children {
        tree(child, out);
    }
}
