//! Request generation: token lengths, open arrivals (Poisson, daily cycle, bursts by thinning),
//! tenants and their quotas.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use super::params::{ClassParams, GpuServingParams, TokenDist};
use crate::des::{Stream, uniform};

/// Seconds in the average month (8,760 h / 12).
pub(super) const MONTH_S: f64 = 730.0 * 3600.0;

/// A ready-to-draw token-length distribution.
#[derive(Clone, Debug)]
pub(super) enum Tokens {
    Det(u32),
    Lognormal(LogNormal<f64>),
    /// Geometric on 1, 2, ...: the ceiling of an exponential with this rate.
    Geometric(Option<Exp<f64>>),
}

impl Tokens {
    pub(super) fn new(d: &TokenDist) -> Tokens {
        match d {
            TokenDist::Det { value } => Tokens::Det(value.round() as u32),
            TokenDist::Lognormal { mean, cv } => {
                // σ² = ln(1 + cv²), μ = ln(mean) − σ²/2 gives the requested mean and CV.
                let s2 = (1.0 + cv * cv).ln();
                Tokens::Lognormal(
                    LogNormal::new(mean.ln() - s2 / 2.0, s2.sqrt())
                        .expect("validated: mean > 0, cv > 0"),
                )
            }
            TokenDist::Geometric { mean } => {
                // P(L > k) = (1 − 1/mean)^k: ceil(Exp(−ln(1 − 1/mean))); mean 1 is always 1.
                let q = 1.0 / mean;
                Tokens::Geometric(
                    (q < 1.0).then(|| Exp::new(-(1.0 - q).ln()).expect("validated: mean > 1 here")),
                )
            }
        }
    }

    #[inline]
    pub(super) fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match self {
            Tokens::Det(v) => *v,
            Tokens::Lognormal(l) => l.sample(rng).round().min(1e9) as u32,
            Tokens::Geometric(None) => 1,
            Tokens::Geometric(Some(e)) => e.sample(rng).ceil().clamp(1.0, 1e9) as u32,
        }
    }
}

/// Prompt and output samplers of one class, cut to the context limit.
#[derive(Clone, Debug)]
pub(super) struct Lengths {
    prompt: Tokens,
    output: Tokens,
    max_context: u32,
}

impl Lengths {
    pub(super) fn new(c: &ClassParams, max_context: u32) -> Lengths {
        Lengths {
            prompt: Tokens::new(&c.prompt_tokens),
            output: Tokens::new(&c.output_tokens),
            max_context,
        }
    }

    /// (prompt, output) with output ≥ 1 and prompt + output ≤ the context limit.
    #[inline]
    pub(super) fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> (u32, u32) {
        let output = self.output.draw(rng).clamp(1, self.max_context - 1);
        let prompt = self.prompt.draw(rng).min(self.max_context - output);
        (prompt, output)
    }
}

/// The daily cycle: rate at hour `h` over the daily mean, 1 + (p − 1) cos(2π (h − peak) / 24).
pub(super) fn cycle(p: &GpuServingParams, hour: f64) -> f64 {
    1.0 + (p.daily_peak_to_mean - 1.0)
        * (2.0 * std::f64::consts::PI * (hour - p.peak_hour) / 24.0).cos()
}

/// An open class's arrivals: a Poisson process whose rate follows the daily cycle and an
/// on/off burst chain, drawn by thinning at the highest rate.
pub(super) struct OpenArrivals {
    /// Rate outside bursts at the daily mean, per second.
    base: f64,
    max: f64,
    gap: Exp<f64>,
    burst_factor: f64,
    on_mean: f64,
    off_mean: f64,
    in_burst: bool,
    next_switch: f64,
    /// Simulated second of the daily cycle's hour zero offset: hour(t) = start + t / 3600.
    hour_at_zero: f64,
    /// Current candidate time, s.
    t: f64,
}

impl OpenArrivals {
    /// `mean_rate`: the class's long-run mean per second. `None` when it is zero.
    pub(super) fn new(
        p: &GpuServingParams,
        c: &ClassParams,
        mean_rate: f64,
        hour_at_zero: f64,
        rng: &mut Stream,
    ) -> Option<OpenArrivals> {
        if mean_rate <= 0.0 {
            return None;
        }
        let bursty = c.burst_factor > 1.0;
        // Bursts multiply the rate; the base is lowered so the long-run mean stays the share.
        let on_share = c.burst_on_s / (c.burst_on_s + c.burst_off_s);
        let mean_mult = if bursty {
            1.0 + (c.burst_factor - 1.0) * on_share
        } else {
            1.0
        };
        let base = mean_rate / mean_mult;
        let max = base * p.daily_peak_to_mean * c.burst_factor;
        let in_burst = bursty && uniform(rng) < on_share;
        let mut a = OpenArrivals {
            base,
            max,
            gap: Exp::new(max).ok()?,
            burst_factor: c.burst_factor,
            on_mean: c.burst_on_s,
            off_mean: c.burst_off_s,
            in_burst,
            next_switch: f64::INFINITY,
            hour_at_zero,
            t: 0.0,
        };
        if bursty {
            a.next_switch = a.hold(rng);
        }
        Some(a)
    }

    fn hold(&self, rng: &mut Stream) -> f64 {
        let mean = if self.in_burst {
            self.on_mean
        } else {
            self.off_mean
        };
        -mean * (1.0 - uniform(rng)).ln()
    }

    /// The next arrival time in seconds.
    pub(super) fn next(&mut self, p: &GpuServingParams, rng: &mut Stream) -> f64 {
        loop {
            self.t += self.gap.sample(rng);
            while self.t >= self.next_switch {
                self.in_burst = !self.in_burst;
                self.next_switch += self.hold(rng);
            }
            let burst = if self.in_burst {
                self.burst_factor
            } else {
                1.0
            };
            let rate = self.base * cycle(p, self.hour_at_zero + self.t / 3600.0) * burst;
            if uniform(rng) * self.max < rate {
                return self.t;
            }
        }
    }
}

/// Tenants of one class: who sends a request (Zipf weights) and their token-bucket quotas.
pub(super) struct Tenants {
    cdf: Vec<f64>,
    /// Requests per second a tenant's bucket refills (0: no quota).
    refill: f64,
    depth: f64,
    /// (tokens, last refill time in s) per tenant.
    buckets: Vec<(f64, f64)>,
}

impl Tenants {
    pub(super) fn new(c: &ClassParams) -> Tenants {
        let mut acc = 0.0;
        let weights: Vec<f64> = (1..=c.tenants)
            .map(|i| (i as f64).powf(-c.tenant_skew))
            .collect();
        let total: f64 = weights.iter().sum();
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Tenants {
            cdf,
            refill: c.tenant_quota_rpm / 60.0,
            depth: c.tenant_quota_burst,
            buckets: vec![(c.tenant_quota_burst, 0.0); c.tenants as usize],
        }
    }

    /// Draws the sending tenant.
    pub(super) fn draw(&self, rng: &mut Stream) -> u32 {
        if self.cdf.len() == 1 {
            return 0;
        }
        let u = uniform(rng);
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1) as u32
    }

    /// Whether tenant `t`'s quota admits a request at time `now_s` (and takes one token).
    pub(super) fn admit(&mut self, t: u32, now_s: f64) -> bool {
        if self.refill <= 0.0 {
            return true;
        }
        let (tokens, last) = &mut self.buckets[t as usize];
        *tokens = (*tokens + (now_s - *last) * self.refill).min(self.depth);
        *last = now_s;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Mean prompt + output tokens of the class mix (by share).
pub(super) fn mix_mean_tokens(p: &GpuServingParams) -> f64 {
    let total: f64 = p.classes().iter().map(|c| c.share).sum();
    let ctx = p.max_context_tokens as f64;
    p.classes()
        .iter()
        .map(|c| {
            let out = c.output_tokens.mean().clamp(1.0, ctx - 1.0);
            c.share / total * (c.prompt_tokens.mean() + out).min(ctx)
        })
        .sum::<f64>()
        .max(1.0)
}
