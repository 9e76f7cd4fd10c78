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

use super::api::closures::ClosureRuntime;
use super::api::{self, Draft};
use super::memory;
use super::model::{Origin, Scenario};
use super::modules::FolderResolver;
use super::source::{self, SizeBudget};
use super::validate;
use crate::alloc::ScriptBudget;

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
    /// Reading, parsing and running the script and its modules.
    pub wall_time: Duration,
    /// Bytes of script text: the scenario and its modules together.
    pub max_script_size: u64,
    /// Bytes the script's values may hold, where the binary counts them
    /// ([`crate::alloc`]); elsewhere the size limits above apply instead.
    pub max_memory: usize,
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
            max_script_size: super::source::DEFAULT_MAX_SCRIPT_SIZE,
            max_memory: 64 << 20,
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
    // The wall time counts from the first byte read.
    let started = Instant::now();
    let budget = SizeBudget::new(limits.max_script_size);
    let source = source::read(path, &budget).map_err(|e| e.into_load_error(path))?;
    run_script(path, &source, limits, started, budget)
}

/// Load a script whose text is already in memory; `path` names it in errors.
pub fn load_source(path: &Path, source: &str, limits: &Limits) -> Result<Scenario, LoadError> {
    let budget = SizeBudget::new(limits.max_script_size);
    if source.len() as u64 > budget.limit() {
        return Err(source::SourceError::TooLarge(budget.limit()).into_load_error(path));
    }
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    run_script(path, source, limits, Instant::now(), budget)
}

fn run_script(
    path: &Path,
    source: &str,
    limits: &Limits,
    started: Instant,
    budget: SizeBudget,
) -> Result<Scenario, LoadError> {
    let draft = Arc::new(Mutex::new(Draft::default()));
    // Armed before the engine exists (its limits depend on counting), and
    // started over once the script is parsed: its values count, not its
    // syntax tree (which the size limit bounds).
    let mut memory = ScriptBudget::arm(limits.max_memory);
    draft.lock().expect("draft lock").closures =
        Some(ClosureRuntime::new(limits, path, memory.counting()));
    let engine = sandboxed_engine(limits, path, &draft, started, budget, &memory);
    let script_error = |err: &EvalAltResult| LoadError::Script(describe(path, err, limits));

    let ast = engine
        .compile(source)
        .map_err(|e| script_error(&EvalAltResult::from(e)))?;
    memory.restart();
    engine.run_ast(&ast).map_err(|e| script_error(&e))?;
    drop(engine);
    drop(ast);
    drop(memory);

    let draft = Arc::try_unwrap(draft)
        .map(|m| m.into_inner().expect("draft lock"))
        .unwrap_or_else(|shared| std::mem::take(&mut *shared.lock().expect("draft lock")));
    validate::finish(path, draft).map_err(LoadError::Script)
}

fn sandboxed_engine(
    limits: &Limits,
    path: &Path,
    draft: &api::SharedDraft,
    started: Instant,
    budget: SizeBudget,
    memory: &ScriptBudget,
) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_modules(limits.max_modules);
    if !memory.counting() {
        // Without counting, Rhai's own limits bound each value (at the
        // price of walking it after each change: quadratic pushes).
        engine
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size);
    }
    engine.disable_symbol("eval");
    engine.set_module_resolver(FolderResolver::for_scenario(path, budget));

    let wall_time = limits.wall_time;
    // Parsing cannot be interrupted otherwise, and Rhai's parser is
    // quadratic in distinct variable names: check the clock per token.
    #[allow(deprecated)] // "volatile", not deprecated
    engine.on_parse_token(move |token, _, _| {
        if started.elapsed() > wall_time {
            return rhai::Token::LexError(Box::new(LexError::Runtime(parse_timeout(wall_time))));
        }
        token
    });
    let (counting, max_memory) = (memory.counting(), limits.max_memory);
    engine.on_progress(move |_| {
        if counting && ScriptBudget::held() > max_memory {
            return Some(memory::too_much(max_memory).into());
        }
        (started.elapsed() > wall_time)
            .then(|| format!("the script ran longer than {} s", wall_time.as_secs_f64()).into())
    });

    // print/debug go to stderr with their place, never into the report.
    let file = path.display().to_string();
    let print_file = file.clone();
    engine.on_print(move |text| eprintln!("{print_file}: {text}"));
    engine.on_debug(move |text, _source, pos| eprintln!("{file}:{}: {text}", pos_text(pos)));

    api::register(&mut engine, draft);
    if counting {
        memory::register_checked_allocations(&mut engine, max_memory);
    }
    engine
}

fn parse_timeout(wall_time: Duration) -> String {
    format!(
        "stopped: reading and parsing the script took longer than {} s",
        wall_time.as_secs_f64()
    )
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
pub(crate) fn describe(path: &Path, err: &EvalAltResult, limits: &Limits) -> ScriptError {
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
        EvalAltResult::ErrorParsing(ParseErrorType::BadInput(LexError::Runtime(message)), _) => {
            message.clone()
        }
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
    match crate::suggest::nearest(name, api::FUNCTIONS.iter().copied()) {
        Some(known) => format!(
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

    /// A small memory limit, so the tests stay small.
    fn with_memory(max_memory: usize) -> Limits {
        Limits {
            max_memory,
            ..Limits::default()
        }
    }

    fn load_with(text: &str, limits: &Limits) -> Result<Scenario, String> {
        load_source(Path::new("test.rhai"), text, limits).map_err(|e| e.to_string())
    }

    #[test]
    fn a_huge_string_hits_the_memory_limit() {
        let err = load_with(
            "let s = \"xxxxxxxx\";\nloop { s += s; }",
            &with_memory(1 << 20),
        )
        .unwrap_err();
        assert!(err.starts_with("test.rhai:2:"), "{err}");
        assert!(
            err.contains("stopped: the script holds more than the sandbox's 1.0 MiB of memory"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_array_or_map_hits_the_memory_limit() {
        for text in [
            "let a = [1];\nloop { a += a; }",
            "let m = #{};\nlet i = 0;\nloop { m[`k${i}`] = i; i += 1; }",
        ] {
            let err = load_with(text, &with_memory(1 << 20)).unwrap_err();
            assert!(
                err.contains("holds more than the sandbox's 1.0 MiB"),
                "{err}"
            );
        }
    }

    #[test]
    fn asking_pad_or_blob_for_gigabytes_is_refused_before_allocating() {
        for text in [
            "let a = [];\na.pad(1_000_000_000, 0);",
            "let b = blob(100_000_000_000);",
            "let b = blob(10);\nb.pad(100_000_000_000, 1);",
            "let s = \"\";\ns.pad(100_000_000_000, 'x');",
            "let s = \"\";\ns.pad(100_000_000_000, \"ab\");",
        ] {
            let err = load_with(text, &with_memory(1 << 20)).unwrap_err();
            assert!(
                err.contains("holds more than the sandbox's 1.0 MiB"),
                "{text}: {err}"
            );
        }
        // Within the limit they do what Rhai's own do.
        let s = load_text(
            "let a = [1]; a.pad(3, 0); let s = \"ab\"; s.pad(5, \"xy\"); let c = \"a\"; c.pad(3, '-');\n\
             if a != [1, 0, 0] || s != \"abxyx\" || c != \"a--\" || blob(2, 7) != blob(2, 7) { throw `${a} ${s} ${c}`; }\n\
             service(\"a\", #{ routes: [route(\"/\")] });",
        );
        assert!(s.is_ok(), "{s:?}");
    }

    #[test]
    fn a_hundred_thousand_pushes_fit_in_the_default_limits() {
        // Rhai's per-value size limits walked the whole array after each
        // push: 100 000 pushes went past the 5 s wall time.
        let text = "let a = [];\nfor i in 0..100000 { a.push(i); }\n\
                    if a.len() != 100000 { throw \"lost pushes\"; }\n\
                    service(\"a\", #{ routes: [route(\"/\")] });";
        load_text(text).unwrap();
    }

    #[test]
    fn with_memory_counted_the_sandbox_walks_no_value_after_each_change() {
        let draft = Arc::new(Mutex::new(Draft::default()));
        let limits = Limits::default();
        let memory = ScriptBudget::arm(limits.max_memory);
        assert!(
            memory.counting(),
            "the unit tests count memory as the binary does"
        );
        let budget = SizeBudget::new(limits.max_script_size);
        let engine = sandboxed_engine(
            &limits,
            Path::new("t.rhai"),
            &draft,
            Instant::now(),
            budget,
            &memory,
        );
        assert_eq!(
            (
                engine.max_string_size(),
                engine.max_array_size(),
                engine.max_map_size()
            ),
            (0, 0, 0)
        );
    }

    #[test]
    fn parsing_counts_against_the_wall_time() {
        // Rhai's parser is quadratic in distinct variable names.
        let text: String = (0..20_000).map(|i| format!("let v{i} = {i};\n")).collect();
        let limits = Limits {
            wall_time: Duration::from_millis(50),
            ..Limits::default()
        };
        let err = load_with(&text, &limits).unwrap_err();
        assert!(
            err.contains("stopped: reading and parsing the script took longer than 0.05 s"),
            "{err}"
        );
    }

    #[test]
    fn a_script_past_the_size_limit_is_refused_before_it_is_parsed() {
        let limits = Limits {
            max_script_size: 10,
            ..Limits::default()
        };
        let err = load_with("let x = 1; let y = 2;", &limits).unwrap_err();
        assert!(
            err.starts_with("test.rhai: the file goes past the script size limit of 10 B"),
            "{err}"
        );
    }

    #[test]
    fn a_byte_order_mark_and_form_feeds_are_read_as_nothing_and_whitespace() {
        let s = load_text(
            "\u{feff}\u{c}proxy(\"p\", #{ routes: [route(\"/*\", #{ to: \"a\" })] });\n\u{c}\n\
             service(\"a\",\u{c}#{ routes: [route(\"/\")] });\u{c}",
        );
        assert_eq!(s.map(|s| s.components.len()), Ok(2));
        let err = load_text("\u{feff}let x = ;").unwrap_err();
        assert!(
            err.starts_with("test.rhai:1:9: "),
            "columns ignore the mark: {err}"
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
        // On a loaded machine reading and parsing may use up the 50 ms
        // first; either way the wall-time limit stopped it.
        assert!(
            err.contains("stopped: the script ran longer than 0.05 s")
                || err.contains("stopped: reading and parsing the script took longer than 0.05 s"),
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
