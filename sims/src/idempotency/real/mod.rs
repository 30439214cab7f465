//! The `pg_idempotency` kernel: the server flows against a real PostgreSQL, every experiment
//! repeated.
//!
//! - Bursts of N concurrent duplicates of one key (each on its own connection, released
//!   together), `trials` per flow and size: charges and answers per burst (mean and t
//!   interval), bursts that charged once or more than once (Wilson), and the bursts that did
//!   not charge exactly once over all sizes (a count the database keeps: exact).
//! - Sequential duplicates: the second request after the first one's answer, `trials` pairs.
//! - `INSERT ... ON CONFLICT DO NOTHING RETURNING`: a row for the first insert, none for a
//!   duplicate (exact).
//! - The race the article's first SELECT leaves open, forced deterministically: B reads, A
//!   claims, charges and completes, then B claims and is told 409 for a completed payment.
//! - Whether `SELECT ... FOR UPDATE` makes a second transaction wait, with the key absent (two
//!   duplicates within milliseconds) and present.
//! - A handler that dies after the charge and before its UPDATE: what the retry is told at
//!   once, after 23 hours, and after the article's 24-hour cleanup (liveness, then safety).
//! - Mobile retries with lost responses, `retry_trials` runs: random keys per attempt against
//!   one key per payment.
//! - TTL cleanup, `ttl_trials` times: what the article's DELETE removes, and how fast.
//!
//! The provider "charge" is a sleep of `charge_ms` followed by an insert into `charges`, so
//! charges are counted by the database itself. Calibration for the model: the measured round
//! trip (`db_ms`), the charge time, and the spread of a burst's arrivals.

/// Server flows against PostgreSQL with the `postgres` feature; without it, a `not_run` report.
#[cfg_attr(feature = "postgres", path = "enabled.rs")]
#[cfg_attr(not(feature = "postgres"), path = "disabled.rs")]
mod imp;

use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport};

/// The `[real]` table of an idempotency scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// The user's server (`postgres://...`); empty: a throwaway cluster.
    pub database_url: String,
    /// Concurrent duplicates per burst.
    pub burst_sizes: Vec<u32>,
    /// Bursts per (flow, size); also the pairs, forced races, lock checks and crashes per flow.
    pub trials: u32,
    /// The simulated provider's charge time, ms.
    pub charge_ms: f64,
    /// Payments per run of the mobile-retry experiment (per loss rate and key strategy).
    pub retry_payments: u32,
    /// Runs of the mobile-retry experiment.
    pub retry_trials: u32,
    /// Response-loss probabilities for the retry experiment.
    pub loss_rates: Vec<f64>,
    /// Retries after a lost response.
    pub max_retries: u32,
    /// Expired keys deleted in the TTL experiment.
    pub ttl_keys: u64,
    /// Runs of the TTL experiment.
    pub ttl_trials: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            database_url: String::new(),
            burst_sizes: vec![2, 8, 32],
            trials: 20,
            charge_ms: 30.0,
            retry_payments: 1000,
            retry_trials: 5,
            loss_rates: vec![0.01, 0.05],
            max_retries: 3,
            ttl_keys: 1_000_000,
            ttl_trials: 3,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        if p.burst_sizes.is_empty() || p.burst_sizes.iter().any(|&n| !(1..=64).contains(&n)) {
            return Err(ParamsError::out_of_range(
                "burst_sizes",
                format!("{:?}", p.burst_sizes),
                "a non-empty list of sizes from 1 to 64 (each burst holds one connection per request)",
            ));
        }
        params::require_count("trials", p.trials, 1..=1000, "bursts per size")?;
        params::require_count("retry_trials", p.retry_trials, 1..=100, "runs")?;
        params::require_count("ttl_trials", p.ttl_trials, 1..=20, "runs")?;
        params::require_non_negative("charge_ms", p.charge_ms)?;
        if p.charge_ms > 10_000.0 {
            return Err(ParamsError::out_of_range(
                "charge_ms",
                p.charge_ms,
                "at most 10000 ms",
            ));
        }
        if p.retry_payments > 1_000_000 {
            return Err(ParamsError::out_of_range(
                "retry_payments",
                p.retry_payments,
                "at most 1,000,000",
            ));
        }
        for (i, &l) in p.loss_rates.iter().enumerate() {
            if !(0.0..1.0).contains(&l) {
                return Err(ParamsError::out_of_range(
                    &format!("loss_rates[{i}]"),
                    l,
                    "a probability in [0, 1)",
                ));
            }
        }
        params::require_count("max_retries", p.max_retries, 0..=20, "retries")?;
        if p.ttl_keys > 100_000_000 {
            return Err(ParamsError::out_of_range(
                "ttl_keys",
                p.ttl_keys,
                "at most 100 million",
            ));
        }
        Ok(p)
    }

    /// The smaller run `--quick` asks for.
    fn quick(mut self) -> RealParams {
        self.trials = self.trials.min(5);
        self.retry_trials = self.retry_trials.min(3);
        self.retry_payments = self.retry_payments.min(300);
        self.ttl_keys = self.ttl_keys.min(100_000);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct PgIdempotency;

impl Kernel for PgIdempotency {
    fn name(&self) -> &'static str {
        "pg_idempotency"
    }

    fn description(&self) -> &'static str {
        "idempotency-key flows against a real PostgreSQL, repeated: concurrent and sequential \
         duplicates, the SELECT race, FOR UPDATE, a crash after the charge, random-key retries, \
         TTL cleanup"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        let p = RealParams::from_table(real).map_err(|e| e.to_string())?;
        crate::real::postgres_available(&p.database_url)
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        let p = if ctx.quick { p.quick() } else { p };
        imp::run(&p, ctx)
    }
}
