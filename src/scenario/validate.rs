//! Checks that need the whole script: names that refer to other
//! declarations, defaults that depend on them, clashing ports.

use std::path::Path;

use super::api::Draft;
use super::load::ScriptError;
use super::model::{Action, Component, HeaderFormat, Origin, Propagation, Role, Scenario};

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
        targets,
        mut traffic,
        expectations,
        integrity,
        closures: _,
    } = draft;

    if components.is_empty() && targets.is_empty() {
        return Err(error(
            Origin::default(),
            "the scenario declares no components and no targets: add a proxy(...) and \
             service(...), or a target(...) to send traffic to a system running elsewhere"
                .into(),
        ));
    }
    for target in &targets {
        if let Some(c) = components.iter().find(|c| c.name == target.name) {
            return Err(error(
                target.origin.clone(),
                format!(
                    "target {:?} has the name of the {} declared at {}: give it another",
                    target.name, c.role, c.origin
                ),
            ));
        }
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

    // The first proxy, else the first component, else the first target.
    let entry = components
        .iter()
        .find(|c| c.role == Role::Proxy)
        .or(components.first())
        .map(|c| c.name.clone())
        .or_else(|| targets.first().map(|t| t.name.clone()))
        .expect("a component or a target");
    for block in &mut traffic {
        if block.target.is_empty() {
            block.target = entry.clone();
        }
        if let Some(target) = targets.iter().find(|t| t.name == block.target) {
            block.trace_context = Some(match &target.propagation {
                Propagation::Formats(formats) => formats.clone(),
                Propagation::None => Vec::new(),
            });
        } else if !exists(&block.target) {
            let targets = match targets.len() {
                0 => String::new(),
                _ => format!(
                    "; targets: {}",
                    targets
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(error(
                block.origin.clone(),
                format!(
                    "traffic {:?} goes to {:?}, which is not declared (components: {}{targets})",
                    block.name,
                    block.target,
                    if known.is_empty() { "none" } else { &known }
                ),
            ));
        }
    }
    if let Some(found) = super::loops::find(&components, &traffic) {
        return Err(error(found.origin, found.message));
    }
    if let Some(c) = sampling_never_applies(&components, &traffic) {
        let mut entries: Vec<String> = Vec::new();
        for block in &traffic {
            let name = format!("{:?}", block.target);
            if !entries.contains(&name) {
                entries.push(name);
            }
        }
        return Err(error(
            c.origin.clone(),
            format!(
                "{}({:?}): sampling {} never applies: a component samples only the traces it starts, and {:?} starts none (no traffic enters through it, and every caller passes it a trace context it reads); set sampling on the component traffic enters through ({})",
                c.role,
                c.name,
                c.sampling,
                c.name,
                entries.join(", ")
            ),
        ));
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

    if let Some((origin, message)) =
        super::names::unknown_service(&components, &targets, &expectations)
    {
        return Err(error(origin, message));
    }
    if let Some((origin, message)) =
        super::names::unknown_operation(&components, &traffic, &targets, &expectations)
    {
        return Err(error(origin, message));
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
        targets,
        traffic,
        expectations,
    })
}

/// A component with `sampling` below 1 that can never start a trace, so
/// its sampling would be silently ignored: traffic does not enter through
/// it, something calls it, and every caller hands it a trace context in a
/// format it reads (a trace started upstream keeps the caller's decision).
/// A scenario without traffic (served by `tracelab up`) is not judged, nor
/// is a program (`process`): it may start traces of its own.
fn sampling_never_applies<'a>(
    components: &'a [Component],
    traffic: &[crate::scenario::model::Traffic],
) -> Option<&'a Component> {
    if traffic.is_empty() {
        return None;
    }
    let written = |c: &Component| -> Vec<HeaderFormat> {
        match &c.propagation {
            Propagation::Formats(f) => f.clone(),
            Propagation::None => Propagation::default_formats(),
        }
    };
    components.iter().find(|c| {
        if c.sampling >= 1.0
            || c.role == Role::Process
            || traffic.iter().any(|t| t.target == c.name)
        {
            return false;
        }
        let callers: Vec<&Component> = components
            .iter()
            .filter(|caller| calls(caller, &c.name))
            .collect();
        let reads = written(c);
        !callers.is_empty()
            && callers
                .iter()
                .all(|caller| written(caller).iter().any(|f| reads.contains(f)))
    })
}

/// Does `caller` forward to or call the component named `callee`?
fn calls(caller: &Component, callee: &str) -> bool {
    caller.routes.iter().any(|route| match &route.action {
        Action::Forward { cluster, .. } => cluster == callee,
        Action::Respond(handler) => handler
            .steps
            .iter()
            .flat_map(|s| s.calls())
            .any(|call| call.service == callee),
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
    fn sampling_on_a_component_that_starts_no_trace_is_refused_where_it_would_apply_it_is_not() {
        let behind = "proxy(\"p\", #{ routes: [route(\"/*\", #{ to: \"a\" })] });\n\
                      service(\"a\", #{ sampling: 0.5, routes: [route(\"/*\")] });\n";
        let err = error_of(&format!("{behind}traffic(\"t\", #{{ path: \"/\" }});"));
        assert!(
            err.starts_with("v.rhai:2:1: service(\"a\"): sampling 0.5 never applies"),
            "{err}"
        );
        assert!(err.ends_with("enters through (\"p\")"), "{err}");
        let ok = |text: &str| load_source(Path::new("v.rhai"), text, &Limits::default()).unwrap();
        // Traffic enters through it.
        ok(&format!(
            "{behind}traffic(\"t\", #{{ path: \"/\", to: \"a\" }});"
        ));
        // No traffic: `tracelab up` lets anyone call it.
        ok(behind);
        // A program may start traces of its own.
        ok(
            "proxy(\"p\", #{ routes: [route(\"/*\", #{ to: \"a\" })] });\n\
            process(\"a\", #{ cmd: [\"app\"], sampling: 0.5 });\n\
            traffic(\"t\", #{ path: \"/\" });",
        );
        // Its caller speaks a format it does not read: it starts traces.
        ok(&format!(
            "{}traffic(\"t\", #{{ path: \"/\" }});",
            behind.replace("sampling: 0.5,", "sampling: 0.5, propagation: \"jaeger\",")
        ));
    }

    #[test]
    fn a_script_with_no_components_is_an_error() {
        assert!(error_of("let x = 1;").contains("declares no components and no targets"));
    }

    #[test]
    fn a_scenario_of_targets_alone_sends_its_traffic_to_the_first_one() {
        let s = load_source(
            Path::new("v.rhai"),
            "target(\"shop\", \"http://127.0.0.1:8080\", #{ propagation: \"b3\" });\n\
             target(\"api\", \"http://api.internal\");\n\
             traffic(\"t\", #{ path: \"/\" });\ntraffic(\"u\", #{ to: \"api\", path: \"/\" });",
            &Limits::default(),
        )
        .unwrap();
        assert!(s.components.is_empty());
        assert_eq!(s.traffic[0].target, "shop");
        assert_eq!(
            s.traffic[0].trace_context,
            Some(vec![crate::scenario::model::HeaderFormat::B3])
        );
        assert_eq!(s.traffic[1].target, "api");
        assert_eq!(s.target("api").unwrap().authority, "api.internal:80");
        let err = error_of(
            "target(\"shop\", \"http://h:1\");\ntraffic(\"t\", #{ to: \"shp\", path: \"/\" });",
        );
        assert!(
            err.contains(
                "goes to \"shp\", which is not declared (components: none; targets: shop)"
            ),
            "{err}"
        );
        let err = error_of(
            "service(\"shop\", #{ routes: [route(\"/\")] });\ntarget(\"shop\", \"http://h:1\");",
        );
        assert!(
            err.starts_with(
                "v.rhai:2:1: target \"shop\" has the name of the service declared at 1:1"
            ),
            "{err}"
        );
    }
}
