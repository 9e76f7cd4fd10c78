//! The collector is a Jaeger that knows no scripts: nothing under
//! src/collector/ reaches the scenario, the run, the mesh or the error type
//! that carries scenario errors. The traffic is a client that knows URLs,
//! not the mesh's internals: nothing under src/traffic/ (nor the HTTP
//! client it shares with the sidecars) reaches the mesh. (Checked on the
//! source, so a new import fails here, not in review.)

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of the Rust files under `src/<dir>` that name one of
/// `forbidden` outside a comment, as `file:line: text`; `min_files` guards
/// against a moved folder making the check pass on nothing.
fn lines_naming(dir: &str, min_files: usize, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= min_files, "the files of src/{dir} are found");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for module in forbidden {
                if line.contains(module) && !line.trim_start().starts_with("//") {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_collector_imports_no_scenario_run_mesh_or_run_error() {
    let forbidden = [
        "crate::scenario",
        "crate::run",
        "crate::mesh",
        "crate::error",
        "crate::assert",
        "crate::cli",
    ];
    let found = lines_naming("collector", 11, &forbidden);
    assert!(
        found.is_empty(),
        "the collector reaches beyond its layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_traffic_and_its_http_client_never_name_the_mesh() {
    let mut found = lines_naming("traffic", 3, &["crate::mesh"]);
    found.extend(lines_naming(
        "http_client",
        4,
        &["crate::mesh", "crate::scenario", "crate::traffic"],
    ));
    assert!(
        found.is_empty(),
        "the traffic reaches into the mesh:\n{}",
        found.join("\n")
    );
}
