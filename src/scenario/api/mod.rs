//! The script API: the functions a scenario calls, one `register` per file.
//!
//! Script functions only build values and record declarations in a
//! [`Draft`]; nothing here runs per request or per span. `load` turns the
//! finished draft into a checked [`Scenario`](super::model::Scenario).

pub mod expect;
pub mod options;
pub mod topology;
pub mod traffic;

use std::sync::{Arc, Mutex};

use rhai::Engine;

use super::model::{Component, Expectation, Traffic};

/// Everything a script has declared so far.
#[derive(Debug, Default)]
pub struct Draft {
    pub name: Option<String>,
    pub components: Vec<Component>,
    pub traffic: Vec<Traffic>,
    pub expectations: Vec<Expectation>,
}

pub type SharedDraft = Arc<Mutex<Draft>>;

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    topology::register(engine, draft);
    traffic::register(engine, draft);
    expect::register(engine, draft);
}

/// Names of every function the API registers, for the docs check.
pub const FUNCTIONS: &[&str] = &[
    "scenario",
    "proxy",
    "service",
    "route",
    "request",
    "traffic",
    "span",
    "expect_traces",
];
