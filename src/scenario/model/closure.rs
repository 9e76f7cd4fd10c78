//! Predicates a script writes as closures (`|span| ...` in a span's
//! `where`, `|value| ...` as a tag's value), as the model holds them: an
//! opaque [`Closure`] behind the [`ScriptPredicate`] trait. The script API
//! implements the trait with Rhai (in its sandbox); the assertions call it
//! with plain data ([`Subject`]) and never see Rhai.
//!
//! A closure that fails (an error, an endless loop stopped by the sandbox)
//! keeps its first [`ClosureError`] and answers no more: the run then
//! stops with exit code 2, naming the place in the script.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::Origin;

/// What a closure is asked about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A span predicate gets the whole span.
    Span(&'a SpanFacts),
    /// A tag predicate gets the tag's value (a span without the tag fails
    /// it without a call).
    Tag(&'a TagValue),
}

/// A span as a closure sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanFacts {
    pub service: String,
    pub operation: String,
    /// `client`, `server`, ...; `None` when the span says none.
    pub kind: Option<String>,
    pub error: bool,
    pub duration_us: u64,
    pub start_us: u64,
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: Option<String>,
    pub tags: Vec<(String, TagValue)>,
}

/// A tag's value with the type Jaeger gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Why a closure could not answer: where in the script, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosureError {
    pub origin: Origin,
    pub message: String,
}

/// Runs a script's closure. Implemented by the script API.
pub trait ScriptPredicate: Send + Sync {
    /// `Ok(true)` when the subject passes.
    fn call(&self, subject: Subject<'_>) -> Result<bool, ClosureError>;
}

/// A closure of the script, with where it was written.
#[derive(Clone)]
pub struct Closure {
    predicate: Arc<dyn ScriptPredicate>,
    /// Where the closure was written, for reports.
    pub origin: Origin,
    failure: Arc<OnceLock<ClosureError>>,
}

impl Closure {
    pub fn new(predicate: Arc<dyn ScriptPredicate>, origin: Origin) -> Closure {
        Closure {
            predicate,
            origin,
            failure: Arc::default(),
        }
    }

    /// Ask the closure; `None` once it has failed (this time or before):
    /// the run is going to stop, and counts as no match meanwhile.
    pub fn test(&self, subject: Subject<'_>) -> Option<bool> {
        if self.failure.get().is_some() {
            return None;
        }
        match self.predicate.call(subject) {
            Ok(passed) => Some(passed),
            Err(e) => {
                let _ = self.failure.set(e);
                None
            }
        }
    }

    /// The first failure, if it failed.
    pub fn failure(&self) -> Option<&ClosureError> {
        self.failure.get()
    }

    /// "the closure at 12:5", for reports.
    pub fn describe(&self) -> String {
        format!("the closure at {}", self.origin)
    }
}

impl fmt::Debug for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Closure({})", self.origin)
    }
}

/// Two closures are the same when they are one value of the script.
impl PartialEq for Closure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.predicate, &other.predicate)
    }
}
