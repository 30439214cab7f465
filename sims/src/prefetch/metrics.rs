//! The metrics the `prefetch` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

const fn share(name: &'static str, description: &'static str) -> MetricDef {
    MetricDef::new(name, "fraction", description, Better::Higher).proportion()
}

const fn ms(name: &'static str, description: &'static str) -> MetricDef {
    MetricDef::new(name, "ms", description, Better::Lower).non_negative()
}

pub(super) const METRICS: &[MetricDef] = &[
    share("top1_accuracy", "held-out windows whose next screen is the predictor's first choice"),
    share("top3_accuracy", "held-out windows whose next screen is among the predictor's three"),
    share(
        "prior_top3_accuracy",
        "held-out windows whose next screen is among the three most frequent (other than the current one)",
    ),
    MetricDef::new(
        "bayes_top1_accuracy",
        "fraction",
        "the best top-1 accuracy any predictor of the window can reach, exactly, from the generator",
        Better::Higher,
    )
    .fraction()
    .exact(),
    MetricDef::new(
        "bayes_top3_accuracy",
        "fraction",
        "the best top-3 accuracy any predictor of the window can reach, exactly, from the generator",
        Better::Higher,
    )
    .fraction()
    .exact(),
    MetricDef::new(
        "bayes_top1_at_order",
        "fraction",
        "the best top-1 accuracy on the same windows seeing only the last ngram_order screens, exactly",
        Better::Higher,
    )
    .fraction()
    .exact(),
    MetricDef::new(
        "bayes_top3_at_order",
        "fraction",
        "the best top-3 accuracy on the same windows seeing only the last ngram_order screens, exactly",
        Better::Higher,
    )
    .fraction()
    .exact(),
    MetricDef::new(
        "exact_prior_top3_accuracy",
        "fraction",
        "the population prior's top-3 accuracy, exactly, from the generator",
        Better::Higher,
    )
    .fraction()
    .exact(),
    ms("load_p50_ms", "median screen load with prefetching"),
    ms("load_p95_ms", "95th percentile screen load with prefetching"),
    ms("baseline_load_p50_ms", "median screen load without prefetching (same taps)"),
    ms("baseline_load_p95_ms", "95th percentile screen load without prefetching (same taps)"),
    ms("load_q_ms", "screen load with prefetching at quantile cdf_quantile"),
    ms("baseline_load_q_ms", "screen load without prefetching at quantile cdf_quantile"),
    MetricDef::new(
        "p50_reduction_fraction",
        "fraction",
        "1 - load_p50_ms / baseline_load_p50_ms",
        Better::Higher,
    )
    .bounded(f64::NEG_INFINITY, 1.0),
    MetricDef::new(
        "p95_reduction_fraction",
        "fraction",
        "1 - load_p95_ms / baseline_load_p95_ms",
        Better::Higher,
    )
    .bounded(f64::NEG_INFINITY, 1.0),
    MetricDef::new(
        "p95_saved_ms",
        "ms",
        "baseline_load_p95_ms - load_p95_ms",
        Better::Higher,
    ),
    share("effective_hit_rate", "taps served from the prefetch cache (finished, not evicted, fresh)"),
    share("cold_start_hit_rate", "hits among taps before live predictions (the prior prefetches)"),
    MetricDef::new(
        "memory_overhead_mb",
        "MB",
        "cached screens (time average) times their memory, plus the model and its runtime",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "network_overhead_pct",
        "%",
        "prefetched bytes never used, against the bytes of loading every tapped screen",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "battery_overhead_pct",
        "%",
        "network_overhead_pct times the network's share of the app's battery drain (inference CPU left out)",
        Better::Lower,
    )
    .non_negative()
    .lower_bound(),
    MetricDef::new(
        "model_params",
        "parameters",
        "the LSTM's parameters (embedding, layers, dense), by arithmetic",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "model_bytes",
        "bytes",
        "the LSTM serialized (int8 weights with per-row scales when quantized, else float32)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "fp32_model_bytes",
        "bytes",
        "the LSTM serialized as float32",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "size_reduction_ratio",
        "ratio",
        "fp32_model_bytes / int8 bytes of the same model",
        Better::Higher,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "inference_ms",
        "ms",
        "time from a screen change to the prefetches' start (the predictor's inference; an input)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "ngram_contexts",
        "contexts",
        "contexts the n-gram stores (its size)",
        Better::Lower,
    )
    .non_negative(),
];
