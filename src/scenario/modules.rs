//! `import` for scenarios: a module resolves only to a `.rhai` file inside
//! the scenario's own folder.
//!
//! Rhai's `FileModuleResolver` follows `..`, absolute paths and symlinks
//! anywhere on the machine; a scenario someone sent you must not read
//! `/etc/passwd`. This resolver rejects absolute paths and `..`, follows
//! symlinks only when they stay inside the folder, evaluates each module
//! once (its declarations count once) and reports import cycles.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

use super::source::{self, SizeBudget};

type SharedModule = Shared<Module>;
type ResolveResult = Result<SharedModule, Box<EvalAltResult>>;

/// Nested imports deeper than this are surely a mistake.
const MAX_IMPORT_DEPTH: usize = 16;

pub struct FolderResolver {
    /// The scenario's folder, canonical (symlinks resolved).
    root: PathBuf,
    /// The folder as the user named it, for module names (empty for the
    /// current folder).
    shown: PathBuf,
    /// Bytes of script text left, shared with the scenario.
    budget: SizeBudget,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    done: HashMap<PathBuf, SharedModule>,
    /// Modules being evaluated, outermost first: a cycle is an error.
    loading: Vec<PathBuf>,
}

impl FolderResolver {
    /// A resolver for the scenario at `scenario` (a file path); modules
    /// are read within `budget`, which the scenario's text shares.
    pub fn for_scenario(scenario: &Path, budget: SizeBudget) -> FolderResolver {
        let shown = scenario.parent().map(Path::to_path_buf).unwrap_or_default();
        let folder = if shown.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            shown.clone()
        };
        let root = folder.canonicalize().unwrap_or(folder);
        FolderResolver {
            root,
            shown,
            budget,
            state: Mutex::default(),
        }
    }

    /// `path` as a relative path inside the folder, with `.rhai` added when
    /// it has no extension; an error for anything that could leave it.
    fn relative(&self, path: &str, pos: Position) -> Result<PathBuf, Box<EvalAltResult>> {
        let reject = |why: &str| {
            runtime(
                format!(
                    "import {path:?}: {why}; modules are .rhai files inside the scenario's folder ({}), imported by a relative path such as \"lib/common\"",
                    self.folder_name()
                ),
                pos,
            )
        };
        if path.trim().is_empty() {
            return Err(reject("the path is empty"));
        }
        let relative = Path::new(path);
        for part in relative.components() {
            match part {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => return Err(reject("\"..\" is not allowed")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(reject("absolute paths are not allowed"));
                }
            }
        }
        let mut relative = relative.to_path_buf();
        if relative.extension().is_none() {
            relative.set_extension("rhai");
        }
        Ok(relative)
    }
}

impl ModuleResolver for FolderResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> ResolveResult {
        let relative = self.relative(path, pos)?;
        let shown = self.shown.join(&relative);
        let file = self.root.join(&relative).canonicalize().map_err(|e| {
            runtime(
                format!("import {path:?}: cannot open {}: {e}", shown.display()),
                pos,
            )
        })?;
        if !file.starts_with(&self.root) {
            return Err(runtime(
                format!(
                    "import {path:?}: {} leads outside the scenario's folder (a symlink?); modules must stay inside {}",
                    shown.display(),
                    self.folder_name()
                ),
                pos,
            ));
        }
        {
            let mut state = self.state.lock().expect("resolver lock");
            if let Some(module) = state.done.get(&file) {
                return Ok(module.clone());
            }
            if state.loading.contains(&file) {
                let chain = state
                    .loading
                    .iter()
                    .chain(std::iter::once(&file))
                    .map(|p| self.shown_name(p))
                    .collect::<Vec<_>>()
                    .join(" → ");
                return Err(runtime(format!("import cycle: {chain}"), pos));
            }
            if state.loading.len() >= MAX_IMPORT_DEPTH {
                return Err(runtime(
                    format!("imports nest deeper than {MAX_IMPORT_DEPTH} modules"),
                    pos,
                ));
            }
            state.loading.push(file.clone());
        }
        let result = evaluate(engine, &file, &shown, pos, &self.budget);
        let mut state = self.state.lock().expect("resolver lock");
        state.loading.retain(|p| p != &file);
        let module = result?;
        state.done.insert(file, module.clone());
        Ok(module)
    }
}

impl FolderResolver {
    fn folder_name(&self) -> String {
        if self.shown.as_os_str().is_empty() {
            ".".into()
        } else {
            self.shown.display().to_string()
        }
    }

    fn shown_name(&self, canonical: &Path) -> String {
        canonical
            .strip_prefix(&self.root)
            .map(|rel| self.shown.join(rel).display().to_string())
            .unwrap_or_else(|_| canonical.display().to_string())
    }
}

/// Compile and run the module file; errors inside it name the module.
fn evaluate(
    engine: &Engine,
    file: &Path,
    shown: &Path,
    pos: Position,
    budget: &SizeBudget,
) -> ResolveResult {
    let name = shown.display().to_string();
    let in_module = |err: Box<EvalAltResult>| -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorInModule(name.clone(), err, pos))
    };
    let text = source::read(file, budget)
        .map_err(|e| runtime(e.describe(&format!("the module {name}")), pos))?;
    let mut ast = engine
        .compile(&text)
        .map_err(|e| in_module(EvalAltResult::from(e).into()))?;
    ast.set_source(name.as_str());
    let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(in_module)?;
    Ok(module.into())
}

fn runtime(message: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), pos))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::scenario::load::{Limits, load_with_limits};

    /// A scenario folder with `files` (path → text); returns it and the
    /// path of "main.rhai" in it.
    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let main = dir.path().join("main.rhai");
        (dir, main)
    }

    fn load(main: &Path) -> Result<crate::scenario::Scenario, String> {
        load_with_limits(main, &Limits::default()).map_err(|e| e.to_string())
    }

    const SERVICE: &str = r#"service("a", #{ routes: [route("/")] });"#;

    #[test]
    fn a_module_in_the_folder_is_imported_and_its_functions_called() {
        let (_d, main) = folder(&[
            (
                "lib/hops.rhai",
                r#"fn hop(to) { span("a", "x", [span(to, "x")]) }"#,
            ),
            (
                "main.rhai",
                &format!(
                    "import \"lib/hops\" as hops;\n{SERVICE}\ntraffic(\"t\", #{{ path: \"/\" }});\nexpect_traces(\"t\", hops::hop(\"a\"));"
                ),
            ),
        ]);
        let scenario = load(&main).unwrap();
        assert_eq!(scenario.expectations.len(), 1);
    }

    #[test]
    fn a_module_imported_twice_declares_its_components_once() {
        let (_d, main) = folder(&[
            ("common.rhai", SERVICE),
            (
                "main.rhai",
                "import \"common\" as one;\nimport \"common\" as two;",
            ),
        ]);
        assert_eq!(load(&main).unwrap().components.len(), 1);
    }

    #[test]
    fn an_absolute_import_is_refused() {
        let (_d, main) = folder(&[("main.rhai", "\nimport \"/etc/passwd\" as p;")]);
        let err = load(&main).unwrap_err();
        assert!(err.contains("main.rhai:2:8: "), "{err}");
        assert!(err.contains("absolute paths are not allowed"), "{err}");
    }

    #[test]
    fn an_import_with_dot_dot_is_refused() {
        let (_d, main) = folder(&[("main.rhai", "import \"../x\" as x;")]);
        let err = load(&main).unwrap_err();
        assert!(err.contains("\"..\" is not allowed"), "{err}");
        let (_d, main) = folder(&[("main.rhai", "import \"lib/../../x\" as x;")]);
        assert!(load(&main).unwrap_err().contains("\"..\" is not allowed"));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_leading_out_of_the_folder_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.rhai"), SERVICE).unwrap();
        let (dir, main) = folder(&[("main.rhai", "import \"link\" as l;")]);
        std::os::unix::fs::symlink(
            outside.path().join("secret.rhai"),
            dir.path().join("link.rhai"),
        )
        .unwrap();
        let err = load(&main).unwrap_err();
        assert!(err.contains("leads outside the scenario's folder"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_inside_the_folder_is_followed() {
        let (dir, main) = folder(&[
            ("real/common.rhai", SERVICE),
            ("main.rhai", "import \"alias\" as c;"),
        ]);
        std::os::unix::fs::symlink(
            dir.path().join("real/common.rhai"),
            dir.path().join("alias.rhai"),
        )
        .unwrap();
        assert_eq!(load(&main).unwrap().components.len(), 1);
    }

    #[test]
    fn a_missing_module_names_the_file_it_looked_for() {
        let (_d, main) = folder(&[("main.rhai", "import \"nope\" as n;")]);
        let err = load(&main).unwrap_err();
        assert!(
            err.contains("main.rhai:1:8: import \"nope\": cannot open"),
            "{err}"
        );
        assert!(err.contains("nope.rhai"), "{err}");
    }

    #[test]
    fn an_import_cycle_is_an_error() {
        let (_d, main) = folder(&[
            ("a.rhai", "import \"b\" as b;"),
            ("b.rhai", "import \"a\" as a;"),
            ("main.rhai", "import \"a\" as a;"),
        ]);
        let err = load(&main).unwrap_err();
        assert!(err.contains("import cycle: "), "{err}");
        assert!(
            err.contains("a.rhai → ") && err.contains("b.rhai → "),
            "{err}"
        );
    }

    #[test]
    fn a_syntax_error_in_a_module_names_the_module_file() {
        let (dir, main) = folder(&[
            ("lib/bad.rhai", "\n\nlet x = ;"),
            ("main.rhai", "import \"lib/bad\" as b;"),
        ]);
        let err = load(&main).unwrap_err();
        let module = dir.path().join("lib/bad.rhai");
        assert!(
            err.starts_with(&format!("{}:3:9: ", module.display())),
            "{err}"
        );
    }

    #[test]
    fn a_bad_call_in_a_module_function_names_the_module_file() {
        let (dir, main) = folder(&[
            (
                "lib/routes.rhai",
                "fn broken() {\n    route(\"no-slash\")\n}",
            ),
            (
                "main.rhai",
                "import \"lib/routes\" as r;\nservice(\"a\", #{ routes: [r::broken()] });",
            ),
        ]);
        let err = load(&main).unwrap_err();
        let module = dir.path().join("lib/routes.rhai");
        assert!(
            err.starts_with(&format!("{}:2:5: ", module.display())),
            "{err}"
        );
        assert!(err.contains("a path starts with '/'"), "{err}");
    }

    #[test]
    fn a_declaration_in_a_module_keeps_the_module_in_its_origin() {
        let (dir, main) = folder(&[
            (
                "lib/calls.rhai",
                "fn caller() {\n  service(\"a\", #{ routes: [route(\"/\", #{ calls: [request(\"ghost\", \"/\")] })] })\n}",
            ),
            ("main.rhai", "import \"lib/calls\" as c;\nc::caller();"),
        ]);
        let err = load(&main).unwrap_err();
        let module = dir.path().join("lib/calls.rhai");
        assert!(
            err.starts_with(&format!("{}:2:", module.display())),
            "{err}"
        );
        assert!(err.contains("\"ghost\", which is not declared"), "{err}");
    }

    #[test]
    fn an_endless_loop_in_a_module_is_stopped() {
        let (_d, main) = folder(&[
            ("spin.rhai", "loop { }"),
            ("main.rhai", "import \"spin\" as s;"),
        ]);
        let err = load(&main).unwrap_err();
        assert!(err.contains("too many operations"), "{err}");
    }
}
