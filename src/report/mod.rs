//! Reports: the report model (`model`, plain data) and its renderings.
//! The run builds the model; only the binary's edge chooses a renderer.

pub mod human;
pub mod model;

pub use model::{RunReport, ScenarioReport};
pub mod progress;
