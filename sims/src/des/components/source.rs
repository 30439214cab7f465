//! Arrival sources: Poisson, deterministic, and trace-driven.

use rand_distr::{Distribution, Exp};

use crate::des::{SimDuration, SimTime, Stream};

/// How customers arrive.
#[derive(Clone, Debug)]
pub enum Arrivals {
    /// Exponential inter-arrival times at `rate` per second.
    Poisson(Exp<f64>),
    /// One arrival every `interval`.
    Deterministic(SimDuration),
    /// Inter-arrival gaps replayed from a trace, cycling when `cycle` is set.
    Trace {
        /// The gaps, in order.
        gaps: Vec<SimDuration>,
        /// Next gap to use.
        next: usize,
        /// Start over at the end instead of stopping.
        cycle: bool,
    },
}

impl Arrivals {
    /// Poisson arrivals at `rate_per_s` (> 0, finite).
    pub fn poisson(rate_per_s: f64) -> Option<Arrivals> {
        Exp::new(rate_per_s).ok().map(Arrivals::Poisson)
    }

    /// Evenly spaced arrivals at `rate_per_s` (> 0, finite).
    pub fn deterministic(rate_per_s: f64) -> Option<Arrivals> {
        (rate_per_s > 0.0 && rate_per_s.is_finite())
            .then(|| Arrivals::Deterministic(SimDuration::from_secs_f64(1.0 / rate_per_s)))
    }

    /// Gaps in seconds from a trace.
    pub fn trace(gaps_s: &[f64], cycle: bool) -> Arrivals {
        Arrivals::Trace {
            gaps: gaps_s
                .iter()
                .map(|&g| SimDuration::from_secs_f64(g))
                .collect(),
            next: 0,
            cycle,
        }
    }

    /// The next arrival time after `now`, or `None` when a non-cycling trace is exhausted.
    #[inline]
    pub fn next_after(&mut self, now: SimTime, rng: &mut Stream) -> Option<SimTime> {
        match self {
            Arrivals::Poisson(exp) => Some(now + SimDuration::from_secs_f64(exp.sample(rng))),
            Arrivals::Deterministic(d) => Some(now + *d),
            Arrivals::Trace { gaps, next, cycle } => {
                if gaps.is_empty() {
                    return None;
                }
                if *next >= gaps.len() {
                    if !*cycle {
                        return None;
                    }
                    *next = 0;
                }
                let g = gaps[*next];
                *next += 1;
                Some(now + g)
            }
        }
    }
}
