//! Checks that need the whole script: names that refer to other
//! declarations, defaults that depend on them, clashing ports.

use std::path::Path;

use super::api::Draft;
use super::load::ScriptError;
use super::model::{Action, Origin, Role, Scenario, Step};

pub fn finish(path: &Path, draft: Draft) -> Result<Scenario, ScriptError> {
    let error = |origin: Origin, message: String| ScriptError {
        file: path.to_path_buf(),
        origin,
        message,
    };
    let Draft {
        name,
        components,
        mut traffic,
        expectations,
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

    for component in &components {
        for route in &component.routes {
            match &route.action {
                Action::Forward { cluster } if !exists(cluster) => {
                    return Err(error(
                        route.origin,
                        format!(
                            "route {} of {:?} forwards to {cluster:?}, which is not declared (components: {known})",
                            route.path, component.name
                        ),
                    ));
                }
                Action::Respond(handler) => {
                    for Step::Call(call) in &handler.steps {
                        if !exists(&call.service) {
                            return Err(error(
                                call.origin,
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
            && let Some(other) = components
                .iter()
                .find(|o| o.name != component.name && o.port == Some(port))
        {
            return Err(error(
                component.origin,
                format!(
                    "{:?} and {:?} both want port {port}",
                    other.name, component.name
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
                block.origin,
                format!(
                    "traffic {:?} goes to {:?}, which is not declared (components: {known})",
                    block.name, block.target
                ),
            ));
        }
    }
    for expectation in &expectations {
        if !traffic.iter().any(|t| t.name == expectation.traffic) {
            let blocks = traffic
                .iter()
                .map(|t| format!("{:?}", t.name))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(error(
                expectation.origin,
                format!(
                    "the expectation refers to traffic {:?}, which is not declared (traffic: {})",
                    expectation.traffic,
                    if blocks.is_empty() { "none" } else { &blocks }
                ),
            ));
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
        components,
        traffic,
        expectations,
    })
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
        assert!(err.contains("both want port 9000"), "{err}");
    }

    #[test]
    fn a_script_with_no_components_is_an_error() {
        assert!(error_of("let x = 1;").contains("declares no components"));
    }
}
