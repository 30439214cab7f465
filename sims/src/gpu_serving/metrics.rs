//! The metrics the `gpu_serving` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "p0_latency_p99_ms",
        "ms",
        "99th percentile time to first token of P0 (real-time) requests",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p0_latency_mean_ms",
        "ms",
        "mean time to first token of P0 requests",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p0_e2e_p99_ms",
        "ms",
        "99th percentile time to last token of P0 requests",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p0_e2e_mean_ms",
        "ms",
        "mean time to last token of P0 requests",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p1_latency_p99_ms",
        "ms",
        "99th percentile time to first token of P1 (near-real-time) requests",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p1_e2e_p99_ms",
        "ms",
        "99th percentile time to last token of P1 requests",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p2_throughput_rps",
        "1/s",
        "P2 (batch) requests completed per second",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "throughput_rps",
        "1/s",
        "requests of all classes completed per second",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "gpu_utilization",
        "fraction",
        "share of time a GPU runs a step (what nvidia-smi reports), mean over GPUs",
        Better::Neither,
    ).fraction(),
    MetricDef::new(
        "capacity_rps",
        "1/s",
        "requests per second the cluster completes when every process always has work (class mix)",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "capacity_vs_batching",
        "ratio",
        "capacity_rps over the same GPUs' capacity with one batching process each",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "capacity_used_fraction",
        "fraction",
        "throughput_rps over capacity_rps",
        Better::Neither,
    ).non_negative(),
    MetricDef::new(
        "max_batch_per_replica",
        "sequences",
        "sequences of the mean class-mix length one process holds (KV cache or max_batch); 0: the weights do not fit",
        Better::Higher,
    ).non_negative().from_inputs(),
    MetricDef::new(
        "preemptions_per_hour",
        "1/h",
        "batch sequences preempted at request level per hour",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "pod_preemptions_per_hour",
        "1/h",
        "batch pods evicted by pod-level preemption per hour",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "lost_work_fraction",
        "fraction",
        "share of the P2 tokens processed (prefill and decode) that preemption threw away: prefill done and output since the last checkpoint",
        Better::Lower,
    ).fraction(),
    MetricDef::new(
        "quota_rejected_fraction",
        "fraction",
        "share of open-class requests refused by per-tenant quotas",
        Better::Lower,
    ).proportion(),
    MetricDef::new(
        "tenant_token_gain",
        "ratio",
        "tenant probe: tokens/s of `replicas` tenants on one GPU over one tenant alone",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "tenant_latency_stretch",
        "ratio",
        "tenant probe: mean request latency of `replicas` tenants over one tenant alone",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "cost_cut_vs_dedicated",
        "fraction",
        "tenant probe: cost per served token cut by putting `replicas` tenants on one GPU instead of one GPU each (1 - 1/gain)",
        Better::Higher,
    ).bounded(f64::NEG_INFINITY, 1.0),
    MetricDef::new(
        "gpus_provisioned",
        "GPUs",
        "GPUs at the busiest hour for the monthly volume (at least `gpus`, whole nodes)",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "self_hosted_usd_month",
        "usd",
        "GPU node-hours x price for the monthly volume",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "api_usd_month",
        "usd",
        "API price of the monthly volume",
        Better::Neither,
    ).non_negative().from_inputs(),
    MetricDef::new(
        "savings_usd_month",
        "usd",
        "api_usd_month - self_hosted_usd_month",
        Better::Higher,
    ),
    MetricDef::new(
        "savings_fraction",
        "fraction",
        "savings_usd_month over api_usd_month",
        Better::Higher,
    ).bounded(f64::NEG_INFINITY, 1.0),
    MetricDef::new(
        "breakeven_requests_month",
        "requests",
        "smallest monthly volume at which self-hosting costs no more than the API",
        Better::Neither,
    ).non_negative(),
    MetricDef::new(
        "self_hosted_scale_exponent",
        "ratio",
        "log-log slope of self-hosted cost from a tenth of the volume to the volume (1: linear)",
        Better::Neither,
    ),
];
