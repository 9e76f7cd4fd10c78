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

type SharedModule = Shared<Module>;
type ResolveResult = Result<SharedModule, Box<EvalAltResult>>;

/// Nested imports deeper than this are surely a mistake.
const MAX_IMPORT_DEPTH: usize = 16;

pub struct FolderResolver {
    /// The scenario's folder, canonical (symlinks resolved).
    root: PathBuf,
    /// The folder as the user named it, for messages and module names.
    shown: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    done: HashMap<PathBuf, SharedModule>,
    /// Modules being evaluated, outermost first: a cycle is an error.
    loading: Vec<PathBuf>,
}

impl FolderResolver {
    /// A resolver for the scenario at `scenario` (a file path).
    pub fn for_scenario(scenario: &Path) -> FolderResolver {
        let shown = scenario
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let root = shown.canonicalize().unwrap_or_else(|_| shown.clone());
        FolderResolver {
            root,
            shown,
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
                    self.shown.display()
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
                    self.shown.display()
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
        let result = evaluate(engine, &file, &shown, pos);
        let mut state = self.state.lock().expect("resolver lock");
        state.loading.retain(|p| p != &file);
        let module = result?;
        state.done.insert(file, module.clone());
        Ok(module)
    }
}

impl FolderResolver {
    fn shown_name(&self, canonical: &Path) -> String {
        canonical
            .strip_prefix(&self.root)
            .map(|rel| self.shown.join(rel).display().to_string())
            .unwrap_or_else(|_| canonical.display().to_string())
    }
}

/// Compile and run the module file; errors inside it name the module.
fn evaluate(engine: &Engine, file: &Path, shown: &Path, pos: Position) -> ResolveResult {
    let name = shown.display().to_string();
    let in_module = |err: Box<EvalAltResult>| -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorInModule(name.clone(), err, pos))
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| runtime(format!("cannot read the module {name}: {e}"), pos))?;
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
