//! The `idempotency` room: double charges on flaky mobile networks (article 07).
//!
//! The article claims 1-5% timeouts mean dozens of potential double charges a day at thousands
//! of payments; random UUID keys defeat idempotency; a content-hash key prevents double
//! charges; `ON CONFLICT` handles sequential duplicates and `FOR UPDATE` concurrent ones; a
//! 24-hour TTL bounds the table.
//!
//! ```text
//!  client ──attempt──► (request lost?) ──► server flow ──► provider charge ──► (response lost?)
//!    ▲ timeout / 409: retry with backoff, max attempts, offline replay hours later │
//!    └─────────────────────────────────────────────────────────────────────────────┘
//!  server flows: none | in-memory set | SELECT → ON CONFLICT claim → charge → complete
//!                | the same + FOR UPDATE | claim-charge-complete in one transaction
//! ```
//!
//! Assumptions: the provider always charges once asked (a crash after asking still charges);
//! keys expire after the TTL; a double tap is a second request within 100 ms; a genuine
//! identical payment follows with `identical_repeat_rate`.

mod group;
mod metrics;
mod model;
mod params;
pub mod real;
mod server;
#[cfg(test)]
mod tests;

pub use params::{IdempotencyParams, KeyStrategy, ServerStrategy};
pub use real::PgIdempotency;

use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency;

impl Room for Idempotency {
    const NAME: &'static str = "idempotency";
    const DESCRIPTION: &'static str = "idempotent payments: key and server strategies under lost requests, lost responses and retries";
    type Params = IdempotencyParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["burst_trials", "payments_simulated"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&PgIdempotency]
    }

    fn work(p: &IdempotencyParams) -> Option<Work> {
        Some(Work {
            units: f64::from(p.payments_simulated)
                + f64::from(p.burst_trials) * f64::from(p.burst_size),
            unit: "payments",
            per_second: 1e6,
        })
    }

    fn run(params: &IdempotencyParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        Ok(model::run(params, &ctx.streams))
    }
}
