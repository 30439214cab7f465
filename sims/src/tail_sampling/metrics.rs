//! The metrics the `tail_sampling` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "traces_per_day",
        "traces/day",
        "requests traced per day, one trace each: rpm x 1,440 (an input product)",
        Better::Neither,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "stored_traces_per_day",
        "traces/day",
        "traces whose root span was exported to the backend",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new(
        "normal_stored_traces_per_day",
        "traces/day",
        "traces neither failed, slow nor probes (the happy path) whose root was exported",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new(
        "normal_traces_kept_fraction",
        "fraction",
        "share of happy-path traces (no ERROR span, under slow_threshold_ms, not a probe) kept",
        Better::Neither,
    )
    .proportion(),
    MetricDef::new(
        "decided_before_root_fraction",
        "fraction",
        "share of traces decided before their root span (the last exported) reached the collector",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "kept_fraction",
        "fraction",
        "stored_traces_per_day / traces_per_day",
        Better::Neither,
    )
    .proportion(),
    MetricDef::new(
        "error_traces_kept_fraction",
        "fraction",
        "share of traces with an ERROR span whose root was kept",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "business_error_traces_kept_fraction",
        "fraction",
        "share of traces with an ERROR span, off the probe paths, whose root was kept",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "slow_traces_kept_fraction",
        "fraction",
        "share of traces at or above slow_threshold_ms whose root was kept",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "health_traces_kept_fraction",
        "fraction",
        "share of /health, /ready, /metrics probe traces kept",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "dropped_undecided_per_day",
        "traces/day",
        "traces evicted from num_traces before their decision (lost)",
        Better::Lower,
    )
    .rate(1.0),
    MetricDef::new(
        "dropped_undecided_fraction",
        "fraction",
        "share of traces whose first spans were evicted from num_traces before a decision (lost)",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "fragment_traces_per_day",
        "traces/day",
        "late root spans decided as a new trace on their own",
        Better::Lower,
    )
    .rate(1.0),
    MetricDef::new(
        "peak_pending_traces",
        "traces",
        "most undecided traces held at once",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "peak_buffer_mb",
        "MB",
        "most span memory held for undecided traces",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "stored_spans_per_day",
        "spans/day",
        "spans exported to the backend per day",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "stored_gb_month",
        "GB",
        "backend volume at the retention period",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "storage_usd_month",
        "usd/month",
        "object storage cost of stored_gb_month",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "vendor_usd_month",
        "usd/month",
        "a per-span vendor bill for every span emitted: rpm x minutes x mean spans x price (an input product)",
        Better::Neither,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "log_usd_month",
        "usd/month",
        "log_gb_month at the object storage price (an input product)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "cost_ratio",
        "ratio",
        "total_usd_month / vendor_usd_month (the whole self-hosted bill against the vendor)",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "pending_traces_at_end",
        "traces",
        "undecided traces held when the simulated window ends",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "buffer_mb_at_end",
        "MB",
        "span memory held for undecided traces when the window ends",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "total_usd_month",
        "usd/month",
        "object storage for traces plus log_gb_month of logs",
        Better::Lower,
    )
    .non_negative(),
];
