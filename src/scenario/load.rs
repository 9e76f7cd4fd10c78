//! Running a scenario script in a sandboxed Rhai engine and checking what it
//! declared.
//!
//! The engine has limits on operations, call depth, sizes and wall time, no
//! `eval`, `import` only inside the scenario's folder (see [`super::modules`]),
//! and errors that name `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{Engine, EvalAltResult, LexError, ParseErrorType, Position};

use super::api::{self, Draft};
use super::model::{Origin, Scenario};
use super::modules::FolderResolver;
use super::validate;

/// Limits that stop a runaway or hostile script; generous for real ones.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Modules one script (or module) may import.
    pub max_modules: usize,
    pub wall_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_call_levels: 64,
            max_expr_depth: 128,
            max_string_size: 1 << 20,
            max_array_size: 100_000,
            max_map_size: 10_000,
            max_modules: 64,
            wall_time: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the scenario {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Script(ScriptError),
}

/// An error at a place in a script.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    pub file: PathBuf,
    pub origin: Origin,
    pub message: String,
}

impl ScriptError {
    /// The file the error is in: an imported module, or the scenario.
    pub fn place(&self) -> String {
        match &self.origin.module {
            Some(module) => module.to_string(),
            None => self.file.display().to_string(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.line == 0 {
            write!(f, "{}: {}", self.place(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.place(),
                self.origin.line,
                self.origin.column,
                self.message
            )
        }
    }
}

pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    load_with_limits(path, &Limits::default())
}

pub fn load_with_limits(path: &Path, limits: &Limits) -> Result<Scenario, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let source = String::from_utf8(bytes).map_err(|e| LoadError::Script(not_utf8(path, &e)))?;
    load_source(path, &source, limits)
}

/// Where a file stops being UTF-8 text, as `file:line:col`.
fn not_utf8(path: &Path, err: &std::string::FromUtf8Error) -> ScriptError {
    let bytes = err.as_bytes();
    let valid = &bytes[..err.utf8_error().valid_up_to()];
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = std::str::from_utf8(&valid[line_start..]).map_or(1, |s| s.chars().count() + 1);
    let byte = bytes[valid.len()];
    ScriptError {
        file: path.to_path_buf(),
        origin: Origin {
            line: valid.iter().filter(|b| **b == b'\n').count() + 1,
            column,
            module: None,
        },
        message: format!("byte 0x{byte:02x} is not UTF-8: a scenario is UTF-8 text"),
    }
}

/// Load a script whose text is already in memory; `path` names it in errors.
pub fn load_source(path: &Path, source: &str, limits: &Limits) -> Result<Scenario, LoadError> {
    let draft = Arc::new(Mutex::new(Draft::default()));
    let engine = sandboxed_engine(limits, path, &draft);
    let script_error = |err: &EvalAltResult| LoadError::Script(describe(path, err, limits));

    let ast = engine
        .compile(source)
        .map_err(|e| script_error(&EvalAltResult::from(e)))?;
    engine.run_ast(&ast).map_err(|e| script_error(&e))?;
    drop(engine);

    let draft = Arc::try_unwrap(draft)
        .map(|m| m.into_inner().expect("draft lock"))
        .unwrap_or_else(|shared| std::mem::take(&mut *shared.lock().expect("draft lock")));
    validate::finish(path, draft).map_err(LoadError::Script)
}

fn sandboxed_engine(limits: &Limits, path: &Path, draft: &api::SharedDraft) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_modules(limits.max_modules);
    engine.disable_symbol("eval");
    engine.set_module_resolver(FolderResolver::for_scenario(path));

    let started = Instant::now();
    let wall_time = limits.wall_time;
    engine.on_progress(move |_| {
        (started.elapsed() > wall_time)
            .then(|| format!("the script ran longer than {} s", wall_time.as_secs_f64()).into())
    });

    // print/debug go to stderr with their place, never into the report.
    let file = path.display().to_string();
    let print_file = file.clone();
    engine.on_print(move |text| eprintln!("{print_file}: {text}"));
    engine.on_debug(move |text, _source, pos| eprintln!("{file}:{}: {text}", pos_text(pos)));

    api::register(&mut engine, draft);
    engine
}

fn pos_text(pos: Position) -> String {
    format!(
        "{}:{}",
        pos.line().unwrap_or(0),
        pos.position().unwrap_or(0)
    )
}

/// The innermost error and the module it happened in (`None`: the
/// scenario file), following calls into functions and imported modules.
fn innermost(err: &EvalAltResult, module: Option<String>) -> (&EvalAltResult, Option<String>) {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, source, inner, _) => {
            innermost(inner, (!source.is_empty()).then(|| source.clone()))
        }
        EvalAltResult::ErrorInModule(name, inner, _) => innermost(inner, Some(name.clone())),
        _ => (err, module),
    }
}

/// The innermost error (inside script functions and modules) with its own
/// position, in words a scenario author can act on.
fn describe(path: &Path, err: &EvalAltResult, limits: &Limits) -> ScriptError {
    let (inner, module) = innermost(err, None);
    let mut position = inner.position();
    let mut module = module;
    if position.is_none() {
        position = err.position();
        module = None;
    }
    let bare = without_position(inner);
    let message = match inner {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the script ran too many operations (an endless loop?); the limit keeps scenarios finite".to_string()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "calls nest too deep (endless recursion?)".to_string()
        }
        EvalAltResult::ErrorTerminated(..) => format!("stopped: {}", terminated_reason(inner)),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let (thing, limit) = if what.contains("string") {
                ("a string", format!("{} bytes", limits.max_string_size))
            } else if what.contains("array") {
                ("an array", format!("{} items", limits.max_array_size))
            } else {
                ("a map", format!("{} entries", limits.max_map_size))
            };
            format!("{thing} grew past the sandbox's limit of {limit}")
        }
        // Our own messages, without Rhai's "Runtime error: " in front.
        EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => no_such_function(signature),
        EvalAltResult::ErrorParsing(ParseErrorType::ExprTooDeep, _) => format!(
            "expressions nest deeper than the sandbox's limit of {} levels",
            limits.max_expr_depth
        ),
        EvalAltResult::ErrorParsing(
            ParseErrorType::BadInput(LexError::ImproperSymbol(symbol, _)),
            _,
        ) if symbol == "eval" => {
            "eval is switched off: a scenario cannot run text as code".to_string()
        }
        _ => bare,
    };
    ScriptError {
        file: path.to_path_buf(),
        origin: Origin {
            line: position.line().unwrap_or(0),
            column: position.position().unwrap_or(0),
            module: module.map(Into::into),
        },
        message,
    }
}

/// "no function servise(string, map)", with the likely intended function
/// when the name is a near miss of one the API has.
fn no_such_function(signature: &str) -> String {
    let (name, args) = signature.split_once(' ').unwrap_or((signature, "()"));
    let args = args
        .replace("&str | ImmutableString | String", "string")
        .replace("i64", "int")
        .replace("f64", "float");
    let call = format!("{name}{args}");
    if api::FUNCTIONS.contains(&name) {
        return format!(
            "{name}(...) does not take {}: see docs/scenarios.md for its arguments",
            call.trim_start_matches(name)
        );
    }
    let nearest = api::FUNCTIONS
        .iter()
        .map(|known| (strsim::levenshtein(name, known), known))
        .min()
        .filter(|(distance, _)| *distance <= 2 && distance * 3 <= name.len());
    match nearest {
        Some((_, known)) => format!(
            "no function {call}; did you mean {known}? See docs/scenarios.md for the functions"
        ),
        None => format!(
            "no function {call}: see docs/scenarios.md for the functions and their arguments"
        ),
    }
}

/// Rhai's message without its " (line 1, position 5)" tail.
fn without_position(err: &EvalAltResult) -> String {
    let text = err.to_string();
    let tail = format!(" ({})", err.position());
    match text.strip_suffix(&tail) {
        Some(stripped) if !err.position().is_none() => stripped.to_string(),
        _ => text,
    }
}

fn terminated_reason(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorTerminated(token, _) => token
            .clone()
            .into_string()
            .unwrap_or_else(|_| "terminated".into()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Scenario, String> {
        load_source(Path::new("test.rhai"), text, &Limits::default()).map_err(|e| e.to_string())
    }

    const SANDBOX: &str = r#"
        proxy("front-proxy", #{ routes: [route("/*", #{ to: "service1", operation: "checkAvailability" })] });
        service("service1", #{ routes: [route("/trace/1", #{ calls: [request("service2", "/trace/2", #{ operation: "checkStock" })] })] });
        service("service2", #{ routes: [route("/trace/2")] });
        traffic("t", #{ requests: 3, path: "/trace/1" });
        expect_traces("t", span("front-proxy", "checkAvailability"));
    "#;

    #[test]
    fn a_sandbox_script_becomes_a_scenario_named_after_its_file() {
        let scenario = load_text(SANDBOX).unwrap();
        assert_eq!(scenario.name, "test");
        assert_eq!(scenario.components.len(), 3);
        assert_eq!(scenario.traffic[0].target, "front-proxy");
        assert_eq!(scenario.expectations.len(), 1);
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let err = load_text("let x = ;\n").unwrap_err();
        assert!(err.starts_with("test.rhai:1:9: "), "{err}");
    }

    #[test]
    fn a_misspelled_option_is_an_error_listing_the_real_keys() {
        let err = load_text("\n\nlet r = route(\"/\", #{ bdy: \"x\" });").unwrap_err();
        assert!(err.starts_with("test.rhai:3:9: "), "{err}");
        assert!(err.contains("unknown field `bdy`"), "{err}");
    }

    #[test]
    fn an_unknown_function_says_where_to_look() {
        let err = load_text("servise(\"a\", #{});").unwrap_err();
        assert!(err.contains("test.rhai:1:1: no function servise"), "{err}");
    }

    #[test]
    fn an_endless_loop_hits_the_operation_limit() {
        let err = load_text("loop { }").unwrap_err();
        assert!(err.contains("too many operations"), "{err}");
    }

    #[test]
    fn endless_recursion_is_stopped() {
        let err = load_text("fn f(n) { f(n + 1) } f(0);").unwrap_err();
        assert!(err.contains("nest too deep"), "{err}");
    }

    #[test]
    fn a_huge_string_hits_the_size_limit() {
        let err = load_text("let s = \"xxxxxxxx\";\nloop { s += s; }").unwrap_err();
        assert!(err.starts_with("test.rhai:2:"), "{err}");
        assert!(
            err.contains("a string grew past the sandbox's limit of 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_array_hits_the_size_limit() {
        let err = load_text("let a = [1];\nloop { a += a; }").unwrap_err();
        assert!(
            err.contains("an array grew past the sandbox's limit"),
            "{err}"
        );
    }

    #[test]
    fn a_slow_script_hits_the_wall_time_limit() {
        let limits = Limits {
            max_operations: u64::MAX,
            wall_time: Duration::from_millis(50),
            ..Limits::default()
        };
        let err = load_source(Path::new("slow.rhai"), "loop { }", &limits)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stopped: the script ran longer than 0.05 s"),
            "{err}"
        );
    }

    #[test]
    fn deeply_nested_expressions_are_refused() {
        let text = format!("let x = {}1{};", "(".repeat(500), ")".repeat(500));
        let err = load_text(&text).unwrap_err();
        assert!(err.starts_with("test.rhai:1:"), "{err}");
    }

    #[test]
    fn eval_is_disabled() {
        let err = load_text("eval(\"1\");").unwrap_err();
        assert!(err.contains("test.rhai:1:1"), "{err}");
    }

    #[test]
    fn an_error_inside_a_script_function_points_inside_it() {
        let err = load_text("fn bad() {\n  route(\"nope\")\n}\nbad();").unwrap_err();
        assert!(err.starts_with("test.rhai:2:3: "), "{err}");
        assert!(err.contains("a path starts with '/'"), "{err}");
    }
}
