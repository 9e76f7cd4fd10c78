//! The statuses a traffic block's requests may get by the scenario's own
//! design: the faults it injects on the way (`fail:`, a reply `status:`),
//! and the 504 of a timeout it sets. Traffic counts answers as k6 does: a
//! status outside 200-399 is an unexpected outcome, unless it is one of
//! these, or one an `expect_responses` names.
//!
//! A request is followed as the mesh routes it (`loops` walks the same
//! graph): through a proxy route to its cluster, through a service route
//! to the calls it makes. A 5xx from a call makes a service answer with it
//! (unless its own reply is a 5xx); a proxy passes on what its upstream
//! answered. What a `process` answers is its own, so nothing is assumed.

use std::collections::HashSet;
use std::fmt;

use super::model::{Action, Component, Origin, Role, Scenario, Traffic};

/// A status the scenario makes on purpose, and what makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designed {
    pub status: u16,
    /// e.g. "fail at ledger /write", "timeout of api → reports /build".
    pub cause: String,
    pub origin: Origin,
}

impl fmt::Display for Designed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.status, self.cause, self.origin)
    }
}

/// Every status outside 200-399 the block's requests may get by design,
/// one cause each (the first found), in status order.
pub fn designed(scenario: &Scenario, block: &Traffic) -> Vec<Designed> {
    let mut walk = Walk {
        components: &scenario.components,
        seen: HashSet::new(),
    };
    let mut found = walk.answers(&block.target, path_only(&block.path));
    found.retain(|d| !(200..400).contains(&d.status));
    found.sort_by_key(|d| d.status);
    found.dedup_by_key(|d| d.status);
    found
}

/// Where the block's requests find no route (Envoy's own 404, flag `NR`),
/// as "front has no route for /nope": why a 404 came that nobody declared.
pub fn unrouted(scenario: &Scenario, block: &Traffic) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(block.target.clone(), path_only(&block.path).to_string())];
    while let Some((name, path)) = stack.pop() {
        if !seen.insert((name.clone(), path.clone())) {
            continue;
        }
        let Some(c) = scenario.component(&name) else {
            continue;
        };
        if c.role == Role::Process {
            continue;
        }
        let Some(route) = c.routes.iter().find(|r| r.path.matches(&path)) else {
            out.push(format!("{name} has no route for {path}"));
            continue;
        };
        match &route.action {
            Action::Forward { cluster, .. } => stack.push((cluster.clone(), path)),
            Action::Respond(handler) => {
                for call in handler.steps.iter().flat_map(|s| s.calls()) {
                    stack.push((call.service.clone(), path_only(&call.path).to_string()));
                }
            }
        }
    }
    out
}

fn path_only(target: &str) -> &str {
    target.split('?').next().unwrap_or("/")
}

struct Walk<'a> {
    components: &'a [Component],
    /// (component, path) already followed: a loop through a failing route
    /// is allowed, and must not be walked forever.
    seen: HashSet<(String, String)>,
}

impl Walk<'_> {
    /// The designed statuses a request to `component` on `path` may come
    /// back with.
    fn answers(&mut self, component: &str, path: &str) -> Vec<Designed> {
        let mut out = Vec::new();
        if !self.seen.insert((component.to_string(), path.to_string())) {
            return out;
        }
        let Some(c) = self.components.iter().find(|c| c.name == component) else {
            return out;
        };
        if c.role == Role::Process {
            return out;
        }
        let Some(route) = c.routes.iter().find(|r| r.path.matches(path)) else {
            return out;
        };
        let mut add = |status: u16, cause: String, origin: &Origin| {
            out.push(Designed {
                status,
                cause,
                origin: origin.clone(),
            })
        };
        if let Some(abort) = &route.faults.abort
            && abort.probability > 0.0
        {
            add(
                abort.status,
                format!("fail at {} {}", c.name, route.path),
                &route.origin,
            );
        }
        match &route.action {
            Action::Forward { cluster, policy } => {
                if policy.timeout.is_some() || policy.per_try_timeout.is_some() {
                    add(
                        504,
                        format!("timeout of {} → {cluster}", c.name),
                        &route.origin,
                    );
                }
                // A proxy passes on what its upstream answered.
                out.extend(self.answers(cluster, path));
            }
            Action::Respond(handler) => {
                let own = handler.reply.status;
                if !(200..400).contains(&own) {
                    add(
                        own,
                        format!("status of {} {}", c.name, route.path),
                        &route.origin,
                    );
                }
                // A failed call (5xx) fails the app, unless it answers a 5xx anyway.
                if own < 500 {
                    for call in handler.steps.iter().flat_map(|s| s.calls()) {
                        if call.policy.timeout.is_some() || call.policy.per_try_timeout.is_some() {
                            out.push(Designed {
                                status: 504,
                                cause: format!(
                                    "timeout of {} → {} {}",
                                    c.name, call.service, call.path
                                ),
                                origin: call.origin.clone(),
                            });
                        }
                        let below = self.answers(&call.service, path_only(&call.path));
                        out.extend(below.into_iter().filter(|d| d.status >= 500));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load::{Limits, load_source};
    use std::path::Path;

    fn designed_of(text: &str) -> Vec<String> {
        let s = load_source(Path::new("d.rhai"), text, &Limits::default()).unwrap();
        designed(&s, &s.traffic[0])
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_plain_chain_is_designed_to_answer_200_only() {
        let d = designed_of(
            r#"proxy("p", #{ routes: [route("/*", #{ to: "a" })] });
            service("a", #{ routes: [route("/", #{ calls: [request("b", "/")] })] });
            service("b", #{ routes: [route("/")] });
            traffic("t", #{ path: "/" });"#,
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn a_failure_deep_in_the_chain_travels_up_to_the_edge() {
        let d = designed_of(
            r#"proxy("p", #{ routes: [route("/*", #{ to: "a" })] });
            service("a", #{ routes: [route("/", #{ calls: [request("b", "/w")] })] });
            service("b", #{ routes: [route("/w", #{ fail: #{ status: 503, probability: 0.5 } })] });
            traffic("t", #{ path: "/?x=1" });"#,
        );
        assert_eq!(d, ["503 (fail at b /w, 3:38)"]);
    }

    #[test]
    fn a_set_timeout_may_answer_504_and_a_4xx_below_a_service_stays_there() {
        let d = designed_of(
            r#"proxy("p", #{ routes: [route("/*", #{ to: "a" })] });
            service("a", #{ routes: [route("/", #{ calls: [request("b", "/", #{ timeout: "50ms" })] })] });
            service("b", #{ routes: [route("/", #{ status: 404 })] });
            traffic("t", #{ path: "/" });"#,
        );
        assert_eq!(d, ["504 (timeout of a → b /, 2:60)"]);
    }

    #[test]
    fn a_reply_status_a_proxy_fault_and_a_path_no_route_takes() {
        let text = r#"proxy("p", #{ routes: [
                route("/gone", #{ to: "a", fail: #{ status: 410 } }),
                route("/*", #{ to: "a" }),
            ] });
            service("a", #{ routes: [route("/teapot", #{ status: 418 })] });
            traffic("t", #{ path: "/teapot" });"#;
        assert_eq!(designed_of(text), ["418 (status of a /teapot, 5:38)"]);
        let gone = text.replace("path: \"/teapot\"", "path: \"/gone\"");
        assert_eq!(designed_of(&gone), ["410 (fail at p /gone, 2:17)"]);
        // No route: a 404 nobody designed.
        let lost = text.replace("path: \"/teapot\"", "path: \"/lost\"");
        assert!(designed_of(&lost).is_empty());
        let s = load_source(Path::new("d.rhai"), &lost, &Limits::default()).unwrap();
        assert_eq!(unrouted(&s, &s.traffic[0]), ["a has no route for /lost"]);
    }
}
