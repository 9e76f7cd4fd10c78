//! `tracelab run --watch`: which files a run depends on, and when they
//! changed. The binary's loop (in `lib.rs`) runs, then polls
//! [`Snapshot`]s of [`watched_files`] through a [`Debounce`] and runs
//! again once a change has settled.
//!
//! Polling, not file-system events: a scenario is a handful of small
//! files, reading them four times a second costs nothing, and it works the
//! same on every file system (editors that replace a file by renaming,
//! network mounts, containers). A file's stamp is its length and a hash of
//! its bytes, so a save that keeps the modification time (or lands twice in
//! one second) is still seen, and a `touch` without a change is not.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_millis(250);

/// The most `.rhai` files watched in a folder when a scenario imports a
/// module by a computed path (which a text scan cannot follow).
const MAX_FOLDER_FILES: usize = 1_000;

/// The scenarios and every module they import, transitively, found by
/// reading their `import "..."` statements. Modules resolve as the loader
/// resolves them: relative to the scenario's folder, `.rhai` added to a
/// path without an extension, never outside the folder. A scenario that
/// imports a computed path gets every `.rhai` file of its folder instead.
pub fn watched_files(scenarios: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for scenario in scenarios {
        let folder = scenario.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut seen = HashSet::new();
        let mut queue = vec![scenario.clone()];
        let mut computed = false;
        while let Some(file) = queue.pop() {
            if !seen.insert(file.clone()) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue; // Missing now; the snapshot sees it come back.
            };
            let imports = imports(&text);
            computed |= imports.computed;
            queue.extend(imports.paths.iter().filter_map(|p| module_path(&folder, p)));
        }
        if computed {
            seen.extend(rhai_files(&folder));
        }
        out.extend(seen);
    }
    out.into_iter().collect()
}

/// What a script imports.
#[derive(Debug, Default, PartialEq)]
struct Imports {
    /// String-literal paths, as written.
    paths: Vec<String>,
    /// An `import` of something other than a string literal.
    computed: bool,
}

/// The `import` statements of a script, comments and strings skipped.
fn imports(text: &str) -> Imports {
    let mut found = Imports::default();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'"' | b'`' => i = string_end(bytes, i),
            b'i' if word_at(text, i, "import") => {
                let rest = text[i + 6..].trim_start();
                let at = bytes.len() - rest.len();
                if rest.starts_with('"') || rest.starts_with('`') {
                    let end = string_end(bytes, at);
                    found
                        .paths
                        .push(text[at + 1..end.saturating_sub(1).max(at + 1)].to_string());
                    // `import "lib/" + name as m`: the literal is not all.
                    let after = text[end..].trim_start();
                    if !(after.starts_with("as") || after.starts_with(';') || after.is_empty()) {
                        found.computed = true;
                    }
                    i = end;
                } else {
                    found.computed = true;
                    i = at;
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// `word` at `i`, not inside a longer identifier.
fn word_at(text: &str, i: usize, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text[i..].starts_with(word)
        && !text[..i].chars().next_back().is_some_and(ident)
        && !text[i + word.len()..].chars().next().is_some_and(ident)
}

/// The index just past the string starting at `start` (its quote).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A module path as the loader resolves it, or `None` where it would
/// refuse it (absolute, `..`).
fn module_path(folder: &Path, import: &str) -> Option<PathBuf> {
    let relative = Path::new(import);
    if import.trim().is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    let mut path = folder.join(relative);
    if path.extension().is_none() {
        path.set_extension("rhai");
    }
    Some(path)
}

fn rhai_files(folder: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![if folder.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        folder.to_path_buf()
    }];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rhai") {
                out.push(path);
                if out.len() >= MAX_FOLDER_FILES {
                    return out;
                }
            }
        }
    }
    out
}

/// What a file looked like: `None` while it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    hash: u64,
}

/// The watched files as they are now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, Option<Stamp>>);

impl Snapshot {
    pub fn take(files: &[PathBuf]) -> Snapshot {
        Snapshot(
            files
                .iter()
                .map(|f| {
                    let stamp = std::fs::read(f).ok().map(|bytes| {
                        let mut hasher = std::collections::hash_map::DefaultHasher::new();
                        bytes.hash(&mut hasher);
                        Stamp {
                            len: bytes.len() as u64,
                            hash: hasher.finish(),
                        }
                    });
                    (f.clone(), stamp)
                })
                .collect(),
        )
    }

    /// Files whose stamp differs (changed, created or deleted).
    pub fn changed_since(&self, earlier: &Snapshot) -> Vec<PathBuf> {
        self.0
            .iter()
            .filter(|(path, stamp)| earlier.0.get(*path) != Some(stamp))
            .map(|(path, _)| path.clone())
            .chain(
                earlier
                    .0
                    .keys()
                    .filter(|p| !self.0.contains_key(*p))
                    .cloned(),
            )
            .collect()
    }
}

/// Waits for a change to settle: an editor saving writes a file in
/// several steps, and `git checkout` changes several files one after the
/// other, so a run starts only when a poll saw the files changed and the
/// next saw them the same again.
pub struct Debounce {
    /// The files as the last run saw them.
    baseline: Snapshot,
    /// The previous poll.
    last: Snapshot,
}

impl Debounce {
    pub fn new(baseline: Snapshot) -> Debounce {
        Debounce {
            last: baseline.clone(),
            baseline,
        }
    }

    /// The files changed since the baseline, once they hold still; `None`
    /// while nothing changed or they are still changing.
    pub fn observe(&mut self, now: Snapshot) -> Option<Vec<PathBuf>> {
        let settled = now == self.last;
        self.last = now;
        if !settled {
            return None;
        }
        let changed = self.last.changed_since(&self.baseline);
        (!changed.is_empty()).then_some(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn import_statements_are_found_outside_comments_and_strings() {
        let found = imports(
            r#"
            import "lib/common" as common;
            import   "shapes.rhai" as shapes; // import "commented" as c;
            /* import "block" as b; */
            let s = "import \"in-a-string\" as x";
            let important = 1; fn my_import() {}
            import `backtick` as raw;
            "#,
        );
        assert_eq!(found.paths, ["lib/common", "shapes.rhai", "backtick"]);
        assert!(!found.computed);
        assert!(imports(r#"import "lib/" + name as m;"#).computed);
        assert!(imports("let p = \"x\"; import p as m;").computed);
    }

    #[test]
    fn the_watched_files_are_the_scenario_and_its_modules_transitively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("main.rhai"), r#"import "lib/common" as c;"#);
        write(
            &root.join("lib/common.rhai"),
            r#"import "lib/deep" as d; import "../etc/passwd" as x;"#,
        );
        write(&root.join("lib/deep.rhai"), "fn f() { 1 }");
        write(&root.join("other.rhai"), "not imported");
        let files = watched_files(&[root.join("main.rhai")]);
        assert_eq!(
            files,
            [
                root.join("lib/common.rhai"),
                root.join("lib/deep.rhai"),
                root.join("main.rhai")
            ]
        );
        // A computed import: the whole folder.
        write(
            &root.join("dynamic.rhai"),
            "let m = \"lib/deep\"; import m as d;",
        );
        let files = watched_files(&[root.join("dynamic.rhai")]);
        assert_eq!(files.len(), 5, "{files:?}");
    }

    #[test]
    fn a_change_reruns_once_it_settles_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.rhai");
        let module = dir.path().join("lib.rhai");
        write(&main, "import \"lib\" as lib;");
        write(&module, "fn a() { 1 }");
        let files = watched_files(std::slice::from_ref(&main));
        let mut debounce = Debounce::new(Snapshot::take(&files));
        assert_eq!(
            debounce.observe(Snapshot::take(&files)),
            None,
            "nothing changed"
        );

        write(&module, "fn a() { 2 }");
        assert_eq!(debounce.observe(Snapshot::take(&files)), None, "changing");
        write(&module, "fn a() { 22 }");
        assert_eq!(
            debounce.observe(Snapshot::take(&files)),
            None,
            "still changing"
        );
        assert_eq!(
            debounce.observe(Snapshot::take(&files)),
            Some(vec![module.clone()]),
            "settled: run again"
        );

        // A rewrite with the same bytes is no change; a deleted file is.
        let mut debounce = Debounce::new(Snapshot::take(&files));
        write(&module, "fn a() { 22 }");
        debounce.observe(Snapshot::take(&files));
        assert_eq!(debounce.observe(Snapshot::take(&files)), None);
        std::fs::remove_file(&module).unwrap();
        debounce.observe(Snapshot::take(&files));
        assert_eq!(debounce.observe(Snapshot::take(&files)), Some(vec![module]));
    }
}
