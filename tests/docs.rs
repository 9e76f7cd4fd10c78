//! The scenario reference documents every function the script API registers.

use tracelab::scenario::api::FUNCTIONS;

#[test]
fn docs_scenarios_md_has_a_section_for_every_script_function() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenarios.md")).unwrap();
    let missing: Vec<&str> = FUNCTIONS
        .iter()
        .copied()
        .filter(|f| !docs.contains(&format!("### `{f}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/scenarios.md lacks sections for {missing:?}"
    );
}

#[test]
fn every_listed_function_is_really_registered() {
    let mut engine = rhai::Engine::new();
    let draft = std::sync::Arc::new(std::sync::Mutex::new(Default::default()));
    tracelab::scenario::api::register(&mut engine, &draft);
    let registered: Vec<String> = engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| {
            sig.split('(')
                .next()
                .map(|name| name.trim_start_matches("fn ").to_string())
        })
        .collect();
    for f in FUNCTIONS {
        assert!(
            registered.iter().any(|r| r == f),
            "{f} is listed but not registered: {registered:?}"
        );
    }
}
