//! The `pg_migrations` kernel: both procedures against a real PostgreSQL under an open-loop
//! application workload.
//!
//! - Builds and fills `orders` (`id serial PRIMARY KEY`, amount, region, updated_at).
//! - Drives a fixed request rate (reads, updates, inserts; prepared statements on a pool of
//!   connections; latency from each request's scheduled send time, so no coordinated omission;
//!   a client timeout equal to the statement timeout).
//! - Rewrite: `ALTER TABLE orders ALTER COLUMN id TYPE bigint` while the load runs.
//! - Ghost table: a name-keyed advisory lock, a shadow table, a sync trigger upserting with
//!   `ON CONFLICT`, a batched backfill with `ON CONFLICT DO NOTHING` (never overwriting newer
//!   rows), verification, a swap by rename under `lock_timeout` with retries, and a row-for-row
//!   check after the swap.
//! - The safety properties, by doing them: a second worker blocks on the advisory lock and its
//!   try-lock returns false while the application runs; a migration session killed mid-backfill
//!   leaves the original table unchanged. And the pitfalls: the serial's sequence stays 32-bit
//!   after the ALTER, prepared statements fail (SQLSTATE 0A000) after the type changes, and an
//!   advisory key built from the table's OID changes at the swap.

/// The experiments against PostgreSQL with the `postgres` feature; without it, a `not_run`
/// report.
#[cfg_attr(feature = "postgres", path = "enabled.rs")]
#[cfg_attr(not(feature = "postgres"), path = "disabled.rs")]
mod imp;

use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport};

/// The `[real]` table of a migrations scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// The user's server (`postgres://...`); empty: a throwaway cluster.
    pub database_url: String,
    /// Rows in `orders`.
    pub rows: u64,
    /// Application requests per second (open loop).
    pub rate_rps: f64,
    /// Share of reads (by primary key) and of updates; inserts are the rest.
    pub read_fraction: f64,
    /// Share of updates (by primary key).
    pub update_fraction: f64,
    /// Application connections, a pool: a request waits for a free one.
    pub connections: u32,
    /// Client timeout and statement timeout, ms.
    pub client_timeout_ms: f64,
    /// Ghost backfill batch, rows.
    pub batch_size: u64,
    /// Ghost backfill sleep between batches, ms.
    pub throttle_ms: f64,
    /// Load before each migration (the baseline window), s.
    pub baseline_s: f64,
    /// Load after each migration, s.
    pub after_s: f64,
    /// Times every experiment is repeated, each on a freshly built table (a trial at the
    /// default scale takes about 2 minutes).
    pub trials: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            database_url: String::new(),
            rows: 1_000_000,
            rate_rps: 300.0,
            read_fraction: 0.70,
            update_fraction: 0.25,
            connections: 16,
            client_timeout_ms: 2000.0,
            batch_size: 25_000,
            throttle_ms: 100.0,
            baseline_s: 10.0,
            after_s: 8.0,
            trials: 3,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        if !(1000..=100_000_000).contains(&p.rows) {
            return Err(ParamsError::out_of_range(
                "rows",
                p.rows,
                "1,000 to 100 million rows",
            ));
        }
        if !(p.rate_rps > 0.0 && p.rate_rps <= 20_000.0) {
            return Err(ParamsError::out_of_range(
                "rate_rps",
                p.rate_rps,
                "> 0 and at most 20,000 requests/s",
            ));
        }
        params::require_probability("read_fraction", p.read_fraction)?;
        params::require_probability("update_fraction", p.update_fraction)?;
        if p.read_fraction + p.update_fraction > 1.0 {
            return Err(ParamsError::out_of_range(
                "update_fraction",
                p.update_fraction,
                "read_fraction + update_fraction ≤ 1",
            ));
        }
        if !(1..=150).contains(&p.connections) {
            return Err(ParamsError::out_of_range(
                "connections",
                p.connections,
                "1 to 150",
            ));
        }
        if !(10.0..=600_000.0).contains(&p.client_timeout_ms) {
            return Err(ParamsError::out_of_range(
                "client_timeout_ms",
                p.client_timeout_ms,
                "10 ms to 10 minutes",
            ));
        }
        if p.batch_size == 0 || p.batch_size > p.rows {
            return Err(ParamsError::out_of_range(
                "batch_size",
                p.batch_size,
                "1 to `rows`",
            ));
        }
        params::require_non_negative("throttle_ms", p.throttle_ms)?;
        for (n, v) in [("baseline_s", p.baseline_s), ("after_s", p.after_s)] {
            if !(1.0..=3600.0).contains(&v) {
                return Err(ParamsError::out_of_range(n, v, "1 s to 1 hour"));
            }
        }
        if !(1..=20).contains(&p.trials) {
            return Err(ParamsError::out_of_range("trials", p.trials, "1 to 20"));
        }
        Ok(p)
    }

    /// The smaller run `--quick` asks for.
    fn quick(mut self) -> RealParams {
        self.rows = self.rows.min(200_000);
        self.batch_size = self.batch_size.min(self.rows);
        self.baseline_s = self.baseline_s.min(4.0);
        self.after_s = self.after_s.min(3.0);
        self.trials = self.trials.min(2);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct PgMigrations;

impl Kernel for PgMigrations {
    fn name(&self) -> &'static str {
        "pg_migrations"
    }

    fn description(&self) -> &'static str {
        "ALTER COLUMN TYPE rewrite and the ghost-table procedure on a real PostgreSQL under load, \
         with the advisory-lock, abort and pitfall checks"
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
