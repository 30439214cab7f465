//! One request class's params (`[p0]`, `[p1]`, `[p2]`): its arrival process, token lengths and
//! tenants, with their range checks.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_non_negative, require_positive};

/// One request class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassParams {
    /// Share of `monthly_requests` (open arrivals); also the class's weight in the capacity
    /// probe's request mix.
    pub share: f64,
    /// `open` (Poisson with the daily cycle and bursts) or `closed` (`concurrency` jobs always
    /// outstanding: a batch backlog that fills idle capacity).
    pub arrival: Arrival,
    /// Open: rate multiplier during bursts (1: no bursts). The long-run mean stays the share.
    pub burst_factor: f64,
    /// Open: mean burst length, s.
    pub burst_on_s: f64,
    /// Open: mean time between bursts, s.
    pub burst_off_s: f64,
    /// Closed: jobs outstanding.
    pub concurrency: u32,
    /// Closed: mean pause (exponential) before a finished job's successor arrives, s.
    pub think_s: f64,
    /// Prompt length.
    pub prompt_tokens: TokenDist,
    /// Output length (at least 1 token).
    pub output_tokens: TokenDist,
    /// Tenants sending this class.
    pub tenants: u32,
    /// Zipf exponent of traffic over tenants (0: equal).
    pub tenant_skew: f64,
    /// Requests per minute each tenant may send (token bucket; 0: no quota).
    pub tenant_quota_rpm: f64,
    /// Token-bucket depth of the quota, requests.
    pub tenant_quota_burst: f64,
}

impl Default for ClassParams {
    fn default() -> Self {
        ClassParams {
            share: 0.0,
            arrival: Arrival::Open,
            burst_factor: 1.0,
            burst_on_s: 60.0,
            burst_off_s: 600.0,
            concurrency: 0,
            think_s: 0.0,
            prompt_tokens: TokenDist::Det { value: 512.0 },
            output_tokens: TokenDist::Det { value: 128.0 },
            tenants: 1,
            tenant_skew: 0.0,
            tenant_quota_rpm: 0.0,
            tenant_quota_burst: 10.0,
        }
    }
}

/// Arrival processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Poisson, modulated by the daily cycle and bursts.
    Open,
    /// A fixed number of jobs always outstanding.
    Closed,
}

/// A token-length distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenDist {
    /// Always `value` tokens.
    Det {
        /// Tokens.
        value: f64,
    },
    /// Lognormal with this mean and coefficient of variation, rounded to whole tokens.
    Lognormal {
        /// Mean tokens.
        mean: f64,
        /// Standard deviation / mean.
        cv: f64,
    },
    /// Geometric on 1, 2, ... with this mean (the discrete exponential).
    Geometric {
        /// Mean tokens (≥ 1).
        mean: f64,
    },
}

impl TokenDist {
    /// Mean before the context cap.
    pub fn mean(&self) -> f64 {
        match self {
            TokenDist::Det { value } => value.round(),
            TokenDist::Lognormal { mean, .. } | TokenDist::Geometric { mean } => *mean,
        }
    }

    fn validate(&self, path: &str, min: f64) -> Result<(), ParamsError> {
        let check = |field: &str, v: f64| -> Result<(), ParamsError> {
            if v.is_finite() && v >= min && v <= MAX_TOKENS {
                Ok(())
            } else {
                Err(ParamsError::out_of_range(
                    &format!("{path}.{field}"),
                    v,
                    &format!("{min} to 1e6 tokens"),
                ))
            }
        };
        match self {
            TokenDist::Det { value } => check("value", *value),
            TokenDist::Lognormal { mean, cv } => {
                check("mean", *mean)?;
                if *mean <= 0.0 {
                    return Err(ParamsError::out_of_range(
                        &format!("{path}.mean"),
                        mean,
                        "a mean > 0",
                    ));
                }
                if !(cv.is_finite() && *cv > 0.0 && *cv <= 100.0) {
                    return Err(ParamsError::out_of_range(
                        &format!("{path}.cv"),
                        cv,
                        "a coefficient of variation, 0 < cv ≤ 100",
                    ));
                }
                Ok(())
            }
            TokenDist::Geometric { mean } => {
                check("mean", *mean)?;
                if *mean < 1.0 {
                    return Err(ParamsError::out_of_range(
                        &format!("{path}.mean"),
                        mean,
                        "a mean ≥ 1 token",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Most tokens a length (or a context) may have.
pub(super) const MAX_TOKENS: f64 = 1e6;

impl ClassParams {
    /// Range checks of the class named `name` (`p0`, ...), reported under that path.
    pub(super) fn validate(&self, name: &str) -> Result<(), ParamsError> {
        let at = |f: &str| format!("{name}.{f}");
        require_non_negative(&at("share"), self.share)?;
        if self.share > 1e6 {
            return Err(ParamsError::out_of_range(
                &at("share"),
                self.share,
                "at most 1e6",
            ));
        }
        if !(self.burst_factor.is_finite() && (1.0..=1000.0).contains(&self.burst_factor)) {
            return Err(ParamsError::out_of_range(
                &at("burst_factor"),
                self.burst_factor,
                "a rate multiplier, 1 ≤ x ≤ 1000",
            ));
        }
        require_positive(&at("burst_on_s"), self.burst_on_s)?;
        require_positive(&at("burst_off_s"), self.burst_off_s)?;
        if self.arrival == Arrival::Closed && (self.concurrency == 0 || self.concurrency > 100_000)
        {
            return Err(ParamsError::out_of_range(
                &at("concurrency"),
                self.concurrency,
                "1 to 100000 jobs when arrival = \"closed\"",
            ));
        }
        require_non_negative(&at("think_s"), self.think_s)?;
        self.prompt_tokens.validate(&at("prompt_tokens"), 0.0)?;
        self.output_tokens.validate(&at("output_tokens"), 1.0)?;
        if self.tenants == 0 || self.tenants > 100_000 {
            return Err(ParamsError::out_of_range(
                &at("tenants"),
                self.tenants,
                "1 to 100000 tenants",
            ));
        }
        if !(self.tenant_skew.is_finite() && (0.0..=10.0).contains(&self.tenant_skew)) {
            return Err(ParamsError::out_of_range(
                &at("tenant_skew"),
                self.tenant_skew,
                "a Zipf exponent, 0 ≤ s ≤ 10",
            ));
        }
        require_non_negative(&at("tenant_quota_rpm"), self.tenant_quota_rpm)?;
        if !(self.tenant_quota_burst.is_finite() && self.tenant_quota_burst >= 1.0) {
            return Err(ParamsError::out_of_range(
                &at("tenant_quota_burst"),
                self.tenant_quota_burst,
                "at least 1 request",
            ));
        }
        Ok(())
    }
}
