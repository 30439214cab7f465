//! The metrics the `idempotency` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "double_charges_per_10k",
        "per 10k",
        "extra charges beyond one per logical payment",
        Better::Lower,
    )
    .rate(10_000.0),
    MetricDef::new(
        "double_charges_per_day",
        "per day",
        "extra charges a day at payments_per_day (the simulated payments are that many days)",
        Better::Lower,
    )
    .rate(1.0),
    MetricDef::new(
        "false_dedupes_per_10k",
        "per 10k",
        "genuine payments told 'paid' by another payment's replay, never charged",
        Better::Lower,
    )
    .rate(10_000.0),
    MetricDef::new(
        "conflicts_per_10k",
        "per 10k",
        "409 'in flight' answers sent",
        Better::Lower,
    )
    .rate(10_000.0),
    MetricDef::new(
        "wrong_answers_per_10k",
        "per 10k",
        "409 answers for a payment that had already completed",
        Better::Lower,
    )
    .rate(10_000.0),
    MetricDef::new(
        "failed_payments_per_10k",
        "per 10k",
        "payments the client gave up on without a success",
        Better::Lower,
    )
    .rate(10_000.0),
    MetricDef::new(
        "p99_latency_ms",
        "ms",
        "99th percentile time from first tap to a success",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "retried_p50_s",
        "s",
        "median time from first tap to a success, for payments that needed a retry",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "table_rows_steady_state",
        "rows",
        "idempotency keys held: keys per day x TTL (a year's worth without TTL)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "burst_charges_per_key",
        "charges",
        "burst mode: charges per burst of burst_size duplicates of one key",
        Better::Lower,
    )
    .rate(1.0),
    MetricDef::new(
        "burst_double_charged",
        "fraction",
        "burst mode: bursts that charged more than once, of bursts run",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "burst_conflicts_per_key",
        "answers",
        "burst mode: 409 answers per burst",
        Better::Lower,
    )
    .rate(1.0),
    MetricDef::new(
        "burst_replays_per_key",
        "answers",
        "burst mode: stored-result replays per burst",
        Better::Neither,
    )
    .rate(1.0),
    MetricDef::new(
        "burst_wrong_answers_per_key",
        "answers",
        "burst mode: 409 answers for a completed payment per burst",
        Better::Lower,
    )
    .rate(1.0),
];
