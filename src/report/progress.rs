//! Progress on stderr while a run goes on: a bar per traffic block when it
//! lasts, a spinner line for the other phases. Hidden when stderr is not a
//! terminal, so CI logs stay clean.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::Observer;
use crate::traffic::RequestRecord;

pub struct ProgressBars {
    current: Mutex<Option<ProgressBar>>,
}

impl ProgressBars {
    pub fn new() -> Self {
        ProgressBars {
            current: Mutex::new(None),
        }
    }

    fn replace(&self, bar: Option<ProgressBar>) {
        let mut current = self.current.lock().expect("progress lock");
        if let Some(old) = current.take() {
            old.finish_and_clear();
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
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        spinner
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        spinner.set_message(format!("{scenario}: {text}"));
        spinner.enable_steady_tick(Duration::from_millis(100));
        self.replace(Some(spinner));
    }

    fn traffic_started(&self, block: &str, requests: u64) {
        let bar = ProgressBar::with_draw_target(Some(requests), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} requests · {per_sec} · eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_message(format!("traffic {block}"));
        self.replace(Some(bar));
    }

    fn request_done(&self, _record: &RequestRecord) {
        if let Some(bar) = self.current.lock().expect("progress lock").as_ref() {
            bar.inc(1);
        }
    }

    fn traffic_finished(&self, _block: &str) {
        self.replace(None);
    }
}

impl Drop for ProgressBars {
    fn drop(&mut self) {
        self.replace(None);
    }
}
