//! Scenarios: a Rhai script in, plain data ([`model::Scenario`]) out.
//!
//! `api` holds the functions scripts call, `source` reads a script's text
//! within limits, `load` runs it in a sandboxed engine (`memory` bounds
//! what it holds), `modules` resolves `import` inside the scenario's
//! folder, `validate` checks the declarations against each other (with
//! `names`, that expectations name only services and operations the run
//! can produce; with
//! `loops`, that no request can go round in a loop); `statuses` says
//! which answers outside 200-399 a block's requests get by design.
//! Nothing downstream of this module sees Rhai.

pub mod api;
pub mod load;
pub mod loops;
pub mod memory;
pub mod model;
pub mod modules;
pub mod names;
pub mod source;
pub mod statuses;
pub mod validate;

pub use load::{LoadError, ScriptError, load};
pub use model::Scenario;
