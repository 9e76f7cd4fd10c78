//! The collector is a Jaeger that knows no scripts: nothing under
//! src/collector/ reaches the scenario, the run, the mesh or the error type
//! that carries scenario errors. (Checked on the source, so a new import
//! fails here, not in review.)

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

#[test]
fn the_collector_imports_no_scenario_run_mesh_or_run_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collector");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "the collector's files are found");
    let forbidden = [
        "crate::scenario",
        "crate::run",
        "crate::mesh",
        "crate::error",
        "crate::assert",
        "crate::cli",
    ];
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
    assert!(
        found.is_empty(),
        "the collector reaches beyond its layer:\n{}",
        found.join("\n")
    );
}
