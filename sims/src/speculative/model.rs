//! The cycle-level Monte Carlo of draft-then-verify decoding, and its exact expectations.
//!
//! One cycle: the cycle's state (easy or hard) is drawn; the draft proposes positions
//! 1, 2, ... K, each after one draft pass, stopping early at the first position whose top-1
//! probability is below `p_min` (that pass is spent, its token not proposed); the target
//! verifies the n proposed tokens in one pass over n + 1 tokens; tokens are accepted up to the
//! first rejection, and the target adds its own token (the correction, or the bonus when all n
//! passed). A cycle yields accepted + 1 tokens and costs passes · c + V(n) target decode steps.
//! Long-run throughput is E[tokens per cycle] / E[cost per cycle] (renewal-reward), which is
//! what [`expected_cycle`] computes in closed form and the Monte Carlo estimates.

use statrs::function::beta::beta_reg;

use super::params::SpeculativeParams;
use super::profiles::Costs;
use crate::des::{RngStreams, uniform};
use crate::simulation::{Outcome, RunError};

/// Expected values per cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CycleMoments {
    /// Tokens produced (accepted drafts + the target's own token).
    pub tokens: f64,
    /// Drafted tokens accepted.
    pub accepted: f64,
    /// Tokens the draft proposed.
    pub drafted: f64,
    /// Drafted tokens whose acceptance was tested (up to and including the first rejection).
    pub trials: f64,
    /// Cost in target decode steps: draft passes · c + V(n).
    pub cost: f64,
}

impl CycleMoments {
    /// Expected speedup over plain decoding (one token per target decode step).
    pub fn speedup(&self) -> f64 {
        self.tokens / self.cost
    }
}

/// P(q ≥ p_min) and E[q · 1{q ≥ p_min}] for the draft's top-1 probability q ~ Beta with mean
/// `m` and concentration κ. A drafted token is accepted with probability q, so the second is
/// P(proposed and accepted).
pub(super) fn cutoff_moments(m: f64, kappa: f64, p_min: f64) -> (f64, f64) {
    if p_min <= 0.0 {
        (1.0, m)
    } else if m <= 0.0 {
        (0.0, 0.0)
    } else if m >= 1.0 {
        (1.0, 1.0)
    } else {
        let (a, b) = (m * kappa, (1.0 - m) * kappa);
        (
            1.0 - beta_reg(a, b, p_min),
            m * (1.0 - beta_reg(a + 1.0, b, p_min)),
        )
    }
}

/// Acceptance probability of each position 1..=k in the easy and the hard state.
fn alphas(p: &SpeculativeParams, k: u32) -> [Vec<f64>; 2] {
    let easy: Vec<f64> = (1..=k).map(|i| p.alpha_at(i)).collect();
    let hard = easy.iter().map(|a| a * p.hard_alpha_factor).collect();
    [easy, hard]
}

/// Exact per-cycle expectations at draft length `k` (positions are independent given the
/// cycle's state).
pub fn expected_cycle(p: &SpeculativeParams, costs: &Costs, k: u32) -> CycleMoments {
    let [easy, hard] = alphas(p, k);
    let mut total = CycleMoments {
        tokens: 0.0,
        accepted: 0.0,
        drafted: 0.0,
        trials: 0.0,
        cost: 0.0,
    };
    for (weight, state) in [
        (1.0 - p.hard_cycle_share, &easy),
        (p.hard_cycle_share, &hard),
    ] {
        if weight == 0.0 {
            continue;
        }
        // prefix_g = P(n ≥ j); prefix_w = P(first j proposed and accepted).
        let (mut prefix_g, mut prefix_w) = (1.0, 1.0);
        let (mut accepted, mut drafted, mut trials) = (0.0, 0.0, 0.0);
        let (mut passes, mut verify) = (0.0, 0.0);
        for (j, &m) in state.iter().enumerate() {
            let (g, w) = cutoff_moments(m, p.draft_confidence_concentration, p.p_min);
            // n = j exactly: position j + 1 was looked at (one pass) and cut off.
            let stop_here = prefix_g * (1.0 - g);
            passes += stop_here * (j + 1) as f64;
            verify += stop_here * costs.verify_ratio(j as u32);
            trials += prefix_w * g;
            prefix_g *= g;
            prefix_w *= w;
            drafted += prefix_g;
            accepted += prefix_w;
        }
        passes += prefix_g * k as f64;
        verify += prefix_g * costs.verify_ratio(k);
        total.tokens += weight * (1.0 + accepted);
        total.accepted += weight * accepted;
        total.drafted += weight * drafted;
        total.trials += weight * trials;
        total.cost += weight * (passes * costs.draft_cost_ratio + verify);
    }
    total
}

/// The K in 1..=k_max with the highest expected speedup (the smallest on ties).
pub fn optimal_k(p: &SpeculativeParams, costs: &Costs) -> u32 {
    let mut best = (1, f64::NEG_INFINITY);
    for k in 1..=p.k_max {
        let s = expected_cycle(p, costs, k).speedup();
        if s > best.1 {
            best = (k, s);
        }
    }
    best.0
}

/// A step of an unpinned barrier-synchronised pool waits for its slowest thread: with each of
/// n threads on an efficiency core (speed s) with probability p, a step takes
/// (1 − q) + q / s pinned steps, q = 1 − (1 − p)^n.
pub(super) fn unpinned_slowdown(p: &SpeculativeParams) -> f64 {
    let q = 1.0 - (1.0 - p.unpinned_little_core_share).powi(p.threads as i32);
    (1.0 - q) + q / p.little_core_speed
}

/// Resident memory of both models and KV caches, MB: a model loaded without mmap is copied in
/// whole; a memory-mapped one holds the pages a warm decode loop touches.
pub(super) fn rss_mb(p: &SpeculativeParams, costs: &Costs) -> f64 {
    let resident = |mb: f64, mmap: bool| {
        if mmap {
            mb * p.mmap_touched_fraction
        } else {
            mb
        }
    };
    resident(costs.target_model_mb, p.target_mmap)
        + resident(costs.draft_model_mb, p.draft_mmap)
        + p.target_kv_mb
        + p.draft_kv_mb
}

/// One replication: cycles until `tokens` tokens are produced.
pub(super) fn run(p: &SpeculativeParams, streams: &RngStreams) -> Result<Outcome, RunError> {
    let costs = p.costs()?;
    let k = p.k;
    // Per position and state: P(proposed) and P(accepted | proposed). The draft's top-1
    // probability q matters only through the cutoff and the acceptance coin it sets, so drawing
    // these two events is the same in distribution as drawing q (and 20x faster than Beta draws;
    // `tests.rs` checks the two moments against drawn q).
    let states: Vec<Vec<(f64, f64)>> = alphas(p, k)
        .iter()
        .map(|s| {
            s.iter()
                .map(|&m| {
                    let (g, w) = cutoff_moments(m, p.draft_confidence_concentration, p.p_min);
                    (g, if g > 0.0 { w / g } else { 0.0 })
                })
                .collect()
        })
        .collect();
    let mut state_rng = streams.stream("cycle_state");
    let mut confidence_rng = streams.stream("draft_confidence");
    let mut acceptance_rng = streams.stream("acceptance");

    let (mut tokens, mut cycles, mut accepted, mut drafted, mut trials) = (0u64, 0u64, 0, 0, 0);
    let mut cost = 0.0;
    while tokens < p.tokens {
        let hard = p.hard_cycle_share > 0.0 && uniform(&mut state_rng) < p.hard_cycle_share;
        let positions = &states[hard as usize];
        let (mut n, mut passes, mut ok) = (0u32, 0u32, 0u64);
        let mut rejected = false;
        for &(proposed, accept) in positions {
            passes += 1;
            if proposed < 1.0 && uniform(&mut confidence_rng) >= proposed {
                break;
            }
            n += 1;
            // The draft keeps proposing after a token the target will reject: it cannot know.
            if !rejected {
                if uniform(&mut acceptance_rng) < accept {
                    ok += 1;
                } else {
                    rejected = true;
                }
            }
        }
        cycles += 1;
        tokens += ok + 1;
        accepted += ok;
        drafted += n as u64;
        trials += ok + rejected as u64;
        cost += passes as f64 * costs.draft_cost_ratio + costs.verify_ratio(n);
    }

    let slowdown = if p.pinned { 1.0 } else { unpinned_slowdown(p) };
    let seconds = cost * costs.target_decode_ms * slowdown / 1000.0;
    let mut out = Outcome::default();
    out.set("tokens_per_s", tokens as f64 / seconds);
    out.set("speedup", tokens as f64 / cost);
    if trials > 0 {
        out.set_proportion("alpha_per_token", accepted, trials);
    }
    if drafted > 0 {
        out.set_proportion("accept_rate_drafted", accepted, drafted);
    }
    out.set("mean_tokens_per_cycle", tokens as f64 / cycles as f64);
    out.set("draft_cost_ratio", costs.draft_cost_ratio);
    out.set("verify_cost_ratio", costs.verify_ratio(k));
    out.set("optimal_k", optimal_k(p, &costs) as f64);
    out.set("rss_mb", rss_mb(p, &costs));
    out.set("pinning_gain_fraction", unpinned_slowdown(p) - 1.0);
    Ok(out)
}
