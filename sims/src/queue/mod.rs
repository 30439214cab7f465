//! The `queue` room: a general queueing station, used to validate the engine against exact
//! results (M/M/1, M/M/c Erlang C, M/D/1 Pollaczek-Khinchine, Cobham's non-preemptive priority
//! M/M/1) and as a building block to reason about any single-station claim.
//!
//! ```text
//!  arrivals (Poisson | deterministic | trace)
//!      │  class drawn by share, work drawn from the service distribution
//!      ▼
//!  ┌──────────── station ─────────────┐
//!  │ class 0 queue ─┐                 │
//!  │ class 1 queue ─┼─► c servers ────┼─► departures (wait, sojourn recorded)
//!  │   …            │  (preemptive-   │
//!  └────────────────┘   resume opt.)  │
//!      │ waiting longer than `timeout` ──► reneged
//! ```
//!
//! Assumptions: servers are identical; service work does not depend on class; the first
//! `warmup` customers are deleted; a replication ends when every one of the next `customers`
//! customers has departed or reneged, with arrivals continuing until then (no end-of-run
//! truncation bias for low classes).

mod metrics;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use params::{ArrivalProcess, QueueParams, ServiceDist};

use crate::params::ParamsError;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Queue;

impl Room for Queue {
    const NAME: &'static str = "queue";
    const DESCRIPTION: &'static str =
        "multi-server queue with priority classes, preemption and timeouts (engine validation)";
    type Params = QueueParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["customers", "warmup"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn work(p: &QueueParams) -> Option<Work> {
        // Measured: the queueing scenario, 146M customers in 22 s on two cores.
        Some(Work {
            units: (p.customers + p.warmup) as f64,
            unit: "customers",
            per_second: 3e6,
        })
    }

    fn complete_table(table: &toml::Table) -> Option<toml::Table> {
        // `utilization` in place of `arrival_rate`: the rate is derived in `prepare`; NaN marks
        // it as not given, so giving both is an error `validate` can see.
        if table.contains_key("utilization") && !table.contains_key("arrival_rate") {
            let mut t = table.clone();
            t.insert("arrival_rate".into(), toml::Value::Float(f64::NAN));
            return Some(t);
        }
        None
    }

    fn prepare(p: &mut QueueParams) -> Result<(), ParamsError> {
        p.derive_rate()
    }

    fn run(params: &QueueParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        model::run(params, &ctx.streams)
    }
}
