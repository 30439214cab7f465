//! Runs a plan: every (scenario, point, replication) unit in parallel with rayon, each with its
//! own random streams derived from (seed, point, replication), so the results are the same
//! whatever the thread count or shard.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sims::des::RngStreams;
use sims::simulation::{Counted, MetricKind, Outcome, PreparedParams, RunContext, RunError};

use crate::error::LabError;
use crate::scenario::ScenarioPlan;

pub use crate::shard::Shard;

/// One replication's outcome at one point.
#[derive(Debug, Clone)]
pub struct UnitResult {
    /// The point's index.
    pub point: usize,
    /// The replication's index.
    pub replication: u32,
    /// A key of the replication's random streams, for `results.csv`.
    pub seed_key: u64,
    /// The metrics it produced.
    pub outcome: Outcome,
}

/// Every unit of one scenario, in (point, replication) order.
pub fn all_units(plan: &ScenarioPlan) -> Vec<(usize, u32)> {
    plan.points
        .iter()
        .flat_map(|p| (0..p.replications).map(move |r| (p.index, r)))
        .collect()
}

/// The units of one scenario a shard runs (all of them without one), in (point, replication)
/// order: the `k`-th unit of [`all_units`] goes to shard `k mod N + 1`.
pub fn units(plan: &ScenarioPlan, shard: Option<Shard>) -> Vec<(usize, u32)> {
    all_units(plan)
        .into_iter()
        .enumerate()
        .filter(|(k, _)| shard.is_none_or(|s| s.takes(*k)))
        .map(|(_, u)| u)
        .collect()
}

/// A unit's share of the progress bar: the point's estimated milliseconds of one core for one
/// replication (its room's own work estimate), so the bar and its ETA move with the work done,
/// not with the count of units (a run's slowest replications are often its last). Rooms without
/// an estimate count a second per unit.
pub fn unit_weight(plan: &ScenarioPlan, point: usize) -> u64 {
    plan.points
        .get(point)
        .and_then(|p| plan.sim.work(&p.prepared))
        .map(|w| w.cpu_seconds() * 1000.0)
        .filter(|ms| ms.is_finite())
        .map_or(1000, |ms| (ms.round() as u64).max(1))
}

/// The total weight of `units` of `plan` (see [`unit_weight`]).
pub fn units_weight(plan: &ScenarioPlan, units: &[(usize, u32)]) -> u64 {
    units.iter().map(|&(p, _)| unit_weight(plan, p)).sum()
}

/// A progress bar on a terminal, nothing otherwise. Its length is the run's estimated work
/// (see [`unit_weight`]), so its ETA is the estimated work left at the rate done so far.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() || total == 0 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    replications_phase(&pb);
    pb.set_prefix(what.to_string());
    pb
}

/// The bar while replications run: the share of the estimated work done, and an ETA.
pub fn replications_phase(pb: &ProgressBar) {
    pb.disable_steady_tick();
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {percent:>3}% of the estimated work {elapsed_precise} eta {eta} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
}

/// Work outside the bar's estimate (a real kernel; judging, probing, writing the report after
/// the replications): a spinner and the phase's name, not a bar stuck with no ETA.
pub fn phase(pb: &ProgressBar, what: &str) {
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} {spinner} {elapsed_precise} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(250));
    pb.set_message(what.to_string());
}

/// Runs the given units of `plan`, handing each finished one to `done` (the journal) as it
/// completes; results come back in unit order.
pub fn run_units(
    plan: &ScenarioPlan,
    units: &[(usize, u32)],
    pb: &ProgressBar,
    done: &(dyn Fn(&UnitResult) -> std::io::Result<()> + Sync),
) -> Result<Vec<UnitResult>, LabError> {
    let results: Vec<Result<UnitResult, LabError>> = units
        .par_iter()
        .map(|&(point, replication)| {
            let r = run_one(plan, point, &plan.points[point].prepared, replication)?;
            done(&r).map_err(|e| {
                LabError::bad(format!(
                    "{}: cannot record point {point}, replication {replication} in the run's \
                     journal: {e}",
                    plan.file.display()
                ))
            })?;
            pb.inc(unit_weight(plan, point));
            Ok(r)
        })
        .collect();
    results.into_iter().collect()
}

/// Runs replications `reps` of point `point` on other parameters (a robustness probe): the
/// same random streams as the point's own replications, so the difference is the parameter's.
/// Results come back in replication order.
pub fn run_variant(
    plan: &ScenarioPlan,
    point: usize,
    params: &PreparedParams,
    reps: std::ops::Range<u32>,
) -> Result<Vec<UnitResult>, LabError> {
    let results: Vec<Result<UnitResult, LabError>> = reps
        .into_par_iter()
        .map(|r| run_one(plan, point, params, r))
        .collect();
    results.into_iter().collect()
}

/// Runs several probes' replications at once (`(point, parameters, replications)` each), in
/// parallel across all of them; each probe's results come back in replication order.
pub fn run_variants(
    plan: &ScenarioPlan,
    probes: &[(usize, &PreparedParams, std::ops::Range<u32>)],
) -> Result<Vec<Vec<UnitResult>>, LabError> {
    let units: Vec<(usize, usize, u32)> = probes
        .iter()
        .enumerate()
        .flat_map(|(i, (p, _, reps))| reps.clone().map(move |r| (i, *p, r)))
        .collect();
    let results: Vec<Result<(usize, UnitResult), LabError>> = units
        .par_iter()
        .map(|&(i, point, r)| Ok((i, run_one(plan, point, probes[i].1, r)?)))
        .collect();
    let mut out: Vec<Vec<UnitResult>> = vec![Vec::new(); probes.len()];
    for r in results {
        let (i, u) = r?;
        out[i].push(u);
    }
    Ok(out)
}

/// One replication, checked: declared metrics only, finite values, the counts a proportion,
/// rate or count needs.
fn run_one(
    plan: &ScenarioPlan,
    point: usize,
    params: &PreparedParams,
    replication: u32,
) -> Result<UnitResult, LabError> {
    let stream_point = if plan.common_random_numbers {
        0
    } else {
        point as u64
    };
    let ctx = RunContext {
        streams: RngStreams::new(plan.seed, stream_point, replication as u64),
        point,
        replication,
    };
    let at = || {
        format!(
            "{}: point {point}, replication {replication}",
            plan.file.display()
        )
    };
    let out = plan.sim.run(params, &ctx).map_err(|e| {
        let msg = format!("{}: {e}", at());
        match e {
            RunError::Infeasible(_) | RunError::Params(_) => LabError::bad(msg),
            _ => LabError::internal(msg),
        }
    })?;
    for name in out.metrics.keys() {
        let Some(def) = plan.sim.metric_def(name) else {
            return Err(LabError::internal(format!(
                "{}: `{}` emitted metric `{name}`, which it does not declare",
                at(),
                plan.sim.name()
            )));
        };
        let counted = matches!(
            def.kind,
            MetricKind::Proportion | MetricKind::Rate { .. } | MetricKind::Count
        );
        if counted != out.counts.contains_key(name) {
            return Err(LabError::internal(format!(
                "{}: metric `{name}` {} counts, and its definition says it is {:?}",
                at(),
                if counted { "came without" } else { "came with" },
                def.kind
            )));
        }
    }
    if let Some((name, v)) = out.metrics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(LabError::internal(format!(
            "{}: metric `{name}` is {v}",
            at()
        )));
    }
    Ok(UnitResult {
        point,
        replication,
        seed_key: ctx.streams.derive_u64("seed"),
        outcome: out,
    })
}

/// A metric's replication values at one point, in replication order, with the counts behind
/// them (for proportions, rates and counts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    /// One value per replication.
    pub values: Vec<f64>,
    /// The counts behind each value (empty for other metrics).
    pub counts: Vec<Counted>,
}

/// Replication values per point and metric, in replication order.
pub fn by_point_metric(results: &[UnitResult]) -> BTreeMap<usize, BTreeMap<String, Samples>> {
    let mut m: BTreeMap<usize, BTreeMap<String, Samples>> = BTreeMap::new();
    for r in results {
        let point = m.entry(r.point).or_default();
        for (k, v) in &r.outcome.metrics {
            let s = point.entry(k.clone()).or_default();
            s.values.push(*v);
            if let Some(c) = r.outcome.counts.get(k) {
                s.counts.push(*c);
            }
        }
    }
    m
}
