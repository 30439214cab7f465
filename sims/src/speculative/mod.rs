//! The `speculative` room: draft-then-verify decoding (article 05).
//!
//! The article claims a 0.5B draft with an 8B target on a phone takes decoding from 6.2 to
//! 11.8 tok/s at K = 6 (~1.9x), that K = 6 is the sweet spot (K = 4: 10.1, K = 8: 11.4 tok/s;
//! acceptance 68/65/61 %), that verifying N tokens costs about the same as generating one, that
//! an mmap'd target keeps ~1.3 GB resident, and that pinning threads gives +40%.
//!
//! ```text
//!  cycle: state (easy | hard) ──► draft passes 1..K (stop early when top-1 p < p_min)
//!         ──► one target pass over the n drafts + 1 ──► accept up to the first rejection
//!         ──► + the target's own token (correction or bonus)
//!  cost:  passes · c + V(n) target decode steps; V(0) = 1 is plain decoding
//! ```
//!
//! The phone's per-token acceptance, draft cost and verify cost are not in the article (its
//! acceptance column and its V = 1 are claims), so the phone profile takes assumed figures and
//! the scenario moves them across plausible ranges.
//!
//! Assumptions: positions are independent given the cycle's state; the draft is calibrated (a
//! drafted token whose top-1 draft probability is q is accepted with probability q), with q
//! Beta-distributed around the position's α; a draft pass costs the same whatever it reads
//! (the re-fed last token after a fully accepted cycle is free); sampling and KV rollback cost
//! nothing. Costs come from a hardware profile (`profiles.rs`), model bytes give the resident
//! memory, and an unpinned thread pool waits for its slowest thread.

mod metrics;
mod model;
mod params;
mod profiles;
pub mod real;
#[cfg(test)]
mod tests;

pub use model::{CycleMoments, expected_cycle, optimal_k};
pub use params::{Alpha, MAX_K, SpeculativeParams};
pub use profiles::{Costs, Profile};
pub use real::LlamaSpeculative;

use crate::params::ParamsError;
use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Speculative;

impl Room for Speculative {
    const NAME: &'static str = "speculative";
    const DESCRIPTION: &'static str =
        "speculative decoding: a draft proposes K tokens, the target verifies them in one pass";
    type Params = SpeculativeParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["tokens"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&LlamaSpeculative]
    }

    fn prepare(p: &mut SpeculativeParams) -> Result<(), ParamsError> {
        // Show the profile's scalar figures beside the scenario's own; V(K) per K is the
        // `verify_cost_ratio` metric (a list per point would drown the report's tables).
        let c = p.costs()?;
        p.target_decode_ms = Some(c.target_decode_ms);
        p.draft_cost_ratio = Some(c.draft_cost_ratio);
        p.target_model_mb = Some(c.target_model_mb);
        p.draft_model_mb = Some(c.draft_model_mb);
        Ok(())
    }

    fn work(p: &SpeculativeParams) -> Option<Work> {
        Some(Work {
            units: p.tokens as f64,
            unit: "tokens",
            per_second: 1e7,
        })
    }

    fn run(params: &SpeculativeParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        model::run(params, &ctx.streams)
    }
}
