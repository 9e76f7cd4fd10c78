//! Scenarios: a Rhai script in, plain data ([`model::Scenario`]) out.
//!
//! `api` holds the functions scripts call, `load` runs a script in a
//! sandboxed engine, `modules` resolves `import` inside the scenario's
//! folder, `validate` checks the declarations against each other (and with
//! `loops`, that no request can go round in a loop); `statuses` says
//! which answers outside 200-399 a block's requests get by design.
//! Nothing downstream of this module sees Rhai.

pub mod api;
pub mod load;
pub mod loops;
pub mod model;
pub mod modules;
pub mod statuses;
pub mod validate;

pub use load::{LoadError, ScriptError, load};
pub use model::Scenario;
