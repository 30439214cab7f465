//! The metrics the `ab_testing` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new(
        "n_per_arm",
        "users",
        "closed-form users per arm for mde_lift at target_power (t-test; Fleiss for conversion)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "power",
        "fraction",
        "share of experiments that declare the truly better arm better when the arms differ",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "false_positive_rate",
        "fraction",
        "share of experiments that declare a difference when the arms are equal",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "decision_correct_rate",
        "fraction",
        "share of experiments whose decision is right (the better arm, or no difference under H0)",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "users_used_fraction",
        "fraction",
        "mean share of the planned users seen when the experiment stopped",
        Better::Lower,
    )
    .fraction(),
    MetricDef::new(
        "rpu_a",
        "usd",
        "revenue per exposed user in arm A",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new(
        "rpu_b",
        "usd",
        "revenue per exposed user in arm B",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new("rpu_lift", "fraction", "rpu_b / rpu_a − 1", Better::Neither)
        .bounded(-1.0, f64::INFINITY),
    MetricDef::new(
        "conversion_a",
        "fraction",
        "share of arm A's users who bought",
        Better::Neither,
    )
    .proportion(),
    MetricDef::new(
        "conversion_b",
        "fraction",
        "share of arm B's users who bought",
        Better::Neither,
    )
    .proportion(),
    MetricDef::new(
        "rpu_cv_a",
        "ratio",
        "coefficient of variation of revenue per user in arm A, sqrt((1 + price_cv²)/p − 1)",
        Better::Neither,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "boundary_look<N>",
        "z",
        "critical |z| at look N of the design",
        Better::Neither,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "power_half_sample_user_level",
        "fraction",
        "power of user-level assignment with half the users",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "power_gap_vs_half_sample",
        "fraction",
        "power − power_half_sample_user_level",
        Better::Higher,
    )
    .bounded(-1.0, 1.0),
];
