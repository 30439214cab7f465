//! The metrics the `gc` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "latency_mean_ms",
        "ms",
        "mean time from arrival to response",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new("latency_p50_ms", "ms", "median latency", Better::Lower).non_negative(),
    MetricDef::new(
        "latency_p99_ms",
        "ms",
        "99th percentile latency",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "latency_p999_ms",
        "ms",
        "99.9th percentile latency",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "latency_max_ms",
        "ms",
        "largest latency of the measured requests",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "gc_pause_max_ms",
        "ms",
        "longest stop-the-world pause or assist stall in the run (grows with the number of collections drawn)",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "gc_pause_mean_ms",
        "ms",
        "mean stop-the-world pause or assist stall",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "latency_p99_gain_ms",
        "ms",
        "P99 of the default row (tuning_step 0) minus this row's, on the same random numbers",
        Better::Higher,
    ),
    MetricDef::new(
        "gc_pause_max_gain_ms",
        "ms",
        "longest pause of the default row minus this row's, on the same random numbers",
        Better::Higher,
    ),
    MetricDef::new(
        "gc_count_per_min",
        "1/min",
        "collections started per minute",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "assist_stalls_per_min",
        "1/min",
        "epochs in which the heap reached the target and mutators stalled",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "heap_peak_mb",
        "MB",
        "largest heap (live after last collection + allocated since)",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "cpu_gc_fraction",
        "fraction",
        "core time spent collecting (STW on every core, concurrent phases on the GC threads) over all core time",
        Better::Lower,
    )
    .fraction(),
    MetricDef::new(
        "utilization",
        "fraction",
        "request work (own + allocation) over all core time",
        Better::Neither,
    )
    .fraction(),
    MetricDef::new(
        "alloc_rate_mb_per_s",
        "MB/s",
        "bytes allocated per second (arrival rate × bytes per request after pooling)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "gc_trigger_alloc_per_live",
        "ratio",
        "bytes allocated since the last collection started over the live set, when a collection starts",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new(
        "target_heap_after_gc_mb",
        "MB",
        "the scheduler's target heap after each collection (autotune replaces the user's)",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new(
        "gc_phase_count",
        "phases",
        "phases of a collection in the runtime (mark, sweep; no cycle collector)",
        Better::Neither,
    )
    .from_inputs()
    .exact(),
    MetricDef::new(
        "cyclic_collector_setting_effective",
        "bool",
        "whether GC.cyclicCollectorEnabled changes anything (a deprecated no-op of the legacy memory manager)",
        Better::Neither,
    )
    .from_inputs()
    .exact(),
    MetricDef::new(
        "default_allocator_is_mimalloc",
        "bool",
        "whether the runtime's default allocator at kn_version is mimalloc (it is its own paged allocator from 1.9.20)",
        Better::Neither,
    )
    .from_inputs()
    .exact(),
    MetricDef::new(
        "article_env_vars_read_fraction",
        "fraction",
        "share of the article's three MIMALLOC_* variables the runtime's allocator reads",
        Better::Neither,
    )
    .fraction()
    .from_inputs()
    .exact(),
    MetricDef::new(
        "pooling_gc_frequency_ratio",
        "ratio",
        "collections per minute with pooling over without: bytes allocated per request after over before",
        Better::Lower,
    )
    .non_negative()
    .from_inputs()
    .exact(),
];
