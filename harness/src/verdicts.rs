//! Claims judged: a row per claim and point, then one verdict of record per claim (its rule
//! over its points of record), checked across every assumed parameter's plausible range
//! (`depends`, with the flip point) and searched for its requested boundary.

use std::collections::BTreeMap;

use crate::analysis::{self, Context};
use crate::error::LabError;
use crate::format::fmt_num;
use crate::probe::Prober;
use crate::runner;
use crate::scenario::claims::Rule;
use crate::scenario::file::ClaimKind;
use crate::scenario::sources::{assumptions_of, source_of};
use crate::scenario::{ResolvedClaim, ScenarioPlan};
use crate::summary::ProbeCost;
use crate::summary::{ClaimResult, Dependence, PointResult, RealResult, Verdict, VerdictRecord};
use crate::summary::{Scale, SourceKind};

/// The robustness pass's budget: this multiple of the plain run's estimated work (the rooms'
/// own estimates, as the progress bar counts it). Requested boundaries are not cut.
pub const BUDGET_RATIO: f64 = 3.0;
/// The default budget is never under 10 s of one core: a pass that small is never cut.
const MIN_BUDGET_MS: f64 = 10_000.0;

/// Every claim's rows and verdicts of record.
pub struct Judged {
    /// One row per claim and point.
    pub claims: Vec<ClaimResult>,
    /// One verdict of record per claim whose points of record this run has.
    pub verdicts: Vec<VerdictRecord>,
    /// Replications the robustness and boundary probes ran.
    pub probe_replications: u64,
    /// What they cost against the plain run (absent when nothing was probed).
    pub robustness: Option<ProbeCost>,
}

/// A claim judged at the run's points, before its probes.
struct Judging<'c> {
    c: &'c ResolvedClaim,
    order: Vec<usize>,
    row_of: BTreeMap<usize, usize>,
    base: Verdict,
    reason: String,
    probe_worthy: bool,
    /// How far its points of record's estimates lie from the claim's threshold, in their
    /// intervals' half-widths (the nearest first when the budget is short).
    margin: f64,
}

/// Judges every claim of `plan` on the run's points, then checks each verdict of record
/// across its assumed ranges and searches its boundary. `progress` names the claim being
/// probed. The probes go in order of need: every end of every range screened at once, then
/// every end the screens leave open in full, then the flip points, within the budget.
pub fn judge_all(
    plan: &ScenarioPlan,
    points: &[PointResult],
    real: Option<&RealResult>,
    progress: &dyn Fn(&str),
) -> Result<Judged, LabError> {
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    let plain_ms = runner::units_weight(plan, &runner::all_units(plan)) as f64;
    // The default budget has a floor; a budget asked for on the command line is kept as given.
    let (budget_ratio, budget_ms) = match plan.robustness_budget {
        Some(r) => (r, r * plain_ms),
        None => (BUDGET_RATIO, (BUDGET_RATIO * plain_ms).max(MIN_BUDGET_MS)),
    };
    let mut prober = Prober::new(plan, real, points, budget_ms);
    let started = std::time::Instant::now();
    let mut judging = Vec::new();
    for c in &plan.claims {
        if let Some(j) = judge_rows(plan, c, points, real, &mut rows) {
            judging.push(j);
        }
    }
    // Every end of every claim's ranges: screened together, then settled in full where the
    // screen cannot, before any bisection spends the budget.
    // The claims nearest their thresholds first: when the budget is short, what it leaves
    // out is the ends of claims far from flipping.
    let mut probed: Vec<(&Judging<'_>, Ranged)> = judging
        .iter()
        .filter(|j| j.probe_worthy)
        .map(|j| (j, ranged(plan, j.c)))
        .collect();
    probed.sort_by(|a, b| a.0.margin.total_cmp(&b.0.margin));
    let ends: Vec<(usize, String, f64)> = probed
        .iter()
        .flat_map(|(j, r)| {
            r.iter().flat_map(move |(param, (_, (lo, hi), _))| {
                [*lo, *hi]
                    .into_iter()
                    .flat_map(move |end| j.c.record.iter().map(move |&p| (p, param.clone(), end)))
            })
        })
        .collect();
    if !ends.is_empty() {
        progress("screening the assumptions' ends");
        prober.screen_all(&ends)?;
        for (j, r) in &probed {
            progress(&format!("checking `{}` across its assumptions", j.c.id));
            for (param, (_, (lo, hi), _)) in r {
                prober.record_at(j.c, param, *lo)?;
                prober.record_at(j.c, param, *hi)?;
            }
        }
    }
    // Then the flip points, in the same order.
    let mut found: BTreeMap<usize, (Vec<Dependence>, Vec<String>)> = BTreeMap::new();
    for (j, _) in &probed {
        progress(&format!("checking `{}` across its assumptions", j.c.id));
        let at = judging
            .iter()
            .position(|x| std::ptr::eq(x.c, j.c))
            .expect("judged");
        found.insert(at, dependences(plan, j.c, j.base, &mut prober)?);
    }
    for (at, j) in judging.into_iter().enumerate() {
        let c = j.c;
        let (base, mut reason) = (j.base, j.reason);
        let mut verdict = base;
        let mut depends_on = Vec::new();
        if j.probe_worthy {
            let (deps, unchecked) = found.remove(&at).expect("probed");
            depends_on = deps;
            let flips: Vec<String> = depends_on
                .iter()
                .filter(|d| {
                    d.verdicts
                        .iter()
                        .any(|&v| v != base && v != Verdict::NotRun)
                        || d.window.is_some()
                })
                .map(describe_flip)
                .collect();
            if !flips.is_empty() {
                verdict = Verdict::Depends;
                reason = format!(
                    "{} at the scenario's values; {}",
                    base.as_str(),
                    flips.join("; ")
                );
            }
            if !unchecked.is_empty() {
                reason.push_str(&format!(
                    "; cut by the robustness budget: {}",
                    unchecked.join(", ")
                ));
            }
        }
        let boundary = match (&c.boundary, j.probe_worthy) {
            (Some(_), true) => {
                progress(&format!("searching `{}`'s boundary", c.id));
                Some(prober.boundary(c)?)
            }
            _ => None,
        };
        verdicts.push(VerdictRecord {
            id: c.id.clone(),
            text: c.text.clone(),
            kind: c.kind.as_str().to_string(),
            metric: c.source.to_string(),
            verdict,
            rule: c.rule.as_str().to_string(),
            rows: j
                .order
                .iter()
                .filter_map(|p| j.row_of.get(p).copied())
                .collect(),
            reason,
            note: c.note.clone(),
            depends_on,
            boundary,
        });
    }
    let robustness = (prober.replications_run > 0 || !prober.skipped.is_empty()).then(|| {
        let (settled, full) = prober.counts();
        ProbeCost {
            replications: prober.replications_run,
            work_s: prober.work_ms / 1000.0,
            plain_work_s: plain_ms / 1000.0,
            ratio: if plain_ms > 0.0 {
                prober.work_ms / plain_ms
            } else {
                0.0
            },
            settled_by_screens: settled,
            full_probes: full,
            budget_ratio: budget_ratio.is_finite().then_some(budget_ratio),
            skipped: prober.skipped.clone(),
        }
    });
    if std::env::var_os("CLAIMLAB_PROBE_TIMING").is_some() {
        // A measuring aid, kept out of summary.json (which must not depend on the clock).
        eprintln!(
            "{}: robustness pass {:.1} s wall, {} replications, {:.1} s of one core estimated (plain run {:.1} s)",
            plan.id,
            started.elapsed().as_secs_f64(),
            prober.replications_run,
            prober.work_ms / 1000.0,
            plain_ms / 1000.0
        );
    }
    Ok(Judged {
        claims: rows,
        verdicts,
        probe_replications: prober.replications_run,
        robustness,
    })
}

/// The claim's rows at the run's points (pushed onto `rows`), and its verdict of record at
/// the scenario's values; `None` when this shard lacks one of its points of record (the merge
/// judges it).
fn judge_rows<'c>(
    plan: &ScenarioPlan,
    c: &'c ResolvedClaim,
    points: &[PointResult],
    real: Option<&RealResult>,
    rows: &mut Vec<ClaimResult>,
) -> Option<Judging<'c>> {
    let def = match &c.source {
        crate::expectation::MetricSource::Model(m) => plan.sim.metric_def(m),
        crate::expectation::MetricSource::Real(_) => None,
    };
    // Rows: the points of record first, then the what-if rows.
    let mut order: Vec<usize> = c.record.clone();
    order.extend(c.points.iter().filter(|p| !c.record.contains(p)));
    let mut row_of: BTreeMap<usize, usize> = BTreeMap::new();
    for &pi in &order {
        let Some(point) = points.iter().find(|p| p.index == pi) else {
            continue; // another shard's point
        };
        let cx = Context {
            def,
            bound: Some(c.bound),
            preview: &plan.points[pi].quick_changed,
        };
        let j = analysis::judge(&c.expected, &c.source, point, real, &cx);
        row_of.insert(pi, rows.len());
        rows.push(ClaimResult {
            id: c.id.clone(),
            text: c.text.clone(),
            metric: c.source.to_string(),
            point: pi,
            expected: j.expected,
            measured: j.measured,
            verdict: j.assessment.verdict,
            reason: j.assessment.reason,
            note: c.note.clone(),
            kind: c.kind.as_str().to_string(),
            of_record: c.record.contains(&pi),
        });
    }
    // A shard without every point of record leaves the verdict to the merge.
    if !c.record.iter().all(|p| row_of.contains_key(p)) {
        return None;
    }
    let record_rows: Vec<&ClaimResult> = c.record.iter().map(|p| &rows[row_of[p]]).collect();
    let base = c
        .rule
        .roll(&record_rows.iter().map(|r| r.verdict).collect::<Vec<_>>());
    let reason = match c.rule {
        Rule::Single | Rule::Article => record_rows[0].reason.clone(),
        Rule::All | Rule::Any => {
            let t = analysis::tally(record_rows.iter().map(|r| r.verdict));
            format!(
                "{} of {} points: {} hold, {} fail, {} inconclusive, {} not run",
                c.rule.as_str(),
                record_rows.len(),
                t[0],
                t[1],
                t[2],
                t[3]
            )
        }
    };
    let probe_worthy = c.kind != ClaimKind::Measurement
        && base != Verdict::NotRun
        && c.record
            .iter()
            .all(|&p| plan.points[p].quick_changed.is_empty());
    let (lo, hi) = c.expected.range();
    let margin = record_rows
        .iter()
        .map(|r| match &r.measured {
            Some(m) => {
                let half = (m.ci95[1] - m.ci95[0]).max(f64::MIN_POSITIVE) / 2.0;
                [lo, hi]
                    .into_iter()
                    .filter(|t| t.is_finite())
                    .map(|t| (m.mean - t).abs() / half)
                    .fold(f64::INFINITY, f64::min)
            }
            None => 0.0,
        })
        .fold(f64::INFINITY, f64::min);
    Some(Judging {
        c,
        order,
        row_of,
        base,
        reason,
        probe_worthy,
        margin,
    })
}

/// "holds when rewrite_rows_per_s ≥ 702k (assumed 840k; range 117k–1.4M)".
pub fn describe_flip(d: &Dependence) -> String {
    let range = format!("range {}–{}", fmt_num(d.range[0]), fmt_num(d.range[1]));
    if let (Some([a, b]), Some(v)) = (d.window, d.window_verdict) {
        return format!(
            "{} when {} is in [{}, {}] (assumed {}; {range}), {} at both ends",
            v.as_str(),
            d.param,
            fmt_num(a),
            fmt_num(b),
            fmt_num(d.value),
            d.verdicts[0].as_str()
        );
    }
    match (d.flips_at, d.holds_when.as_deref()) {
        (Some(f), Some(side)) => format!(
            "holds when {} {} {} (assumed {}; {range})",
            d.param,
            if side == "above" { "≥" } else { "≤" },
            fmt_num(f),
            fmt_num(d.value)
        ),
        (Some(f), None) => {
            let (cmp, v) = if f < d.value {
                ("≤", d.verdicts[0])
            } else {
                ("≥", d.verdicts[2])
            };
            format!(
                "{} when {} {cmp} {} (assumed {}; {range})",
                v.as_str(),
                d.param,
                fmt_num(f),
                fmt_num(d.value)
            )
        }
        _ => format!(
            "{} stable across {} ({range})",
            d.verdicts[1].as_str(),
            d.param
        ),
    }
}

/// A claim's ranged assumptions: parameter → (scenario value, range, scale).
type Ranged = BTreeMap<String, (f64, (f64, f64), Scale)>;

/// The ranged assumptions of the claim's points of record, each from the first point of
/// record that ranges it.
fn ranged(plan: &ScenarioPlan, c: &ResolvedClaim) -> Ranged {
    let skip: Vec<&str> = c.conditions.iter().map(String::as_str).collect();
    let mut ranged = Ranged::new();
    for &p in &c.record {
        let point = &plan.points[p];
        for a in assumptions_of(point, plan.sim.horizon_params(), &skip) {
            let Some(s) = source_of(&point.sources, &a) else {
                continue;
            };
            let (SourceKind::Assumed, Some([lo, hi])) = (s.kind, s.range) else {
                continue;
            };
            let Some(value) = crate::scenario::values::get_path(point.params(), &a)
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            else {
                continue;
            };
            ranged
                .entry(a)
                .or_insert((value, (lo, hi), s.scale.unwrap_or_default()));
        }
    }
    ranged
}

/// Every ranged assumption of the claim's points of record, moved to both ends; where the
/// verdict of record changes, the flip point nearest the scenario's value. Also what the
/// budget left unchecked, in words.
fn dependences(
    plan: &ScenarioPlan,
    c: &ResolvedClaim,
    base: Verdict,
    prober: &mut Prober<'_>,
) -> Result<(Vec<Dependence>, Vec<String>), LabError> {
    let mut out = Vec::new();
    let mut unchecked = Vec::new();
    for (param, (value, (lo, hi), scale)) in ranged(plan, c) {
        // An end the budget left out is recorded as `not_run`: never a flip, never "stable".
        let mut at = |end: f64, unchecked: &mut Vec<String>| -> Result<Verdict, LabError> {
            Ok(prober.record_at(c, &param, end)?.unwrap_or_else(|| {
                unchecked.push(format!("{param} at {} unchecked", fmt_num(end)));
                Verdict::NotRun
            }))
        };
        let at_lo = at(lo, &mut unchecked)?;
        let at_hi = at(hi, &mut unchecked)?;
        let verdicts = [at_lo, base, at_hi];
        let mut flips = Vec::new();
        for (end, v) in [(lo, at_lo), (hi, at_hi)] {
            if v != base && v != Verdict::NotRun && end != value {
                let (f, rough) = prober.flip_between(c, &param, (value, base), end, scale)?;
                let note = format!("{param}'s flip point rough");
                if rough && !unchecked.contains(&note) {
                    unchecked.push(note);
                }
                flips.push((f, end, v));
            }
        }
        // The flip nearest the scenario's value is the one that matters.
        flips.sort_by(|a, b| (a.0 - value).abs().total_cmp(&(b.0 - value).abs()));
        // A window: the scenario's value inside one (the verdict flips the same way on both
        // sides of it), or the same verdict at both ends hiding one between them where a
        // two-sided claim ("about X") holds.
        let window = match flips[..] {
            [(f1, _, v1), (f2, _, v2)] if v1 == v2 => Some(([f1.min(f2), f1.max(f2)], base)),
            [] if !verdicts.contains(&Verdict::NotRun) => prober
                .window(c, &param, (lo, hi), scale)?
                .filter(|(_, mid)| *mid != base),
            _ => None,
        };
        if let Some(([w0, w1], verdict)) = window {
            let edge = if (w0 - value).abs() < (w1 - value).abs() {
                w0
            } else {
                w1
            };
            out.push(Dependence {
                param,
                value,
                range: [lo, hi],
                verdicts,
                flips_at: Some(edge),
                holds_when: (verdict == Verdict::Holds).then(|| "between".to_string()),
                window: Some([w0, w1]),
                window_verdict: Some(verdict),
            });
            continue;
        }
        let (flips_at, holds_when) = match flips.first() {
            None => (None, None),
            Some(&(f, end, v)) => {
                let side_of = |x: f64| if x > f { "above" } else { "below" };
                let holds = if base == Verdict::Holds {
                    Some(side_of(value))
                } else if v == Verdict::Holds {
                    Some(side_of(end))
                } else {
                    None
                };
                (Some(f), holds.map(str::to_string))
            }
        };
        out.push(Dependence {
            param,
            value,
            range: [lo, hi],
            verdicts,
            flips_at,
            holds_when,
            window: None,
            window_verdict: None,
        });
    }
    Ok((out, unchecked))
}
