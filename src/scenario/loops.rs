//! Request loops: calls and forwards that bring a request back to a route
//! it already passed through (`a` calls `b`, `b` calls `a` on the same
//! path). Such a request never finishes: each hop waits on the next until
//! the traffic's timeout, and the mesh fills with requests. `validate`
//! refuses them before anything starts.
//!
//! A request is followed as (component, path): the component's first
//! matching route decides where it goes next, as in `mesh::component`. A
//! route with an injected failure is a way out (a failing hop makes no
//! calls), so loops through one are allowed.

use std::collections::HashMap;

use super::model::{Action, Component, Origin, Traffic};

/// A loop: where the hop that closes it is declared, and the words for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLoop {
    pub origin: Origin,
    pub message: String,
}

/// A request at a component, on a path (no query).
type Stop = (usize, String);

/// The first request loop the scenario's routes can make, if any.
pub fn find(components: &[Component], traffic: &[Traffic]) -> Option<RequestLoop> {
    let graph = Graph { components };
    let mut starts: Vec<Stop> = Vec::new();
    for block in traffic {
        if let Some(c) = graph.index(&block.target) {
            starts.push((c, path_only(&block.path)));
        }
    }
    for (c, component) in components.iter().enumerate() {
        for route in &component.routes {
            let path = match &route.path {
                super::model::PathMatch::Exact(p) | super::model::PathMatch::Prefix(p) => p,
            };
            starts.push((c, path.clone()));
        }
    }

    let mut state: HashMap<Stop, Visit> = HashMap::new();
    for start in starts {
        if state.contains_key(&start) {
            continue;
        }
        if let Some(found) = graph.walk(start, &mut state) {
            return Some(found);
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Visit {
    /// On the path being walked.
    Open,
    /// Walked; no loop through it.
    Done,
}

/// One hop: where the request goes, and the declaration that sends it.
struct Hop {
    to: Stop,
    origin: Origin,
}

struct Graph<'a> {
    components: &'a [Component],
}

impl Graph<'_> {
    fn index(&self, name: &str) -> Option<usize> {
        self.components.iter().position(|c| c.name == name)
    }

    fn hops(&self, (c, path): &Stop) -> Vec<Hop> {
        let Some(route) = self.components[*c]
            .routes
            .iter()
            .find(|r| r.path.matches(path))
        else {
            return Vec::new();
        };
        if route
            .faults
            .abort
            .as_ref()
            .is_some_and(|a| a.probability > 0.0)
        {
            return Vec::new();
        }
        match &route.action {
            Action::Forward { cluster, .. } => self
                .index(cluster)
                .map(|to| Hop {
                    to: (to, path.clone()),
                    origin: route.origin.clone(),
                })
                .into_iter()
                .collect(),
            Action::Respond(handler) => handler
                .steps
                .iter()
                .flat_map(|s| s.calls())
                .filter_map(|call| {
                    Some(Hop {
                        to: (self.index(&call.service)?, path_only(&call.path)),
                        origin: call.origin.clone(),
                    })
                })
                .collect(),
        }
    }

    /// Depth-first from `start` with an explicit stack (a long chain of
    /// services must not overflow the thread's stack).
    fn walk(&self, start: Stop, state: &mut HashMap<Stop, Visit>) -> Option<RequestLoop> {
        // Each frame: a stop and the hops from it not yet followed.
        let mut stack: Vec<(Stop, std::vec::IntoIter<Hop>)> = Vec::new();
        state.insert(start.clone(), Visit::Open);
        let hops = self.hops(&start).into_iter();
        stack.push((start, hops));
        while let Some((_, hops)) = stack.last_mut() {
            let Some(hop) = hops.next() else {
                let (stop, _) = stack.pop().expect("a frame");
                state.insert(stop, Visit::Done);
                continue;
            };
            match state.get(&hop.to) {
                Some(Visit::Done) => {}
                Some(Visit::Open) => return Some(self.describe(&stack, hop)),
                None => {
                    state.insert(hop.to.clone(), Visit::Open);
                    let next = self.hops(&hop.to).into_iter();
                    stack.push((hop.to, next));
                }
            }
        }
        None
    }

    fn describe(&self, stack: &[(Stop, std::vec::IntoIter<Hop>)], closing: Hop) -> RequestLoop {
        let first = stack
            .iter()
            .position(|(stop, _)| *stop == closing.to)
            .expect("the loop's stop is on the stack");
        let name = |(c, path): &Stop| format!("{} {path}", self.components[*c].name);
        let mut round: Vec<String> = stack[first..].iter().map(|(s, _)| name(s)).collect();
        round.push(name(&closing.to));
        RequestLoop {
            origin: closing.origin,
            message: format!(
                "requests would go round in a loop: {}; each would wait on the next until it timed out",
                round.join(" → ")
            ),
        }
    }
}

/// A request path without its query, as routes match it.
fn path_only(path: &str) -> String {
    path.split(['?', '#']).next().unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    use crate::scenario::load::{Limits, load_source};
    use std::path::Path;

    fn error_of(text: &str) -> Option<String> {
        load_source(Path::new("l.rhai"), text, &Limits::default())
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn two_services_calling_each_other_on_the_same_paths_are_a_loop() {
        let err = error_of(
            "service(\"a\", #{ routes: [route(\"/\", #{ calls: [request(\"b\", \"/x\")] })] });\n\
             service(\"b\", #{ routes: [route(\"/x\", #{ calls: [request(\"a\", \"/?again=1\")] })] });",
        )
        .unwrap();
        assert!(
            err.starts_with("l.rhai:2:49: requests would go round in a loop: a / → b /x → a /;"),
            "{err}"
        );
    }

    #[test]
    fn a_proxy_forwarding_to_itself_is_a_loop() {
        let err = error_of("proxy(\"p\", #{ routes: [route(\"/*\", #{ to: \"p\" })] });").unwrap();
        assert!(err.contains("loop: p / → p /;"), "{err}");
    }

    #[test]
    fn calls_that_come_back_on_another_route_are_not_a_loop() {
        let text = "service(\"a\", #{ routes: [route(\"/\", #{ calls: [request(\"b\", \"/\")] }), route(\"/leaf\")] });\n\
                    service(\"b\", #{ routes: [route(\"/\", #{ calls: [request(\"a\", \"/leaf\")] })] });";
        assert_eq!(error_of(text), None);
    }

    #[test]
    fn a_loop_through_a_route_that_may_fail_is_allowed() {
        let text = "service(\"a\", #{ routes: [route(\"/\", #{ fail: #{ probability: 0.5 }, calls: [request(\"a\", \"/\")] })] });";
        assert_eq!(error_of(text), None);
    }

    #[test]
    fn a_long_chain_of_services_is_walked_without_overflowing() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "service(\"s{i}\", #{{ routes: [route(\"/\", #{{ calls: [request(\"s{}\", \"/\")] }})] }});\n",
                i + 1
            ));
        }
        text.push_str("service(\"s3000\", #{ routes: [route(\"/\")] });");
        assert_eq!(error_of(&text), None);
    }
}
