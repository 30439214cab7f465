//! The metrics the `queue` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

const fn m(
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    better: Better,
) -> MetricDef {
    MetricDef {
        name,
        unit,
        description,
        better,
    }
}

pub(super) const METRICS: &[MetricDef] = &[
    m(
        "wait_mean",
        "s",
        "mean time in queue before service starts",
        Better::Lower,
    ),
    m(
        "sojourn_mean",
        "s",
        "mean time from arrival to departure",
        Better::Lower,
    ),
    m("sojourn_p50", "s", "median sojourn time", Better::Lower),
    m(
        "sojourn_p95",
        "s",
        "95th percentile sojourn time",
        Better::Lower,
    ),
    m(
        "sojourn_p99",
        "s",
        "99th percentile sojourn time",
        Better::Lower,
    ),
    m(
        "wait_p99",
        "s",
        "99th percentile time in queue",
        Better::Lower,
    ),
    m(
        "p_wait",
        "fraction",
        "share of customers who waited at all (Erlang C for M/M/c)",
        Better::Lower,
    ),
    m(
        "utilization",
        "fraction",
        "time-average share of servers busy",
        Better::Neither,
    ),
    m(
        "throughput",
        "1/s",
        "departures per second after warm-up",
        Better::Higher,
    ),
    m(
        "queue_length_mean",
        "customers",
        "time-average number waiting",
        Better::Lower,
    ),
    m(
        "reneged_fraction",
        "fraction",
        "share of customers who gave up waiting (timeout)",
        Better::Lower,
    ),
    m(
        "wait_mean_class<N>",
        "s",
        "mean time in queue of priority class N (0 highest)",
        Better::Lower,
    ),
    m(
        "sojourn_mean_class<N>",
        "s",
        "mean sojourn time of priority class N",
        Better::Lower,
    ),
];
