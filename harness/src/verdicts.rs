//! Claims judged: a row per claim and point, then one verdict of record per claim (its rule
//! over its points of record), checked across every assumed parameter's plausible range
//! (`depends`, with the flip point) and searched for its requested boundary.

use std::collections::BTreeMap;

use crate::analysis::{self, Context};
use crate::error::LabError;
use crate::format::fmt_num;
use crate::probe::Prober;
use crate::scenario::claims::Rule;
use crate::scenario::file::ClaimKind;
use crate::scenario::sources::{assumptions_of, source_of};
use crate::scenario::{ResolvedClaim, ScenarioPlan};
use crate::summary::{ClaimResult, Dependence, PointResult, RealResult, Verdict, VerdictRecord};
use crate::summary::{Scale, SourceKind};

/// Every claim's rows and verdicts of record.
pub struct Judged {
    /// One row per claim and point.
    pub claims: Vec<ClaimResult>,
    /// One verdict of record per claim whose points of record this run has.
    pub verdicts: Vec<VerdictRecord>,
    /// Replications the robustness and boundary probes ran.
    pub probe_replications: u64,
}

/// Judges every claim of `plan` on the run's points, then checks each verdict of record
/// across its assumed ranges and searches its boundary. `progress` names the claim being
/// probed.
pub fn judge_all(
    plan: &ScenarioPlan,
    points: &[PointResult],
    real: Option<&RealResult>,
    progress: &dyn Fn(&str),
) -> Result<Judged, LabError> {
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    let mut prober = Prober::new(plan, real);
    for c in &plan.claims {
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
            continue;
        }
        let record_rows: Vec<&ClaimResult> = c.record.iter().map(|p| &rows[row_of[p]]).collect();
        let base = c
            .rule
            .roll(&record_rows.iter().map(|r| r.verdict).collect::<Vec<_>>());
        let mut reason = match c.rule {
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
        let mut verdict = base;
        let probe_worthy = c.kind != ClaimKind::Measurement
            && base != Verdict::NotRun
            && c.record
                .iter()
                .all(|&p| plan.points[p].quick_changed.is_empty());
        let mut depends_on = Vec::new();
        if probe_worthy {
            progress(&format!("checking `{}` across its assumptions", c.id));
            depends_on = dependences(plan, c, base, &mut prober)?;
            let flips: Vec<String> = depends_on
                .iter()
                .filter(|d| d.verdicts.iter().any(|&v| v != base) || d.window.is_some())
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
        }
        let boundary = match (&c.boundary, probe_worthy) {
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
            rows: order
                .iter()
                .filter_map(|p| row_of.get(p).copied())
                .collect(),
            reason,
            note: c.note.clone(),
            depends_on,
            boundary,
        });
    }
    Ok(Judged {
        claims: rows,
        verdicts,
        probe_replications: prober.replications_run,
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

/// Every ranged assumption of the claim's points of record, moved to both ends; where the
/// verdict of record changes, the flip point nearest the scenario's value.
fn dependences(
    plan: &ScenarioPlan,
    c: &ResolvedClaim,
    base: Verdict,
    prober: &mut Prober<'_>,
) -> Result<Vec<Dependence>, LabError> {
    let skip: Vec<&str> = c.conditions.iter().map(String::as_str).collect();
    // (param → (scenario value, range, scale)), from the first point of record that ranges it.
    let mut ranged: BTreeMap<String, (f64, (f64, f64), Scale)> = BTreeMap::new();
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
    let mut out = Vec::new();
    for (param, (value, (lo, hi), scale)) in ranged {
        let at_lo = prober.record_at(c, &param, lo)?;
        let at_hi = prober.record_at(c, &param, hi)?;
        let verdicts = [at_lo, base, at_hi];
        let mut flips = Vec::new();
        for (end, v) in [(lo, at_lo), (hi, at_hi)] {
            if v != base && end != value {
                let f = prober.flip_between(c, &param, (value, base), end, scale)?;
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
            [] => prober
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
    Ok(out)
}
