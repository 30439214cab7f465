//! The `tail_sampling` room: an OpenTelemetry Collector `tail_sampling` processor at full-day
//! scale (article 01).
//!
//! The article claims its config keeps every error and slow request, drops health checks and
//! samples 5% of the rest: ~720k of 14.4M traces a day, a 90%+ cut, for about $45 a month.
//! The room decides every trace as the real processor would (policy semantics, the combination
//! precedence, legacy vs plain invert by collector version) and runs the collector's mechanics:
//!
//! ```text
//!  requests ──► SDK batch export (5 s) ──► collector: new trace? ─► batch of this tick
//!     children first, root last                 │ num_traces full: evict oldest (FIFO)
//!                                               ▼
//!            1 s ticks: decide batches N = decision_wait ticks old ──► sampled: export, cache
//!            late spans: sampled cache ─ non-sampled cache ─ inherit ─ new fragment trace
//! ```
//!
//! Assumptions: one collector; one trace per request; the path attribute lives on the root
//! (server) span only; children end by 90% of the request; errors are span status ERROR.

mod attr;
mod cache;
mod collector;
mod config;
mod config_policy;
mod counts;
mod evaluate;
mod ids;
mod limits;
mod metrics;
mod model;
mod ottl;
mod params;
mod policy;
mod routes;
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_policies;
mod tools;
mod trace;
mod tracestate;
mod yaml;

pub use params::{TailSamplingParams, parse_version, semantics};
pub use policy::{InvertMode, Semantics};

use crate::params::ParamsError;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};
use crate::tool::Tool;

/// A collector config's policies as a decision function, for benchmarks and embedding (the
/// room's config, policy and trace types stay inside it). Stateful policies (rate and byte
/// limits, composites) keep their state in the decider, across the traces it decides.
#[derive(Debug, Clone)]
pub struct Decider {
    config: config::TailConfig,
    semantics: Semantics,
    state: limits::PolicyState,
}

/// One trace in the JSON form `lab tail-sampling decide` reads.
#[derive(Debug, Clone)]
pub struct TraceInput(trace::Trace);

impl TraceInput {
    /// Parses one JSON line (see the README for the format).
    pub fn from_json_line(line: &str) -> Result<TraceInput, String> {
        trace::Trace::from_json_line(line).map(TraceInput)
    }
}

impl Decider {
    /// Parses a collector config (a whole collector config or the tail_sampling block).
    pub fn from_yaml(yaml: &str, semantics: Semantics) -> Result<Decider, String> {
        let config = config::parse(yaml).map_err(|e| e.to_string())?;
        let state = limits::PolicyState::new(config.slots);
        Ok(Decider {
            config,
            semantics,
            state,
        })
    }

    /// Whether the collector samples `trace`, deciding it at `now_ns` (Unix ns: the clock
    /// rate and byte limits and composites count in).
    pub fn sampled(&mut self, trace: &TraceInput, now_ns: i64) -> bool {
        self.state.now_ns = now_ns;
        evaluate::decide(
            &self.config.policies,
            &trace.0,
            &self.semantics,
            self.config.sample_on_first_match,
            &mut self.state,
            None,
        )
        .sampled
    }
}

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct TailSampling;

impl Room for TailSampling {
    const NAME: &'static str = "tail_sampling";
    const DESCRIPTION: &'static str = "OpenTelemetry tail_sampling processor: exact policy decisions, a day of traffic, storage cost";
    type Params = TailSamplingParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["sim_hours"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn tools() -> &'static [Tool] {
        tools::TOOLS
    }

    fn prepare(p: &mut TailSamplingParams) -> Result<(), ParamsError> {
        p.load()
    }

    fn work(p: &TailSamplingParams) -> Option<Work> {
        // Measured: a day at 10k RPM (14.4M traces) in about 10 s on one core.
        Some(Work {
            units: p.rpm * 60.0 * p.sim_hours,
            unit: "traces",
            per_second: 1.4e6,
        })
    }

    fn run(p: &TailSamplingParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        let loaded = p
            .loaded
            .as_ref()
            .ok_or_else(|| RunError::Model("the collector config was not loaded".into()))?;
        let (cfg, sem) = &*loaded.0;
        Ok(model::run(p, cfg, *sem, &ctx.streams))
    }
}
