//! The `gpu_serving` room: LLM inference on shared GPUs under Kubernetes (article 02).
//!
//! The article claims a cut from ~$52k to ~$16k a month on 8x A100 by time-slicing GPUs into 4
//! replicas ("double or triple effective capacity"), a reserved pool for real-time requests
//! (P0 under 200 ms at P99 with 30% of the slices while batch fills idle cycles), pod-level
//! preemption for batch, and a cost table that breaks even with an API around 3M requests a
//! month.
//!
//! ```text
//!  P0 / P1 / P2 arrivals (Poisson × daily cycle × bursts, or a closed batch backlog)
//!    │ per-tenant token-bucket quotas
//!    ▼
//!  application queue: fifo | strict_priority | reserved_pool (P0's share of replicas;
//!    │                 P2 may borrow it and is preempted, checkpoint/restart)
//!    ▼                                   pod controller (minutes): evict a batch pod,
//!  GPU 0: replica 0 │ replica 1 │ …        start a P0 pod after pod_startup_s
//!  GPU 1: …   each replica = continuous batching: step = t(B) + prefill chunk × cost
//!             replicas of one GPU share it: each stepping replica runs at
//!             1 / (n (1 + overhead)) of its solo speed (measured time-slicing)
//! ```
//!
//! Assumptions: step times come from the H100 calibration at KV length 1024 whatever the
//! context (A100 by datasheet scaling); a sequence reserves its full KV (prompt + output) when
//! admitted; the router sends a request to the least-loaded replica it may use; a replica
//! admits new sequences at step boundaries; time-sliced replicas split the usable memory
//! equally and each holds a copy of the weights. P0/P1 latency is time to first token (the
//! streamed answer starts); `*_e2e_*` metrics are time to last token.
//!
//! Besides the cluster the room runs two small experiments per replication on one GPU: the
//! capacity probe (every replica kept full: requests per second) and the tenant probe (the
//! dataset's time-slicing experiment: `replicas` tenants with `tenant_duty` busy share each).
//! The cost model sizes the cluster from the measured capacity.

mod choices;
mod class;
mod cluster;
mod cost;
mod engine;
mod hardware;
mod metrics;
mod model;
mod params;
mod pods;
mod probe;
pub mod real;
mod routing;
#[cfg(test)]
mod tests;
mod workload;

pub use params::{
    Arrival, ClassParams, GpuServingParams, ModelShape, Placement, Policy, Profile, Sharing,
    TokenDist,
};
pub use real::LlamaBatch;

use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct GpuServing;

impl Room for GpuServing {
    const NAME: &'static str = "gpu_serving";
    const DESCRIPTION: &'static str = "LLM serving on shared GPUs: continuous batching vs time-slicing, priority queues, preemption, self-hosted vs API cost";
    type Params = GpuServingParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["sim_minutes", "warmup_minutes", "probe_requests"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&LlamaBatch]
    }

    fn complete_table(table: &toml::Table) -> Option<toml::Table> {
        Some(GpuServingParams::fill_class_defaults(table))
    }

    fn work(p: &GpuServingParams) -> Option<Work> {
        // Requests at the peak rate over the simulated window, plus the probe's.
        let seconds = (p.sim_minutes + p.warmup_minutes) * 60.0;
        let peak_rps = p.monthly_requests / (30.0 * 86_400.0) * p.daily_peak_to_mean;
        Some(Work {
            units: peak_rps * seconds + f64::from(p.probe_requests),
            unit: "requests",
            per_second: 2e5,
        })
    }

    fn run(params: &GpuServingParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        model::run(params, &ctx.streams)
    }
}
