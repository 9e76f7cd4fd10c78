//! Span patterns must name services, and operations of tracelab's own
//! components, the run can produce: a misspelt service or operation in
//! `expect_spans(..., #{ count: 0 })` or a `quantifier: "none"` shape would
//! otherwise pass on nothing, matching no span ever.
//!
//! The services a run can see are known when every span comes from
//! something the script declares: its components (a program is told its
//! component's name as `OTEL_SERVICE_NAME`), the services its targets list,
//! and tracelab's own client span in front of a target. A target that lists
//! no services could report under any name: then nothing is refused.
//!
//! The operations of a proxy or a service follow from the script too (see
//! [`Operations`]); a program's are its own, and are never refused.

use std::collections::BTreeSet;

use super::model::{
    Action, Check, Component, DECORATOR_HEADER, Expectation, Measured, Origin, PathPart,
    Quantifier, Role, Selector, SpanKindPattern, SpanPattern, Target, Traffic,
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
    let hint = closest(service, known.iter().copied());
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

/// Where the script first names, in a check that holds when nothing
/// matches, an operation that no span of a proxy or a service it declares
/// can have, with the message to refuse it with.
pub fn unknown_operation(
    components: &[Component],
    traffic: &[Traffic],
    targets: &[Target],
    expectations: &[Expectation],
) -> Option<(Origin, String)> {
    let mut patterns = Vec::new();
    for expectation in expectations {
        patterns_of(expectation, &mut patterns);
    }
    for pattern in patterns {
        let Some(operation) = pattern.operation.as_deref() else {
            continue;
        };
        let (whose, names) = match pattern.service.as_deref() {
            Some(service) => match components.iter().find(|c| c.name == service) {
                Some(c) if c.role != Role::Process => (
                    format!("{service:?} (a {})", c.role),
                    Operations::of(c, components, traffic),
                ),
                _ => continue,
            },
            // Any service: only when every span comes from tracelab's own.
            None if targets.is_empty() && components.iter().all(|c| c.role != Role::Process) => (
                "this run".to_string(),
                components
                    .iter()
                    .map(|c| Operations::of(c, components, traffic))
                    .fold(Operations::default(), Operations::join),
            ),
            None => continue,
        };
        if names.allow(operation, pattern.kind) {
            continue;
        }
        let kind = pattern
            .kind
            .map_or_else(String::new, |k| format!(" {}", k.as_str()));
        let hint = closest(operation, names.names());
        let other_kind = pattern
            .kind
            .is_some_and(|k| !matches!(k, SpanKindPattern::Server | SpanKindPattern::Client));
        return Some((
            pattern.origin.clone(),
            format!(
                "no{kind} span of {whose} can have operation {operation:?}: {hint}{}",
                names.listed(other_kind)
            ),
        ));
    }
    None
}

/// The operation names a proxy's or a service's spans can have, as the
/// mesh names them, by kind (it makes only server and client spans): a
/// proxy's client span after its route's `operation`, else `egress <Host
/// header>`; a service's server span after the decorator its caller sends
/// (a proxy route's or a call's `operation`, or a traffic header), else its
/// own route's, else `ingress`; its client spans after the call's
/// `operation`, else `egress <service>`.
#[derive(Debug, Default)]
struct Operations {
    server: BTreeSet<String>,
    client: BTreeSet<String>,
    /// Client spans named `egress <host>`, for any host a request names.
    any_egress: bool,
    /// Server spans of any name: a program may call it, with any decorator.
    any_server: bool,
}

impl Operations {
    fn of(c: &Component, components: &[Component], traffic: &[Traffic]) -> Operations {
        let mut ops = Operations::default();
        let route_ops = c.routes.iter().filter_map(|r| r.operation.clone());
        match c.role {
            Role::Proxy => {
                ops.client.extend(route_ops);
                ops.any_egress = true;
            }
            Role::Service => {
                ops.server.extend(route_ops);
                ops.server.insert("ingress".into());
                for route in &c.routes {
                    let Action::Respond(handler) = &route.action else {
                        continue;
                    };
                    for call in handler.steps.iter().flat_map(|s| s.calls()) {
                        ops.client.insert(
                            call.operation
                                .clone()
                                .unwrap_or_else(|| format!("egress {}", call.service)),
                        );
                    }
                }
                // What callers name its server span.
                for caller in components {
                    if caller.role == Role::Process {
                        ops.any_server = true;
                    }
                    for route in &caller.routes {
                        match &route.action {
                            Action::Forward { cluster, .. } if *cluster == c.name => {
                                ops.server.extend(route.operation.clone());
                            }
                            Action::Respond(handler) => ops.server.extend(
                                handler
                                    .steps
                                    .iter()
                                    .flat_map(|s| s.calls())
                                    .filter(|call| call.service == c.name)
                                    .filter_map(|call| call.operation.clone()),
                            ),
                            Action::Forward { .. } => {}
                        }
                    }
                }
                ops.server.extend(
                    traffic
                        .iter()
                        .filter(|t| t.target == c.name)
                        .flat_map(|t| &t.headers)
                        .filter(|(name, _)| name.eq_ignore_ascii_case(DECORATOR_HEADER))
                        .map(|(_, value)| value.clone()),
                );
            }
            Role::Process => ops.any_server = true,
        }
        ops
    }

    fn join(mut self, other: Operations) -> Operations {
        self.server.extend(other.server);
        self.client.extend(other.client);
        self.any_egress |= other.any_egress;
        self.any_server |= other.any_server;
        self
    }

    fn allow(&self, operation: &str, kind: Option<SpanKindPattern>) -> bool {
        let server = || self.any_server || self.server.contains(operation);
        let client = || {
            self.client.contains(operation) || (self.any_egress && operation.starts_with("egress "))
        };
        match kind {
            None => server() || client(),
            Some(SpanKindPattern::Server) => server(),
            Some(SpanKindPattern::Client) => client(),
            Some(_) => false,
        }
    }

    /// Every name, for did-you-mean.
    fn names(&self) -> impl Iterator<Item = &str> {
        self.server.iter().chain(&self.client).map(String::as_str)
    }

    /// "its server spans are named ...; its client spans ...", and that
    /// there are no others when `other_kind` was asked for.
    fn listed(&self, other_kind: bool) -> String {
        let quoted =
            |set: &BTreeSet<String>| set.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>();
        let mut client = quoted(&self.client);
        if self.any_egress {
            client.push("\"egress <host>\"".into());
        }
        let mut parts = Vec::new();
        if !self.server.is_empty() {
            parts.push(format!(
                "its server spans are named {}",
                quoted(&self.server).join(", ")
            ));
        }
        if !client.is_empty() {
            parts.push(format!("its client spans {}", client.join(", ")));
        }
        let mut text = format!(
            "{} (after a route's or a call's `operation`, else Envoy's defaults)",
            parts.join("; ")
        );
        if other_kind {
            text.push_str("; it makes no spans of other kinds");
        }
        text
    }
}

/// "did you mean \"x\"? " for the nearest of `known`, if one is near.
fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    crate::suggest::nearest(name, known)
        .map(|k| format!("did you mean {k:?}? "))
        .unwrap_or_default()
}

/// Every span pattern, children included, of an expectation that holds
/// when nothing matches it (`count: 0`, `at_most`, `quantifier: "none"`).
/// Any other fails on a name no span has, and says which span differs: a
/// recording of a system whose operation was renamed since is a failed
/// check, not a broken script.
fn patterns_of<'a>(expectation: &'a Expectation, out: &mut Vec<&'a SpanPattern>) {
    match &expectation.check {
        Check::TraceShape {
            pattern,
            quantifier: Quantifier::None | Quantifier::Exactly(0),
            ..
        } => tree(pattern, out),
        Check::SpanCount {
            selector, count, ..
        } if count.holds(0) => selected(selector, out),
        _ => {}
    }
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
