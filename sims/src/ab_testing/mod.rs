//! The `ab_testing` room: paywall A/B tests on revenue per user (article 09).
//!
//! The article claims: a discount that wins on conversion loses on revenue per user ("A
//! generates 32% more revenue per user"); RPU has a CV of 3-5, so a 10% lift needs 5,000-10,000
//! users per variant; peeking daily inflates false positives from 5% to over 25%; sequential
//! tests (Bayesian credible intervals or O'Brien-Fleming spending) avoid that; session-level
//! assignment loses power faster than a small sample.
//!
//! ```text
//!  users ──► assignment (user | session) ──► arm A: conversion_a, price·(1−discount_a)
//!                                        └─► arm B: conversion_b, price·(1−discount_b)
//!     each look: Welch z on RPU (or conversion) ──► boundary of the design ──► stop / go on
//! ```
//!
//! Assumptions: users are independent; a converter pays once (lognormal amount with
//! `price_cv`, zero-inflated RPU); looks are equally spaced in users. Boundaries are exact
//! (numerical recursion), and `n_per_arm` is the closed form beside the simulation.

mod boundaries;
mod closed_form;
mod metrics;
mod model;
mod params;
#[cfg(test)]
mod tests;
mod tools;

pub use params::{AbTestingParams, Assignment, DesignName, OutcomeModel, TestedMetric};

use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};
use crate::tool::Tool;

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct AbTesting;

impl Room for AbTesting {
    const NAME: &'static str = "ab_testing";
    const DESCRIPTION: &'static str =
        "paywall A/B tests on revenue per user: power, peeking, sequential designs, contamination";
    type Params = AbTestingParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["experiments"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn tools() -> &'static [Tool] {
        tools::TOOLS
    }

    fn work(p: &AbTestingParams) -> Option<Work> {
        // Each look of each experiment draws its batch of users (binomially) and tests.
        Some(Work {
            units: f64::from(p.experiments) * f64::from(p.looks.max(1)),
            unit: "experiment looks",
            per_second: 2e6,
        })
    }

    fn run(params: &AbTestingParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        Ok(model::run(params, &ctx.streams))
    }
}
