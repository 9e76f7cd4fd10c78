//! Seeded randomness, so a scenario run repeats: the fault dice of each
//! route (latency draws, injected failures) and the trace ids a component
//! makes (head sampling decides on them).
//!
//! Every stream is ChaCha8 (its output is fixed for a seed, on every
//! platform) seeded from the scenario's seed and the stream's name, so
//! adding a component does not shift another one's draws. Requests sent at
//! once reach a route in no fixed order; the sequence of draws is fixed,
//! so with concurrency 1 each request gets the same draw every run, and
//! with more the counts (how many failed, how many were sampled) repeat as
//! long as each request draws once per route (retries break that).

use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::scenario::model::{Faults, Latency};

/// A 64-bit seed for the stream `name` under the scenario's `seed`
/// (FNV-1a over the name: stable across Rust releases, unlike std's hasher).
pub fn stream_seed(seed: u64, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    seed ^ hash
}

fn stream(seed: u64, name: &str) -> Mutex<ChaCha8Rng> {
    Mutex::new(ChaCha8Rng::seed_from_u64(stream_seed(seed, name)))
}

/// What the dice decided for one request on a route.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Roll {
    pub latency: Option<Duration>,
    /// Answer this status instead of doing the route's work.
    pub abort: Option<u16>,
}

/// One random stream per route of a component.
#[derive(Debug)]
pub struct FaultDice {
    routes: Vec<Mutex<ChaCha8Rng>>,
}

impl FaultDice {
    pub fn new(seed: u64, component: &str, routes: usize) -> FaultDice {
        FaultDice {
            routes: (0..routes)
                .map(|i| stream(seed, &format!("faults/{component}/{i}")))
                .collect(),
        }
    }

    /// Draw the faults of route `route` for one request. Both draws happen
    /// whenever both faults exist, so one never shifts the other.
    pub fn roll(&self, route: usize, faults: &Faults) -> Roll {
        if faults.is_empty() {
            return Roll::default();
        }
        let Some(rng) = self.routes.get(route) else {
            return Roll::default();
        };
        let mut rng = rng.lock().expect("dice lock");
        let latency = faults.latency.map(|l| sample_latency(&l, &mut *rng));
        let abort = faults
            .abort
            .and_then(|a| rng.random_bool(a.probability).then_some(a.status));
        Roll { latency, abort }
    }
}

pub fn sample_latency(latency: &Latency, rng: &mut impl Rng) -> Duration {
    match *latency {
        Latency::Fixed(d) => d,
        Latency::Uniform { low, high } => {
            if low == high {
                low
            } else {
                rng.random_range(low..=high)
            }
        }
        Latency::Normal { mean, std_dev } => {
            match Normal::new(mean.as_secs_f64(), std_dev.as_secs_f64()) {
                Ok(normal) => Duration::from_secs_f64(normal.sample(rng).max(0.0)),
                Err(_) => mean,
            }
        }
    }
}

/// Trace ids whose low 64 bits (what `TraceIdRatioBased` decides on) come
/// from the seeded stream, so sampling decisions repeat, and whose high 64
/// bits are random, so two runs never reuse a trace id in a shared Jaeger.
#[derive(Debug)]
pub struct SeededIdGenerator {
    low: Mutex<ChaCha8Rng>,
}

impl SeededIdGenerator {
    pub fn new(seed: u64, component: &str) -> SeededIdGenerator {
        SeededIdGenerator {
            low: stream(seed, &format!("trace-ids/{component}")),
        }
    }
}

impl IdGenerator for SeededIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        let low: u64 = self.low.lock().expect("id lock").random();
        let high: u64 = rand::random::<u64>() | 1 << 63;
        TraceId::from_bytes(((u128::from(high) << 64) | u128::from(low)).to_be_bytes())
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from_bytes(rand::random::<u64>().max(1).to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::Abort;

    fn faults(probability: f64) -> Faults {
        Faults {
            latency: Some(Latency::Uniform {
                low: Duration::from_millis(5),
                high: Duration::from_millis(20),
            }),
            abort: Some(Abort {
                status: 503,
                probability,
            }),
        }
    }

    #[test]
    fn the_same_seed_rolls_the_same_faults() {
        let rolls = |seed| {
            let dice = FaultDice::new(seed, "payments", 1);
            (0..50)
                .map(|_| dice.roll(0, &faults(0.3)))
                .collect::<Vec<_>>()
        };
        assert_eq!(rolls(42), rolls(42));
        assert_ne!(rolls(42), rolls(43));
    }

    #[test]
    fn rolls_stay_within_the_distribution_and_near_the_probability() {
        let dice = FaultDice::new(7, "payments", 1);
        let rolls: Vec<Roll> = (0..2000).map(|_| dice.roll(0, &faults(0.3))).collect();
        assert!(rolls.iter().all(|r| {
            let l = r.latency.unwrap();
            l >= Duration::from_millis(5) && l <= Duration::from_millis(20)
        }));
        let aborted = rolls.iter().filter(|r| r.abort == Some(503)).count();
        assert!((450..750).contains(&aborted), "{aborted} of 2000 at p=0.3");
    }

    #[test]
    fn probability_zero_never_fails_and_one_always_does() {
        let dice = FaultDice::new(1, "a", 1);
        assert!((0..100).all(|_| dice.roll(0, &faults(0.0)).abort.is_none()));
        assert!((0..100).all(|_| dice.roll(0, &faults(1.0)).abort == Some(503)));
    }

    #[test]
    fn normal_latency_is_never_negative() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let wide = Latency::Normal {
            mean: Duration::from_millis(1),
            std_dev: Duration::from_millis(10),
        };
        for _ in 0..1000 {
            let _ = sample_latency(&wide, &mut rng); // a negative draw would panic in Duration
        }
    }

    #[test]
    fn seeded_trace_ids_repeat_their_low_half_and_differ_in_the_high_half() {
        let low = |id: TraceId| u64::from_be_bytes(id.to_bytes()[8..].try_into().unwrap());
        let a = SeededIdGenerator::new(42, "front-proxy");
        let b = SeededIdGenerator::new(42, "front-proxy");
        for _ in 0..20 {
            let (x, y) = (a.new_trace_id(), b.new_trace_id());
            assert_eq!(low(x), low(y));
            assert_ne!(x, y);
        }
        let other = SeededIdGenerator::new(42, "service1");
        assert_ne!(low(a.new_trace_id()), low(other.new_trace_id()));
    }
}
