//! The metrics the `queue` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "wait_mean",
        "s",
        "mean time in queue before service starts",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "sojourn_mean",
        "s",
        "mean time from arrival to departure",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new("sojourn_p50", "s", "median sojourn time", Better::Lower).non_negative(),
    MetricDef::new(
        "sojourn_p95",
        "s",
        "95th percentile sojourn time",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "sojourn_p99",
        "s",
        "99th percentile sojourn time",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "wait_p99",
        "s",
        "99th percentile time in queue",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "p_wait",
        "fraction",
        "share of customers who waited at all (Erlang C for M/M/c)",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "utilization",
        "fraction",
        "time-average share of servers busy",
        Better::Neither,
    )
    .fraction(),
    MetricDef::new(
        "throughput",
        "1/s",
        "departures per second after warm-up",
        Better::Higher,
    )
    .non_negative(),
    MetricDef::new(
        "queue_length_mean",
        "customers",
        "time-average number waiting",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "reneged_fraction",
        "fraction",
        "share of customers who gave up waiting (timeout)",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "wait_mean_class<N>",
        "s",
        "mean time in queue of priority class N (0 highest)",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "sojourn_mean_class<N>",
        "s",
        "mean sojourn time of priority class N",
        Better::Lower,
    )
    .non_negative(),
];
