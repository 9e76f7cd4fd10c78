//! Closures as predicates, in Rhai: a span's `where: |span| ...` and a
//! tag's `|value| ...` become [`Closure`]s of the model, run when traces
//! are judged, inside the script's sandbox limits.
//!
//! ```rhai
//! span("*", "*", #{ where: |s| s.tags["http.url"]?.starts_with("/api") ?? false })
//! span("*", "*", #{ tags: #{ "http.url": |url| url.starts_with("/api") } })
//! ```
//!
//! Each call gets the script's operation limit, its wall time and its
//! memory budget ([`crate::alloc`]) anew, on an engine that has Rhai's
//! language and standard library but none of the declarations
//! (`service(...)`, `expect_traces(...)`): a closure judges, it declares
//! nothing. A closure that fails (an error, an endless loop, too much
//! memory, a result that is not a bool) keeps its error, with the place in
//! the script, and the run stops with exit code 2.

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rhai::{AST, Dynamic, Engine, FnPtr, Module, NativeCallContext, Shared};

type SharedModule = Shared<Module>;

use super::options::{ScriptResult, error_at, origin};
use super::strict::{span_value, tag_value};
use crate::alloc::ScriptBudget;
use crate::scenario::load::{Limits, describe};
use crate::scenario::memory;
use crate::scenario::model::{Closure, ClosureError, Origin, ScriptPredicate, SpanFacts, Subject};

thread_local! {
    /// When the closure running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The engine every closure of one script runs on, with its limits.
pub struct ClosureRuntime {
    engine: Engine,
    limits: Limits,
    file: PathBuf,
}

impl fmt::Debug for ClosureRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClosureRuntime({})", self.file.display())
    }
}

impl ClosureRuntime {
    /// `counting`: the process counts what a thread allocates, so the
    /// memory budget replaces Rhai's per-value size limits (as in `load`).
    pub fn new(limits: &Limits, file: &Path, counting: bool) -> Arc<ClosureRuntime> {
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
            .set_max_modules(0);
        if !counting {
            engine
                .set_max_string_size(limits.max_string_size)
                .set_max_array_size(limits.max_array_size)
                .set_max_map_size(limits.max_map_size);
        }
        engine.disable_symbol("eval");
        engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        super::strict::register(&mut engine);
        let (wall_time, max_memory) = (limits.wall_time, limits.max_memory);
        engine.on_progress(move |_| {
            if counting && ScriptBudget::held() > max_memory {
                return Some(
                    format!(
                        "the closure holds more than the sandbox's {} of memory",
                        bytesize::ByteSize::b(max_memory as u64).display().iec()
                    )
                    .into(),
                );
            }
            let late = DEADLINE.with(Cell::get).is_some_and(|d| Instant::now() > d);
            late.then(|| {
                format!("the closure ran longer than {} s", wall_time.as_secs_f64()).into()
            })
        });
        let shown = file.display().to_string();
        engine.on_print(move |text| eprintln!("{shown}: {text}"));
        let shown = file.display().to_string();
        engine.on_debug(move |text, _, pos| {
            eprintln!(
                "{shown}:{}:{}: {text}",
                pos.line().unwrap_or(0),
                pos.position().unwrap_or(0)
            )
        });
        if counting {
            memory::register_checked_allocations(&mut engine, max_memory);
        }
        Arc::new(ClosureRuntime {
            engine,
            limits: limits.clone(),
            file: file.to_path_buf(),
        })
    }

    /// With the default limits, for engines made outside `load` (tests).
    pub fn with_defaults() -> Arc<ClosureRuntime> {
        let limits = Limits::default();
        let counting = ScriptBudget::arm(limits.max_memory).counting();
        ClosureRuntime::new(&limits, Path::new("script"), counting)
    }
}

/// What a closure is: a span predicate or a tag predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    Span,
    Tag,
}

/// A closure of the script as a [`Closure`] of the model; `what` names
/// where it stands ("span(\"*\", \"*\"): where") for errors.
pub fn closure(
    ctx: &NativeCallContext,
    runtime: &Arc<ClosureRuntime>,
    what: &str,
    takes: Takes,
    fn_ptr: FnPtr,
) -> ScriptResult<Closure> {
    let argument = match takes {
        Takes::Span => "|span| ...",
        Takes::Tag => "|value| ...",
    };
    let name = fn_ptr.fn_name().to_string();
    let wanted = fn_ptr.curry().len() + 1;
    let lib = find_lib(ctx.namespaces(), &name, wanted).ok_or_else(|| {
        error_at(
            ctx,
            format!(
                "{what}: give a closure of one argument, {argument}, or a function of the script that takes one (Fn(\"name\"))"
            ),
        )
    })?;
    Ok(Closure::new(
        Arc::new(RhaiPredicate {
            runtime: Arc::clone(runtime),
            ast: AST::new_from_module(lib),
            fn_ptr,
            what: what.to_string(),
            origin: origin(ctx),
        }),
        origin(ctx),
    ))
}

/// The namespace (the script's, or an imported module's) that defines the
/// function a pointer names, with that many parameters.
fn find_lib(namespaces: &[SharedModule], name: &str, params: usize) -> Option<SharedModule> {
    namespaces
        .iter()
        .rev()
        .find(|m| m.get_script_fn(name, params).is_some())
        .cloned()
}

struct RhaiPredicate {
    runtime: Arc<ClosureRuntime>,
    /// The functions of the namespace the closure was written in.
    ast: AST,
    fn_ptr: FnPtr,
    what: String,
    /// Where the closure was given, for errors that have no place.
    origin: Origin,
}

impl ScriptPredicate for RhaiPredicate {
    fn call(&self, subject: Subject<'_>) -> Result<bool, ClosureError> {
        let (argument, on) = match subject {
            Subject::Span(facts) => (span_value(facts), span_words(facts)),
            Subject::Tag(value) => (tag_value(value), String::new()),
        };
        let runtime = &self.runtime;
        let result = {
            let _budget = ScriptBudget::arm(runtime.limits.max_memory);
            DEADLINE.with(|d| d.set(Some(Instant::now() + runtime.limits.wall_time)));
            let result = self
                .fn_ptr
                .call::<Dynamic>(&runtime.engine, &self.ast, (argument,));
            DEADLINE.with(|d| d.set(None));
            result
        };
        let failed = |message: String, origin: Origin| ClosureError {
            origin,
            message: format!("{}: the closure failed{on}: {message}", self.what),
        };
        match result {
            Ok(value) if value.is_bool() => Ok(value.as_bool().unwrap_or(false)),
            // `?.` on a missing tag gives (): no.
            Ok(value) if value.is_unit() => Ok(false),
            Ok(value) => Err(failed(
                format!(
                    "it must return true or false, not {}",
                    type_words(value.type_name())
                ),
                self.origin.clone(),
            )),
            Err(e) => {
                let mut error = describe(&runtime.file, &e, &runtime.limits);
                if error.origin.line == 0 {
                    error.origin = self.origin.clone();
                } else if error.origin.module.is_none() {
                    error.origin.module = self.origin.module.clone();
                }
                Err(failed(explain(&error.message), error.origin))
            }
        }
    }
}

/// The sandbox's message, said of a closure, with a hint where one helps.
fn explain(message: &str) -> String {
    let declares = super::FUNCTIONS
        .iter()
        .find(|f| message.starts_with(&format!("{f}(...) does not take")));
    if let Some(function) = declares {
        return format!(
            "{function}(...) is not available in a closure: a closure judges spans, \
             it declares nothing (call {function}(...) at the script's top level)"
        );
    }
    let message = message.replace(
        "the script ran too many operations",
        "it ran too many operations",
    );
    // Rhai's words for a property no getter serves.
    if let Some(rest) = message.split("Unknown property '").nth(1)
        && let Some((name, _)) = rest.split_once('\'')
        && message.contains("for type 'span'")
    {
        return super::strict::unknown_field(name);
    }
    if message.contains("((),") || message.contains("(())") {
        return format!(
            "{message} (a tag the span lacks reads as (): write s.tags[\"key\"]?.starts_with(\"/api\") ?? false)"
        );
    }
    message
}

/// A Rhai type name as a script author knows the values.
fn type_words(name: &str) -> &str {
    match name {
        "i64" => "an integer",
        "f64" => "a float",
        "string" => "a string",
        "map" => "a map",
        "array" => "an array",
        other => other,
    }
}

/// " on span service1 checkStock [abc] of trace t1", for errors.
fn span_words(facts: &SpanFacts) -> String {
    format!(
        " on span {} {} [{}] of trace {}",
        facts.service, facts.operation, facts.span_id, facts.trace_id
    )
}
