//! Progress on stderr while a run goes on: a bar per traffic block, a
//! spinner line for the other phases. Each appears only once its phase has
//! lasted [`SHOW_AFTER`], so quick runs print nothing but the report, and
//! nothing is drawn when stderr is not a terminal, so CI logs stay clean.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::Observer;
use crate::traffic::RequestRecord;

/// How long a phase runs before its progress shows.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct ProgressBars {
    current: Mutex<Option<ProgressBar>>,
    /// Requests of the current block that left, answered or not.
    sent: AtomicU64,
}

impl ProgressBars {
    pub fn new() -> Self {
        ProgressBars {
            current: Mutex::new(None),
            sent: AtomicU64::new(0),
        }
    }

    /// Make `bar` current (finishing the previous one) and have it drawn on
    /// stderr after [`SHOW_AFTER`] if it is still running then.
    fn replace(&self, bar: Option<ProgressBar>) {
        let mut current = self.current.lock().expect("progress lock");
        if let Some(old) = current.take() {
            old.finish_and_clear();
        }
        if let Some(bar) = &bar {
            let weak = bar.downgrade();
            std::thread::spawn(move || {
                std::thread::sleep(SHOW_AFTER);
                if let Some(bar) = weak.upgrade()
                    && !bar.is_finished()
                {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
            });
        }
        *current = bar;
    }
}

impl Default for ProgressBars {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for ProgressBars {
    fn phase(&self, scenario: &str, text: &str) {
        let spinner = ProgressBar::hidden();
        spinner
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        spinner.set_message(format!("{scenario}: {text}"));
        spinner.enable_steady_tick(Duration::from_millis(100));
        self.replace(Some(spinner));
    }

    fn traffic_started(&self, block: &str, requests: u64) {
        let bar = ProgressBar::hidden();
        bar.set_length(requests);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {prefix} sent · {pos}/{len} answered · {per_sec} · {elapsed} elapsed · {eta} left",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_message(format!("traffic {block}"));
        bar.set_prefix("0");
        self.sent.store(0, Ordering::Relaxed);
        self.replace(Some(bar));
    }

    fn request_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    fn request_done(&self, _record: &RequestRecord) {
        if let Some(bar) = self.current.lock().expect("progress lock").as_ref() {
            // Read after the answer, so the line never shows fewer sent
            // than answered.
            bar.set_prefix(self.sent.load(Ordering::Relaxed).to_string());
            bar.inc(1);
        }
    }

    fn traffic_finished(&self, _block: &str) {
        self.replace(None);
    }

    fn judged(&self, traces: u64, failed: usize) {
        if let Some(bar) = self.current.lock().expect("progress lock").as_ref() {
            let block = bar.message();
            let block = block.split(" · ").next().unwrap_or_default().to_string();
            let checks = if failed == 1 { "check" } else { "checks" };
            bar.set_message(format!(
                "{block} · {traces} traces judged · {failed} {checks} failed"
            ));
        }
    }
}

impl Drop for ProgressBars {
    fn drop(&mut self) {
        self.replace(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_starts_hidden_so_short_phases_draw_nothing() {
        let bars = ProgressBars::new();
        bars.traffic_started("sandbox", 10);
        let current = bars.current.lock().unwrap();
        let bar = current.as_ref().expect("a bar for the traffic");
        assert!(bar.is_hidden());
        assert_eq!(bar.length(), Some(10));
    }

    #[test]
    fn the_bar_counts_requests_sent_apart_from_those_answered() {
        let bars = ProgressBars::new();
        bars.traffic_started("soak", 1000);
        for _ in 0..12 {
            bars.request_sent();
        }
        let record = crate::assert::tests::record("r");
        for _ in 0..10 {
            bars.request_done(&record);
        }
        let current = bars.current.lock().unwrap();
        let bar = current.as_ref().unwrap();
        assert_eq!(bar.position(), 10);
        assert_eq!(bar.prefix(), "12");
    }
}
