//! The metrics the `migrations` room emits. Names are a contract other tools read (the real
//! kernel reports its measurements under matching names).

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "lock_hold_s",
        "s",
        "ACCESS EXCLUSIVE held on the table: the rewrite, or the ghost swap (0 without a migration)",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "rewrite_rows_per_s",
        "rows/s",
        "rewrite: rows / lock_hold_s",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "ghost_total_s",
        "s",
        "ghost: migration start to the end of the swap",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "ghost_copy_rows_per_s",
        "rows/s",
        "ghost: rows / backfill phase (batches and throttle sleeps, before the swap)",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "backfill_duty_cycle",
        "fraction",
        "ghost: share of the backfill phase a batch was running",
        Better::Neither,
    ).fraction(),
    MetricDef::new(
        "throttle_s",
        "s",
        "ghost: time the backfill spent in its throttle sleeps (batches x throttle)",
        Better::Neither,
    ).non_negative().from_inputs(),
    MetricDef::new(
        "mean_ms_baseline",
        "ms",
        "mean latency of requests that arrived before the migration",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p50_ms_baseline",
        "ms",
        "median latency of requests that arrived before the migration",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p99_ms_baseline",
        "ms",
        "99th percentile latency of requests that arrived before the migration",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p50_ms_during",
        "ms",
        "median latency of requests that arrived during the migration",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p99_ms_during",
        "ms",
        "99th percentile latency of requests that arrived during the migration (timeouts count at the timeout)",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "p99_inflation_pct",
        "%",
        "p99_ms_during over p99_ms_baseline, minus one",
        Better::Lower,
    ).bounded(-100.0, f64::INFINITY),
    MetricDef::new(
        "p99_ms_after",
        "ms",
        "99th percentile latency of requests that arrived after the migration (the backlog draining)",
        Better::Lower,
    ).non_negative(),
    MetricDef::new(
        "timeouts",
        "requests",
        "requests that timed out, whole run",
        Better::Lower,
    ).count(),
    MetricDef::new(
        "error_fraction",
        "fraction",
        "share of the requests that arrived during the migration that timed out (without a migration: of all requests)",
        Better::Lower,
    ).proportion(),
    MetricDef::new(
        "pool_exhausted_after_s",
        "s",
        "time from the migration's start until a request first found every pool connection taken",
        Better::Higher,
    ).non_negative(),
    MetricDef::new(
        "wal_mb",
        "MB",
        "WAL the migration writes (10^6 bytes)",
        Better::Lower,
    ).non_negative().from_inputs(),
];
