//! `MigrationsParams`: the scenario's `[params]` for `sim = "migrations"`.
//!
//! The names are also what the real kernel (`pg_migrations`) calibrates, so they are a contract.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_non_negative, require_positive, require_probability};
use crate::room::Validate;

/// A table under application load and the schema change run on it. Defaults are the research
/// setup (`shared/research/postgres-experiments.md` §2): a 1M-row `orders` table on a 2-vCPU
/// PostgreSQL 15, 300 requests/s over a 16-connection pool with 2 s timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationsParams {
    /// How the column type is changed. Default `none` (no migration: the baseline only).
    pub procedure: Procedure,
    /// Rows in the table. Default 1,000,000.
    pub rows: f64,
    /// Application requests per second (Poisson). Default 300.
    pub rate_rps: f64,
    /// Share of requests that are point reads. Default 0.70.
    pub read_fraction: f64,
    /// Share of requests that are updates; inserts are the rest. Default 0.25.
    pub update_fraction: f64,
    /// Connections in the application's pool. Default 16.
    pub pool_size: u32,
    /// Database processors, shared by the running statements and the migration. Default 2.
    pub db_cores: u32,
    /// Median processor time of one request, ms. Default 2.0.
    pub query_ms: f64,
    /// Lognormal σ of the request's processor time. Default 0.7.
    pub query_sigma: f64,
    /// The client gives up (and the statement is cancelled) this long after arrival, ms.
    /// Default 2000.
    pub client_timeout_ms: f64,
    /// Rows per second an `ALTER COLUMN TYPE` rewrites on one processor. Default 420,000.
    pub rewrite_rows_per_s: f64,
    /// Rows per second a backfill batch copies on one processor. Default 46,000.
    pub backfill_rows_per_s: f64,
    /// Rows per backfill batch. Default 25,000 (article).
    pub batch_size: f64,
    /// Sleep after each backfill batch, ms. Default 100 (article).
    pub throttle_ms: f64,
    /// Processor time the sync trigger adds to every write while it is installed, ms.
    /// Default 0.5 (assumed).
    pub trigger_overhead_ms: f64,
    /// How long the swap holds ACCESS EXCLUSIVE, ms. Default 16.
    pub swap_lock_ms: f64,
    /// WAL written per row by the rewrite, bytes. Default 104.
    pub wal_bytes_per_row_rewrite: f64,
    /// WAL written per row by the ghost procedure (copy, its index, trigger upserts), bytes.
    /// Default 222.
    pub wal_bytes_per_row_ghost: f64,
    /// Seconds simulated before the migration starts (the baseline window). Default 10.
    pub baseline_s: f64,
    /// Seconds simulated after the migration ends. Default 8.
    pub after_s: f64,
}

impl Default for MigrationsParams {
    fn default() -> Self {
        MigrationsParams {
            procedure: Procedure::None,
            rows: 1_000_000.0,
            rate_rps: 300.0,
            read_fraction: 0.70,
            update_fraction: 0.25,
            pool_size: 16,
            db_cores: 2,
            query_ms: 2.0,
            query_sigma: 0.7,
            client_timeout_ms: 2000.0,
            rewrite_rows_per_s: 420_000.0,
            backfill_rows_per_s: 46_000.0,
            batch_size: 25_000.0,
            throttle_ms: 100.0,
            trigger_overhead_ms: 0.5,
            swap_lock_ms: 16.0,
            wal_bytes_per_row_rewrite: 104.0,
            wal_bytes_per_row_ghost: 222.0,
            baseline_s: 10.0,
            after_s: 8.0,
        }
    }
}

/// How the column type is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    /// No migration: the application's load alone.
    None,
    /// `ALTER TABLE ... ALTER COLUMN ... TYPE`: the table is rewritten under ACCESS EXCLUSIVE.
    Rewrite,
    /// Ghost table: sync trigger, batched backfill with a throttle, then a short locked swap.
    Ghost,
}

/// More simulated requests than this would take minutes per replication.
const MAX_REQUESTS: f64 = 1e8;

impl MigrationsParams {
    /// Backfill batches: the last one may be partial.
    pub fn batches(&self) -> f64 {
        (self.rows / self.batch_size).ceil()
    }

    /// The migration's duration when nothing competes with it, s.
    pub fn nominal_migration_s(&self) -> f64 {
        match self.procedure {
            Procedure::None => 0.0,
            Procedure::Rewrite => self.rows / self.rewrite_rows_per_s,
            Procedure::Ghost => {
                self.rows / self.backfill_rows_per_s
                    + self.batches() * self.throttle_ms / 1e3
                    + self.swap_lock_ms / 1e3
            }
        }
    }
}

impl Validate for MigrationsParams {
    /// Range checks.
    fn validate(&self) -> Result<(), ParamsError> {
        require_positive("rows", self.rows)?;
        if self.rows > 1e12 {
            return Err(ParamsError::out_of_range(
                "rows",
                self.rows,
                "at most 10^12 rows",
            ));
        }
        require_positive("rate_rps", self.rate_rps)?;
        require_probability("read_fraction", self.read_fraction)?;
        require_probability("update_fraction", self.update_fraction)?;
        if self.read_fraction + self.update_fraction > 1.0 + 1e-12 {
            return Err(ParamsError::out_of_range(
                "update_fraction",
                self.update_fraction,
                "read_fraction + update_fraction ≤ 1 (inserts are the rest)",
            ));
        }
        if self.pool_size == 0 || self.pool_size > 100_000 {
            return Err(ParamsError::out_of_range(
                "pool_size",
                self.pool_size,
                "1 to 100,000 connections",
            ));
        }
        if self.db_cores == 0 || self.db_cores > 4096 {
            return Err(ParamsError::out_of_range(
                "db_cores",
                self.db_cores,
                "1 to 4096 processors",
            ));
        }
        require_positive("query_ms", self.query_ms)?;
        require_non_negative("query_sigma", self.query_sigma)?;
        if self.query_sigma > 4.0 {
            return Err(ParamsError::out_of_range(
                "query_sigma",
                self.query_sigma,
                "a lognormal σ of at most 4",
            ));
        }
        require_positive("client_timeout_ms", self.client_timeout_ms)?;
        require_positive("rewrite_rows_per_s", self.rewrite_rows_per_s)?;
        require_positive("backfill_rows_per_s", self.backfill_rows_per_s)?;
        require_positive("batch_size", self.batch_size)?;
        if self.batch_size < 1.0 {
            return Err(ParamsError::out_of_range(
                "batch_size",
                self.batch_size,
                "at least 1 row per batch",
            ));
        }
        require_non_negative("throttle_ms", self.throttle_ms)?;
        require_non_negative("trigger_overhead_ms", self.trigger_overhead_ms)?;
        require_non_negative("swap_lock_ms", self.swap_lock_ms)?;
        require_non_negative("wal_bytes_per_row_rewrite", self.wal_bytes_per_row_rewrite)?;
        require_non_negative("wal_bytes_per_row_ghost", self.wal_bytes_per_row_ghost)?;
        require_positive("baseline_s", self.baseline_s)?;
        require_non_negative("after_s", self.after_s)?;
        if self.procedure == Procedure::Ghost && self.batches() > 1e8 {
            return Err(ParamsError::out_of_range(
                "batch_size",
                self.batch_size,
                "at most 10^8 batches (rows / batch_size)",
            ));
        }
        let requests =
            self.rate_rps * (self.baseline_s + self.nominal_migration_s() + self.after_s);
        if requests > MAX_REQUESTS {
            return Err(ParamsError::out_of_range(
                "rate_rps",
                self.rate_rps,
                &format!(
                    "at most 10^8 simulated requests: rate_rps × (baseline_s + migration ≈ {:.0} s + after_s) is {requests:.3e}",
                    self.nominal_migration_s()
                ),
            ));
        }
        Ok(())
    }
}
