//! The corpus of broken and hostile scripts in tests/scripts/broken/: each
//! `NAME.rhai` is refused by `tracelab check` and `tracelab run` with exit 2,
//! nothing started, and the exact first line of stderr in `NAME.expected`
//! (`file:line:col: message`, the path relative to the repository root).
//! Modules the corpus imports live in its `lib/` folder.

mod common;

use std::path::PathBuf;

use common::*;

const CORPUS: &str = "tests/scripts/broken";

/// Every script of the corpus, as a path relative to the repository root.
fn corpus() -> Vec<PathBuf> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root().join(CORPUS))
        .expect("the corpus folder")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rhai"))
        .map(|path| PathBuf::from(CORPUS).join(path.file_name().unwrap()))
        .collect();
    scripts.sort();
    scripts
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[test]
fn the_corpus_holds_at_least_20_scripts_each_with_its_expected_error() {
    let scripts = corpus();
    assert!(
        scripts.len() >= 20,
        "only {} scripts in {CORPUS}",
        scripts.len()
    );
    let missing: Vec<_> = scripts
        .iter()
        .filter(|s| !root().join(s.with_extension("expected")).is_file())
        .collect();
    assert!(missing.is_empty(), "no .expected beside {missing:?}");
    let orphans: Vec<_> = std::fs::read_dir(root().join(CORPUS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "expected"))
        .filter(|p| !p.with_extension("rhai").is_file())
        .collect();
    assert!(orphans.is_empty(), "no script for {orphans:?}");
}

#[test]
fn every_broken_script_is_refused_with_exit_2_and_its_exact_error() {
    let mut wrong = Vec::new();
    for script in corpus() {
        let Ok(expected) = std::fs::read_to_string(root().join(script.with_extension("expected")))
        else {
            continue; // reported by the test above
        };
        let expected = expected.trim_end();
        let path = path_str(&script);

        let check = tracelab(&["check", path]);
        let check_err = stderr(&check);
        if check.status.code() != Some(2) || first_line(&check_err) != expected {
            wrong.push(format!(
                "check {path}: exit {:?}\n  expected: {expected}\n  got:      {}",
                check.status.code(),
                first_line(&check_err)
            ));
        }

        let run = tracelab(&["run", path]);
        let run_err = stderr(&run);
        let want = format!("tracelab: error: {expected}");
        if run.status.code() != Some(2) || first_line(&run_err) != want || !run.stdout.is_empty() {
            wrong.push(format!(
                "run {path}: exit {:?}, stdout {:?}\n  expected: {want}\n  got:      {}",
                run.status.code(),
                stdout(&run),
                first_line(&run_err)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
