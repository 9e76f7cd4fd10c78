//! `tracelab diff OLD.json NEW.json`: its flags, and the comparison they
//! settle into (thresholds, output).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Mode;
use super::parse::parse_duration;
use crate::diff::{Pct, Thresholds};
use crate::error::Error;
use crate::report::{Format, ReportTarget};

pub(crate) const DIFF_ABOUT: &str = "\
Compare two JSON reports (`--report json=PATH` of two runs, e.g. the last
main run's and this one's): checks whose verdict changed, latency
percentiles per traffic block and per span name (duration and self time)
with the change as a ratio, spans and services that appeared or vanished.

Exit 1 when something got worse: a check that passed (or is new) fails, or
a judged percentile of a traffic block or span grew --max-ratio times or
more and by --min-delta or more. Self time points at the span that slowed
(`← slowed here`) rather than its callers, which only waited for it.
Exit 2 when a file is not a tracelab.report/v1 report or the two share no
scenario.";

pub(crate) const DIFF_EXAMPLES: &str = "\
Examples:
  tracelab --report json=report.json scenarios/*.rhai
  tracelab diff main/report.json report.json      the last main run's report against this one
  tracelab diff --percentiles p50,p90,p99 --min-delta 5ms old.json new.json
  tracelab diff --report json=diff.json old.json new.json";

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report, e.g. the last main run's.
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,

    /// The later report.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,

    /// A judged percentile this many times the old one or more is worse
    /// (when it also grew by --min-delta).
    #[arg(long, value_name = "RATIO", default_value_t = 1.5)]
    pub max_ratio: f64,

    /// ... and only when it grew by at least this much: below it is noise
    /// (loopback latencies jitter by a millisecond or two).
    #[arg(long, value_name = "DURATION", default_value = "2ms", value_parser = parse_duration)]
    pub min_delta: Duration,

    /// The percentiles judged, comma-separated, of p50, p90, p99 and max
    /// (p99 and max of a few requests are one request's luck).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "p50,p90",
        value_parser = Pct::parse
    )]
    pub percentiles: Vec<Pct>,

    /// Spans or services that appeared or vanished count as worse too.
    #[arg(long)]
    pub fail_on_shape_change: bool,

    /// Also list span names that did not move, with every percentile.
    #[arg(short, long)]
    pub verbose: bool,

    /// Also write the diff as `json` (schema tracelab.diff/v1) to PATH, or
    /// to stdout without one (the terminal diff then goes to stderr).
    #[arg(long = "report", value_name = "FORMAT[=PATH]", value_parser = ReportTarget::parse)]
    pub reports: Vec<ReportTarget>,
}

#[derive(Debug)]
pub struct DiffOptions {
    pub old: PathBuf,
    pub new: PathBuf,
    pub thresholds: Thresholds,
    pub verbose: bool,
    pub reports: Vec<ReportTarget>,
}

pub(crate) fn diff_mode(args: DiffArgs) -> Result<Mode, Error> {
    if !(args.max_ratio.is_finite() && args.max_ratio > 1.0) {
        return Err(Error::Usage(format!(
            "--max-ratio {}: give a ratio above 1, e.g. 1.5 for 50% slower",
            args.max_ratio
        )));
    }
    if let Some(r) = args
        .reports
        .iter()
        .find(|r| r.format == Format::Junit || (r.format == Format::Human && r.path.is_none()))
    {
        return Err(Error::Usage(format!(
            "diff --report {}: use json[=PATH] (or human=PATH)",
            if r.format == Format::Junit {
                "junit"
            } else {
                "human"
            }
        )));
    }
    if args.reports.iter().filter(|r| r.path.is_none()).count() > 1 {
        return Err(Error::Usage(
            "only one --report can go to stdout: give the others a path".into(),
        ));
    }
    let mut percentiles = args.percentiles;
    percentiles.dedup();
    Ok(Mode::Diff(DiffOptions {
        old: args.old,
        new: args.new,
        thresholds: Thresholds {
            max_ratio: args.max_ratio,
            min_delta_ms: args.min_delta.as_secs_f64() * 1000.0,
            percentiles,
            fail_on_shape_change: args.fail_on_shape_change,
        },
        verbose: args.verbose,
        reports: args.reports,
    }))
}
