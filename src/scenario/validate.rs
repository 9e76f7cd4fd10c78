//! Checks that need the whole script: names that refer to other
//! declarations, defaults that depend on them, clashing ports.

use std::path::Path;

use super::api::Draft;
use super::load::ScriptError;
use super::model::{Action, Origin, Role, Scenario};

/// The seed when a script sets none: runs repeat unless the script asks
/// for another sequence.
pub const DEFAULT_SEED: u64 = 1;

pub fn finish(path: &Path, draft: Draft) -> Result<Scenario, ScriptError> {
    let error = |origin: Origin, message: String| ScriptError {
        file: path.to_path_buf(),
        origin,
        message,
    };
    let Draft {
        name,
        seed,
        mut components,
        mut traffic,
        expectations,
        integrity,
    } = draft;

    if components.is_empty() {
        return Err(error(
            Origin::default(),
            "the scenario declares no components: add a proxy(...) and service(...)".into(),
        ));
    }
    let known = components
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let exists = |name: &str| components.iter().any(|c| c.name == name);

    for (index, component) in components.iter().enumerate() {
        for route in &component.routes {
            match &route.action {
                Action::Forward { cluster, .. } if !exists(cluster) => {
                    return Err(error(
                        route.origin.clone(),
                        format!(
                            "route {} of {:?} forwards to {cluster:?}, which is not declared (components: {known})",
                            route.path, component.name
                        ),
                    ));
                }
                Action::Respond(handler) => {
                    for call in handler.steps.iter().flat_map(|s| s.calls()) {
                        if !exists(&call.service) {
                            return Err(error(
                                call.origin.clone(),
                                format!(
                                    "{:?} calls {:?}, which is not declared (components: {known})",
                                    component.name, call.service
                                ),
                            ));
                        }
                    }
                }
                Action::Forward { .. } => {}
            }
        }
        if let Some(port) = component.port
            && let Some(earlier) = components[..index].iter().find(|o| o.port == Some(port))
        {
            return Err(error(
                component.origin.clone(),
                format!(
                    "{:?} wants port {port}, which {:?} (declared at {}) already has",
                    component.name, earlier.name, earlier.origin
                ),
            ));
        }
    }

    let entry = components
        .iter()
        .find(|c| c.role == Role::Proxy)
        .unwrap_or(&components[0])
        .name
        .clone();
    for block in &mut traffic {
        if block.target.is_empty() {
            block.target = entry.clone();
        } else if !exists(&block.target) {
            return Err(error(
                block.origin.clone(),
                format!(
                    "traffic {:?} goes to {:?}, which is not declared (components: {known})",
                    block.name, block.target
                ),
            ));
        }
    }
    if let Some(found) = super::loops::find(&components, &traffic) {
        return Err(error(found.origin, found.message));
    }
    for expectation in &expectations {
        if !traffic.iter().any(|t| t.name == expectation.traffic) {
            return Err(error(
                expectation.origin.clone(),
                format!(
                    "the expectation refers to traffic {:?}, which is not declared (traffic: {})",
                    expectation.traffic,
                    block_names(&traffic)
                ),
            ));
        }
    }

    for o in &integrity {
        match &o.traffic {
            None => traffic.iter_mut().for_each(|b| o.apply(&mut b.integrity)),
            Some(name) => match traffic.iter_mut().find(|b| &b.name == name) {
                Some(block) => o.apply(&mut block.integrity),
                None => {
                    return Err(error(
                        o.origin.clone(),
                        format!(
                            "integrity(...) refers to traffic {name:?}, which is not declared (traffic: {})",
                            block_names(&traffic)
                        ),
                    ));
                }
            },
        }
    }

    // Programs run in the scenario's folder, so `cmd` can name files beside it.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    for component in &mut components {
        if let Some(program) = &mut component.program {
            program.dir = dir.clone();
        }
    }

    let name = name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    Ok(Scenario {
        name,
        file: path.to_path_buf(),
        seed: seed.unwrap_or(DEFAULT_SEED),
        components,
        traffic,
        expectations,
    })
}

fn block_names(traffic: &[crate::scenario::model::Traffic]) -> String {
    if traffic.is_empty() {
        return "none".into();
    }
    traffic
        .iter()
        .map(|t| format!("{:?}", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use crate::scenario::load::{Limits, load_source};
    use std::path::Path;

    fn error_of(text: &str) -> String {
        load_source(Path::new("v.rhai"), text, &Limits::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_route_to_an_unknown_service_names_the_route_and_the_known_ones() {
        let err = error_of(
            "proxy(\"front\", #{ routes: [\n  route(\"/*\", #{ to: \"sevice1\" })] });\nservice(\"service1\", #{ routes: [route(\"/\")] });",
        );
        assert!(err.starts_with("v.rhai:2:3: "), "{err}");
        assert!(
            err.contains("\"sevice1\", which is not declared (components: front, service1)"),
            "{err}"
        );
    }

    #[test]
    fn a_request_to_an_unknown_service_points_at_the_request() {
        let err = error_of(
            "service(\"a\", #{ routes: [route(\"/\", #{ calls: [request(\"b\", \"/\")] })] });",
        );
        assert!(err.starts_with("v.rhai:1:48: "), "{err}");
    }

    #[test]
    fn an_expectation_on_undeclared_traffic_is_an_error() {
        let err = error_of(
            "service(\"a\", #{ routes: [route(\"/\")] });\nexpect_traces(\"nope\", span(\"a\", \"x\"));",
        );
        assert!(
            err.contains("v.rhai:2:1: the expectation refers to traffic \"nope\""),
            "{err}"
        );
    }

    #[test]
    fn two_components_on_one_port_are_an_error() {
        let err = error_of(
            "service(\"a\", #{ port: 9000, routes: [route(\"/\")] });\nservice(\"b\", #{ port: 9000, routes: [route(\"/\")] });",
        );
        assert!(
            err.contains(
                "v.rhai:2:1: \"b\" wants port 9000, which \"a\" (declared at 1:1) already has"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_script_with_no_components_is_an_error() {
        assert!(error_of("let x = 1;").contains("declares no components"));
    }
}
