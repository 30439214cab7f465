//! The metrics the `speculative` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "tokens_per_s",
        "tok/s",
        "generated tokens per second of decoding (draft, verify and plain steps)",
        Better::Higher,
    )
    .non_negative(),
    MetricDef::new(
        "speedup",
        "x",
        "tokens per second over plain decoding with the target alone on the same hardware",
        Better::Higher,
    )
    .non_negative(),
    MetricDef::new(
        "alpha_per_token",
        "fraction",
        "accepted / tested drafted tokens (tested: up to and including the first rejection)",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "accept_rate_drafted",
        "fraction",
        "accepted / drafted tokens: what llama.cpp prints as `accept`",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "mean_tokens_per_cycle",
        "tokens",
        "tokens per draft-verify cycle (accepted drafts + the target's own token)",
        Better::Higher,
    )
    .non_negative(),
    MetricDef::new(
        "draft_cost_ratio",
        "x",
        "c: one draft pass relative to one target decode step (from the profile)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "verify_cost_ratio",
        "x",
        "V(K): verifying K drafts (K + 1 tokens) relative to one target decode step",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "optimal_k",
        "tokens",
        "the K in 1..=k_max with the highest expected speedup (exact expectation)",
        Better::Neither,
    )
    .non_negative()
    .exact(),
    MetricDef::new(
        "rss_mb",
        "MB",
        "resident memory of both models' weights and KV caches once decoding is warm",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "pinning_gain_fraction",
        "fraction",
        "throughput gained by pinning threads to performance cores (straggler model, a closed \
         form of threads, core speed and the unpinned share)",
        Better::Neither,
    )
    .bounded(-1.0, f64::INFINITY)
    .from_inputs(),
];
