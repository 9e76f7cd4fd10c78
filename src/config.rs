//! `tracelab.toml`: a user's defaults, so they need not repeat flags.
//!
//! Looked up at `--config PATH`, else `$TRACELAB_CONFIG`, else
//! `./tracelab.toml` when it exists. Flags and environment variables win
//! over it. Unknown keys are errors, as in scenarios.
//!
//! ```toml
//! [collector]
//! jaeger_url = "http://localhost:16686"   # use a real Jaeger ...
//! otlp_endpoint = "http://localhost:4318" # ... and export to it
//! otlp_protocol = "http/protobuf"         # or grpc (then e.g. http://localhost:4317)
//! # jaeger_bin = "/path/to/jaeger"        # or, instead, start one per run
//! max_traces = 100000                     # embedded collector bound
//! max_body_size = "16MiB"                 # larger exports are answered 413
//! wait_timeout = "10s"                    # how long to wait for traces
//!
//! [report]
//! verbosity = "normal"                    # quiet | normal | verbose
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::Error;

pub const FILE_NAME: &str = "tracelab.toml";

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub collector: CollectorDefaults,
    #[serde(default)]
    pub report: ReportDefaults,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CollectorDefaults {
    pub jaeger_url: Option<String>,
    pub otlp_endpoint: Option<String>,
    /// `grpc`, `http/protobuf` or `http/json`.
    pub otlp_protocol: Option<String>,
    pub jaeger_bin: Option<PathBuf>,
    pub max_traces: Option<usize>,
    /// The largest export body the embedded collector accepts.
    pub max_body_size: Option<bytesize::ByteSize>,
    #[serde(default, with = "humantime_serde_opt")]
    pub wait_timeout: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportDefaults {
    pub verbosity: Option<VerbosityName>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VerbosityName {
    Quiet,
    Normal,
    Verbose,
}

/// Read the config named by the flag or the environment, or the one in the
/// current folder; no file is no error unless one was named.
pub fn load(explicit: Option<&Path>) -> Result<Config, Error> {
    let named = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("TRACELAB_CONFIG").map(PathBuf::from));
    let path = match named {
        Some(path) => path,
        None => {
            let local = PathBuf::from(FILE_NAME);
            if !local.exists() {
                return Ok(Config::default());
            }
            local
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Usage(format!("cannot read the config {}: {e}", path.display())))?;
    parse(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
}

mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses() {
        let config = parse(
            "[collector]\njaeger_url = \"http://j:16686\"\notlp_endpoint = \"http://j:4318\"\nwait_timeout = \"3s\"\n[report]\nverbosity = \"quiet\"\n",
        )
        .unwrap();
        assert_eq!(
            config.collector.jaeger_url.as_deref(),
            Some("http://j:16686")
        );
        assert_eq!(config.collector.wait_timeout, Some(Duration::from_secs(3)));
        assert_eq!(config.report.verbosity, Some(VerbosityName::Quiet));
    }

    #[test]
    fn a_jaeger_binary_can_be_a_default() {
        let config = parse("[collector]\njaeger_bin = \"/opt/jaeger\"\n").unwrap();
        assert_eq!(
            config.collector.jaeger_bin,
            Some(PathBuf::from("/opt/jaeger"))
        );
    }

    #[test]
    fn a_misspelled_key_is_an_error_with_its_line() {
        let err = parse("[collector]\njaeger_ulr = \"x\"\n").unwrap_err();
        assert!(err.contains("unknown field `jaeger_ulr`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_body_size_limit_reads_with_units_or_as_bytes() {
        let config = parse("[collector]\nmax_body_size = \"2MiB\"\n").unwrap();
        assert_eq!(
            config.collector.max_body_size.map(|s| s.as_u64()),
            Some(2 * 1024 * 1024)
        );
        let config = parse("[collector]\nmax_body_size = 1000\n").unwrap();
        assert_eq!(
            config.collector.max_body_size.map(|s| s.as_u64()),
            Some(1000)
        );
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }
}
