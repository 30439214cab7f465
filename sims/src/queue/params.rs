//! `QueueParams`: the scenario's `[params]` for `sim = "queue"`.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use crate::des::SimDuration;
use crate::params::{ParamsError, display_number, require_non_negative, require_positive};
use crate::room::Validate;

/// Parameters of the queueing station. Times are in seconds, rates per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueParams {
    /// Customers per second, all classes together. Default 0.5.
    pub arrival_rate: f64,
    /// Server utilization ρ = λ·E[S]/c, in place of `arrival_rate` (give one of the two): the
    /// arrival rate is derived from it, the servers and the service mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// How arrivals are spaced. Default Poisson.
    pub arrival_process: ArrivalProcess,
    /// Inter-arrival gaps in seconds for `arrival_process = "trace"` (cycled).
    pub arrival_trace: Vec<f64>,
    /// Identical servers. Default 1.
    pub servers: u32,
    /// Service time distribution. Default exponential with mean 1 s.
    pub service: ServiceDist,
    /// Share of arrivals in each priority class, class 0 first (highest). Default one class.
    pub classes: Vec<f64>,
    /// Higher classes preempt lower ones in service (preemptive-resume). Default false.
    pub preemptive: bool,
    /// Seconds a customer waits in queue before giving up; none by default.
    pub timeout: Option<f64>,
    /// Customers measured per replication, after warm-up. Default 200,000.
    pub customers: u64,
    /// Customers deleted at the start (initialisation bias). Default 20,000.
    pub warmup: u64,
}

impl Default for QueueParams {
    fn default() -> Self {
        QueueParams {
            arrival_rate: 0.5,
            utilization: None,
            arrival_process: ArrivalProcess::Poisson,
            arrival_trace: Vec::new(),
            servers: 1,
            service: ServiceDist::Exp { mean: 1.0 },
            classes: vec![1.0],
            preemptive: false,
            timeout: None,
            customers: 200_000,
            warmup: 20_000,
        }
    }
}

/// Arrival spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalProcess {
    /// Exponential gaps.
    Poisson,
    /// Equal gaps of 1 / arrival_rate.
    Deterministic,
    /// Gaps from `arrival_trace`.
    Trace,
}

/// Service time distribution, tagged by `dist`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceDist {
    /// Exponential with the given mean (seconds).
    #[serde(alias = "exponential")]
    Exp {
        /// Mean service time, seconds.
        mean: f64,
    },
    /// Always `value` seconds.
    #[serde(alias = "deterministic")]
    Det {
        /// Service time, seconds.
        value: f64,
    },
    /// Lognormal with the given mean (seconds) and coefficient of variation.
    Lognormal {
        /// Mean service time, seconds.
        mean: f64,
        /// Standard deviation / mean.
        cv: f64,
    },
    /// Drawn uniformly from measured values (seconds).
    Empirical {
        /// The measured service times.
        values: Vec<f64>,
    },
}

impl ServiceDist {
    /// Mean service time in seconds.
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDist::Exp { mean } | ServiceDist::Lognormal { mean, .. } => *mean,
            ServiceDist::Det { value } => *value,
            ServiceDist::Empirical { values } => {
                values.iter().sum::<f64>() / values.len().max(1) as f64
            }
        }
    }

    /// Second moment E[S²] in seconds².
    pub fn second_moment(&self) -> f64 {
        match self {
            ServiceDist::Exp { mean } => 2.0 * mean * mean,
            ServiceDist::Det { value } => value * value,
            ServiceDist::Lognormal { mean, cv } => mean * mean * (1.0 + cv * cv),
            ServiceDist::Empirical { values } => {
                values.iter().map(|v| v * v).sum::<f64>() / values.len().max(1) as f64
            }
        }
    }

    fn validate(&self) -> Result<(), ParamsError> {
        match self {
            ServiceDist::Exp { mean } => require_positive("service.mean", *mean),
            ServiceDist::Det { value } => require_non_negative("service.value", *value),
            ServiceDist::Lognormal { mean, cv } => {
                require_positive("service.mean", *mean)?;
                require_positive("service.cv", *cv)?;
                if *cv > MAX_CV {
                    return Err(ParamsError::out_of_range(
                        "service.cv",
                        cv,
                        "a coefficient of variation ≤ 1e6",
                    ));
                }
                Ok(())
            }
            ServiceDist::Empirical { values } => {
                if values.is_empty() {
                    return Err(ParamsError::out_of_range(
                        "service.values",
                        "[]",
                        "at least one service time",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    require_non_negative(&format!("service.values[{i}]"), *v)?;
                }
                Ok(())
            }
        }
    }
}

/// Beyond this the lognormal's σ² = ln(1 + cv²) loses meaning (and cv² overflows near 1e154).
const MAX_CV: f64 = 1e6;
/// Time advances in whole nanoseconds, so faster arrivals would all land on one instant.
const MAX_RATE_PER_S: f64 = 1e9;
/// More servers than this is a typo, and each one costs memory.
const MAX_SERVERS: u32 = 1_000_000;

/// A ready-to-draw sampler for a [`ServiceDist`].
pub(crate) enum ServiceSampler {
    Exp(Exp<f64>),
    Det(SimDuration),
    Lognormal(LogNormal<f64>),
    Empirical(Vec<SimDuration>),
}

impl ServiceSampler {
    pub(crate) fn new(d: &ServiceDist) -> ServiceSampler {
        match d {
            ServiceDist::Exp { mean } => {
                ServiceSampler::Exp(Exp::new(1.0 / mean).expect("validated: mean > 0"))
            }
            ServiceDist::Det { value } => ServiceSampler::Det(SimDuration::from_secs_f64(*value)),
            ServiceDist::Lognormal { mean, cv } => {
                // For a lognormal with mean m and CV c: σ² = ln(1 + c²), μ = ln m − σ²/2.
                let s2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - s2 / 2.0;
                ServiceSampler::Lognormal(
                    LogNormal::new(mu, s2.sqrt()).expect("validated: cv > 0, mean > 0"),
                )
            }
            ServiceDist::Empirical { values } => ServiceSampler::Empirical(
                values
                    .iter()
                    .map(|&v| SimDuration::from_secs_f64(v))
                    .collect(),
            ),
        }
    }

    #[inline]
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        match self {
            ServiceSampler::Exp(e) => SimDuration::from_secs_f64(e.sample(rng)),
            ServiceSampler::Det(d) => *d,
            ServiceSampler::Lognormal(l) => SimDuration::from_secs_f64(l.sample(rng)),
            ServiceSampler::Empirical(v) => {
                // Multiply-shift maps 64 random bits onto 0..len without modulo bias worth noting.
                let i = ((rng.next_u64() as u128 * v.len() as u128) >> 64) as usize;
                v[i]
            }
        }
    }
}

impl QueueParams {
    /// Offered load per server, ρ = λ E[S] / c (for Poisson or deterministic arrivals).
    pub fn rho(&self) -> f64 {
        self.arrival_rate * self.service.mean() / self.servers as f64
    }
}

impl QueueParams {
    /// The arrival rate from `utilization` when that was given (after validation).
    pub(super) fn derive_rate(&mut self) -> Result<(), ParamsError> {
        if let Some(u) = self.utilization {
            self.arrival_rate = self.mean_arrival_rate();
            if !(self.arrival_rate.is_finite() && self.arrival_rate <= MAX_RATE_PER_S) {
                return Err(ParamsError::out_of_range(
                    "utilization",
                    display_number(u),
                    "a utilization whose arrival rate is at most 1e9 per second (a service mean of 0 has none)",
                ));
            }
        }
        Ok(())
    }
}

impl Validate for QueueParams {
    /// Range checks serde cannot express.
    fn validate(&self) -> Result<(), ParamsError> {
        if let Some(u) = self.utilization {
            // `complete_table` left the rate unset (NaN) when only `utilization` was given.
            if !self.arrival_rate.is_nan() {
                return Err(ParamsError::out_of_range(
                    "utilization",
                    display_number(u),
                    "`utilization` or `arrival_rate`, not both (the rate follows from the utilization)",
                ));
            }
            if !(u.is_finite() && u > 0.0) {
                return Err(ParamsError::out_of_range(
                    "utilization",
                    display_number(u),
                    "a utilization > 0 (ρ = λ·E[S]/c; ≥ 1 is an overloaded queue)",
                ));
            }
            if self.arrival_process == ArrivalProcess::Trace {
                return Err(ParamsError::out_of_range(
                    "utilization",
                    display_number(u),
                    "no utilization with arrival_process = \"trace\" (the trace sets the rate)",
                ));
            }
        }
        match self.arrival_process {
            _ if self.utilization.is_some() => {}
            ArrivalProcess::Trace => {
                if self.arrival_trace.is_empty() {
                    return Err(ParamsError::out_of_range(
                        "arrival_trace",
                        "[]",
                        "at least one inter-arrival gap when arrival_process = \"trace\"",
                    ));
                }
                for (i, g) in self.arrival_trace.iter().enumerate() {
                    require_non_negative(&format!("arrival_trace[{i}]"), *g)?;
                }
                // Gaps are rounded to whole nanoseconds; a cycle that rounds to no time at all
                // would never let the clock move.
                let cycle_ns: u64 = self
                    .arrival_trace
                    .iter()
                    .map(|g| SimDuration::from_secs_f64(*g).0)
                    .fold(0, u64::saturating_add);
                if cycle_ns == 0 {
                    return Err(ParamsError::out_of_range(
                        "arrival_trace",
                        "gaps shorter than 1 ns in total",
                        "gaps that add up to at least 1 ns",
                    ));
                }
            }
            _ => {
                require_positive("arrival_rate", self.arrival_rate)?;
                if self.arrival_rate > MAX_RATE_PER_S {
                    return Err(ParamsError::out_of_range(
                        "arrival_rate",
                        self.arrival_rate,
                        "at most 1e9 per second (time resolution is 1 ns)",
                    ));
                }
            }
        }
        if self.servers == 0 {
            return Err(ParamsError::out_of_range("servers", 0, "at least 1 server"));
        }
        if self.servers > MAX_SERVERS {
            return Err(ParamsError::out_of_range(
                "servers",
                self.servers,
                "at most 1,000,000 servers",
            ));
        }
        self.service.validate()?;
        if self.classes.is_empty() {
            return Err(ParamsError::out_of_range(
                "classes",
                "[]",
                "at least one class share",
            ));
        }
        for (i, s) in self.classes.iter().enumerate() {
            require_non_negative(&format!("classes[{i}]"), *s)?;
        }
        if self.classes.iter().sum::<f64>() <= 0.0 {
            return Err(ParamsError::out_of_range(
                "classes",
                "all zero",
                "shares that add up to more than 0",
            ));
        }
        if let Some(t) = self.timeout {
            require_positive("timeout", t)?;
        }
        if self.customers == 0 {
            return Err(ParamsError::out_of_range(
                "customers",
                0,
                "at least 1 measured customer",
            ));
        }
        self.validate_load_and_horizon()
    }
}

impl QueueParams {
    /// Arrivals per second the arrival process makes on average.
    fn mean_arrival_rate(&self) -> f64 {
        match self.arrival_process {
            ArrivalProcess::Trace => {
                let gaps = &self.arrival_trace;
                gaps.len() as f64 / gaps.iter().sum::<f64>()
            }
            _ => match self.utilization {
                Some(u) => u * f64::from(self.servers) / self.service.mean(),
                None => self.arrival_rate,
            },
        }
    }

    /// A queue at load ≥ 1 without abandonment grows without bound: it has no steady state,
    /// so its waits are an artefact of the run length. And the run must fit the clock.
    fn validate_load_and_horizon(&self) -> Result<(), ParamsError> {
        let rate = self.mean_arrival_rate();
        let load = rate * self.service.mean() / f64::from(self.servers);
        if self.timeout.is_none() && load >= 1.0 {
            return Err(ParamsError::out_of_range(
                "arrival_rate",
                format!(
                    "a load of {} (arrival rate {}/s × mean service {} s / {} server(s))",
                    display_number(load),
                    display_number(rate),
                    display_number(self.service.mean()),
                    self.servers
                ),
                "a load below 1: at load ≥ 1 the queue is overloaded, grows without bound and has no \
                 steady state (set `timeout` to model customers who give up)",
            ));
        }
        let horizon_s = (self.customers + self.warmup) as f64 / rate;
        let mean_service = self.service.mean();
        if !(horizon_s < MAX_SIM_SECONDS && mean_service < MAX_SIM_SECONDS / 1e3) {
            return Err(ParamsError::out_of_range(
                "customers",
                format!(
                    "{} customers at {}/s with a mean service of {} s",
                    self.customers + self.warmup,
                    display_number(rate),
                    display_number(mean_service)
                ),
                "a run that fits the engine's clock: at most 1.8e10 simulated seconds \
                 (u64 nanoseconds, about 584 years), with service times well inside it",
            ));
        }
        Ok(())
    }
}

/// The clock counts u64 nanoseconds: about 1.8e10 s.
const MAX_SIM_SECONDS: f64 = u64::MAX as f64 / 1e9;
