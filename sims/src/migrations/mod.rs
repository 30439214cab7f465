//! The `migrations` room: a PostgreSQL table under application load while its column type is
//! changed (article 11). The article claims a raw `ALTER` on 500M rows locks for 8-12 minutes,
//! a ghost-table copy-and-swap takes 2-4 hours with p99 only 3-5% above baseline, and 25k-row
//! batches with a 100 ms throttle "add minutes".
//!
//! ```text
//!  requests (Poisson; read / update / insert)
//!      │ client timeout counts from arrival; a timed-out request gives its connection back
//!      ▼
//!  pool (pool_size connections, FIFO) ──► table lock ──► processors (db_cores, shared)
//!                                          ▲  a pending or held ACCESS EXCLUSIVE makes every
//!                                          │  statement queue here, holding its connection
//!  rewrite: ACCESS EXCLUSIVE for rows / rewrite_rows_per_s on one processor
//!  ghost:   trigger cost on writes │ batch (one processor) │ throttle sleep │ … │ swap lock
//! ```
//!
//! Assumptions: one table (every request touches it); the processors are shared by everything
//! runnable, at most one processor per statement or batch (processor sharing, as an operating
//! system schedules backends); a statement waiting for a lock uses no processor; disk I/O is
//! not modelled, so I/O headroom never limits; the ghost table and trigger are created
//! instantly; requests' processor times are lognormal; the statement timeout equals the
//! client timeout and both count from arrival.

mod metrics;
mod model;
mod params;
pub mod real;
#[cfg(test)]
mod tests;

pub use params::{MigrationsParams, Procedure};
pub use real::PgMigrations;

use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Migrations;

impl Room for Migrations {
    const NAME: &'static str = "migrations";
    const DESCRIPTION: &'static str = "PostgreSQL column-type migrations under load: raw ALTER rewrite vs ghost-table copy and swap";
    type Params = MigrationsParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["baseline_s", "after_s"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&PgMigrations]
    }

    fn work(p: &MigrationsParams) -> Option<Work> {
        // Requests over the baseline, the slower of the two procedures' copies, and after.
        let copy_s = p.rows / p.rewrite_rows_per_s.min(p.backfill_rows_per_s);
        Some(Work {
            units: p.rate_rps * (p.baseline_s + copy_s + p.after_s),
            unit: "requests",
            per_second: 1e6,
        })
    }

    fn run(params: &MigrationsParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        Ok(model::run(params, &ctx.streams))
    }
}
