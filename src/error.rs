//! The errors that end a run, each with the exit code CI sees.
//!
//! Exit codes: 0 every check passed, 1 a check failed (not an error: see
//! [`crate::report::RunReport::passed`]), 2 the script or the command line
//! is wrong, 3 the infrastructure failed (a port, a collector), 130
//! interrupted (Ctrl-C or SIGTERM; started processes are stopped first).
//!
//! This is the edge's error type: it carries scenario errors, so the parts
//! below the run that know no scenarios have errors of their own (the
//! collector's `CollectorError`, intake `Refusal`s), turned into these
//! where a command runs them.

use crate::scenario::LoadError;

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INFRA: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Script(#[from] LoadError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Infra(String),
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Script(_) | Error::Usage(_) => EXIT_USAGE,
            Error::Infra(_) => EXIT_INFRA,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }
}
