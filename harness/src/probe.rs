//! Probes: a point of record run again with one parameter moved, on the same random streams,
//! to see whether a claim's verdict survives the parameter's plausible range (`depends`) and
//! where it flips (`boundary`). Every probed (point, parameter, value) is run once and cached.

use std::collections::HashMap;

use sims::simulation::PreparedParams;

use crate::analysis::{self, Context};
use crate::error::LabError;
use crate::expectation::Expectation;
use crate::runner::UnitResult;
use crate::scenario::claims::Rule;
use crate::scenario::values::{get_path, set_path};
use crate::scenario::{ResolvedClaim, ScenarioPlan};
use crate::screen::{plausible, screen_reps};
use crate::summary::Scale;
use crate::summary::{MetricEstimate, PointResult, RealResult, Verdict};

/// Bisection steps for a dependence's flip point (the range cut into 32).
const FLIP_STEPS: u32 = 5;
/// Bisection steps for a requested boundary's mean crossing (the range cut into 1024).
const BOUNDARY_STEPS: u32 = 10;
/// Bisection steps for the ends of a boundary's interval.
const BOUNDARY_CI_STEPS: u32 = 7;
/// A preview halves a quarter as often as the full run: it finds the same dependences, with
/// rougher flip points, at a fraction of the cost.
const PREVIEW_DIVISOR: u32 = 4;

/// A probed (point, parameter, value).
type Key = (usize, String, u64);

/// One probe: its parameters and the replications run so far (0, 1, ... in order).
struct Probe {
    prepared: PreparedParams,
    units: Vec<UnitResult>,
    /// One replication's estimated work, ms of one core.
    weight_ms: f64,
    /// `param = value at point` in words, for the budget's note.
    label: String,
}

/// Runs and remembers probes of one plan, within a work budget.
pub struct Prober<'a> {
    plan: &'a ScenarioPlan,
    real: Option<&'a RealResult>,
    /// The points' own estimates (the noise a screen borrows).
    base: &'a [PointResult],
    probes: HashMap<Key, Probe>,
    full: HashMap<Key, PointResult>,
    /// Estimated work the robustness probes may take (ms of one core); requested boundaries
    /// are never cut.
    budget_ms: f64,
    /// Replications run by probes (for the progress line and the note).
    pub replications_run: u64,
    /// Their estimated work, ms of one core.
    pub work_ms: f64,
    /// Probes the budget left out, in words, in the order they were wanted.
    pub skipped: Vec<String>,
}

/// The middle of `a` and `b` on a scale (geometric on a log scale).
pub fn midpoint(a: f64, b: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Log if a > 0.0 && b > 0.0 => (a * b).sqrt(),
        _ => (a + b) / 2.0,
    }
}

/// The rollup's verdict when the verdicts known so far decide it whatever the others are.
fn decided(rule: Rule, vs: &[Option<Verdict>]) -> Option<Verdict> {
    if let Some(all) = vs.iter().copied().collect::<Option<Vec<_>>>() {
        return Some(rule.roll(&all));
    }
    match rule {
        Rule::Single | Rule::Article => vs.first().copied().flatten(),
        Rule::All => vs.contains(&Some(Verdict::Fails)).then_some(Verdict::Fails),
        Rule::Any => vs.contains(&Some(Verdict::Holds)).then_some(Verdict::Holds),
    }
}

impl<'a> Prober<'a> {
    /// A prober for `plan`, judging real-kernel claims against `real`, screening with the
    /// noise of the points' own estimates `base`, within `budget_ms` of estimated work.
    pub fn new(
        plan: &'a ScenarioPlan,
        real: Option<&'a RealResult>,
        base: &'a [PointResult],
        budget_ms: f64,
    ) -> Prober<'a> {
        Prober {
            plan,
            real,
            base,
            probes: HashMap::new(),
            full: HashMap::new(),
            budget_ms,
            replications_run: 0,
            work_ms: 0.0,
            skipped: Vec::new(),
        }
    }

    /// Probes that ran only their screen (the screen settled every claim that asked), and
    /// probes run with all their replications.
    pub fn counts(&self) -> (u64, u64) {
        let mut out = (0, 0);
        for (key, p) in &self.probes {
            let n = self.plan.points[key.0].replications as usize;
            match p.units.len() {
                0 => {}
                k if k < n => out.0 += 1,
                _ => out.1 += 1,
            }
        }
        out
    }

    /// Halvings to do: fewer in a preview.
    fn steps(&self, full: u32) -> u32 {
        if self.plan.quick {
            (full / PREVIEW_DIVISOR).max(1)
        } else {
            full
        }
    }

    /// Whether `param` at `point` holds whole numbers (then probes stay whole).
    fn integral(&self, point: usize, param: &str) -> bool {
        get_path(self.plan.points[point].params(), param).is_some_and(|v| v.is_integer())
    }

    /// The probe of `param` = `value` at `point`, prepared on first use.
    fn entry(&mut self, point: usize, param: &str, value: f64) -> Result<Key, LabError> {
        let integral = self.integral(point, param);
        let value = if integral { value.round() } else { value };
        let key = (point, param.to_string(), value.to_bits());
        if self.probes.contains_key(&key) {
            return Ok(key);
        }
        let planned = &self.plan.points[point];
        let mut table = planned.params().clone();
        let v = if integral {
            toml::Value::Integer(value as i64)
        } else {
            toml::Value::Float(value)
        };
        set_path(&mut table, param, v);
        let prepared = self.plan.sim.prepare(&table).map_err(|e| {
            LabError::bad(format!(
                "{}: `{param}` = {value} (the end of its range, or a probe inside it) is rejected at {}: {e}",
                self.plan.file.display(),
                planned.describe(&self.plan.points)
            ))
        })?;
        let weight_ms = self
            .plan
            .sim
            .work(&prepared)
            .map(|w| w.cpu_seconds() * 1000.0)
            .filter(|ms| ms.is_finite())
            .map_or(1000.0, |ms| ms.max(1.0));
        let label = format!(
            "{param} = {} at {}",
            crate::format::fmt_num(value),
            planned
                .label
                .clone()
                .unwrap_or_else(|| format!("point {point}"))
        );
        self.probes.insert(
            key.clone(),
            Probe {
                prepared,
                units: Vec::new(),
                weight_ms,
                label,
            },
        );
        Ok(key)
    }

    /// Runs the probe's replications up to `to`; within the budget unless `exempt` (a
    /// requested boundary). False when the budget cannot take them.
    fn extend(&mut self, key: &Key, to: u32, exempt: bool) -> Result<bool, LabError> {
        let probe = &self.probes[key];
        let have = probe.units.len() as u32;
        if have >= to {
            return Ok(true);
        }
        let cost = f64::from(to - have) * probe.weight_ms;
        if !exempt && self.work_ms + cost > self.budget_ms {
            if !self.skipped.contains(&probe.label) {
                self.skipped.push(probe.label.clone());
            }
            return Ok(false);
        }
        let units = crate::runner::run_variant(self.plan, key.0, &probe.prepared, have..to)?;
        self.charge(to - have, probe.weight_ms);
        self.probes.get_mut(key).expect("probe").units.extend(units);
        Ok(true)
    }

    fn charge(&mut self, reps: u32, weight_ms: f64) {
        self.replications_run += u64::from(reps);
        self.work_ms += f64::from(reps) * weight_ms;
    }

    /// Screens every probe listed (`(point, param, value)`) at once, in parallel, as far as the
    /// budget goes (in the order listed).
    pub fn screen_all(&mut self, probes: &[(usize, String, f64)]) -> Result<(), LabError> {
        let mut batch: Vec<(Key, u32, u32)> = Vec::new();
        for (point, param, value) in probes {
            let key = self.entry(*point, param, *value)?;
            let n = self.plan.points[*point].replications;
            let k = screen_reps(n);
            let p = &self.probes[&key];
            let have = p.units.len() as u32;
            if k >= n || have >= k || batch.iter().any(|(b, _, _)| *b == key) {
                continue;
            }
            let cost = f64::from(k - have) * p.weight_ms;
            if self.work_ms + cost > self.budget_ms {
                continue;
            }
            self.charge(k - have, p.weight_ms);
            batch.push((key, have, k));
        }
        let runs: Vec<(usize, &PreparedParams, std::ops::Range<u32>)> = batch
            .iter()
            .map(|(key, have, k)| (key.0, &self.probes[key].prepared, *have..*k))
            .collect();
        let results = crate::runner::run_variants(self.plan, &runs)?;
        for ((key, _, _), units) in batch.iter().zip(results) {
            self.probes.get_mut(key).expect("probe").units.extend(units);
        }
        Ok(())
    }

    /// The estimates of the probe's first `reps` replications.
    fn estimates_of(&self, key: &Key, reps: usize) -> PointResult {
        let planned = &self.plan.points[key.0];
        let units = &self.probes[key].units[..reps];
        let samples = crate::runner::by_point_metric(units)
            .remove(&key.0)
            .unwrap_or_default();
        PointResult {
            index: key.0,
            label: planned.label.clone(),
            params: serde_json::Value::Null,
            metrics: analysis::estimates(&samples, |m| self.plan.sim.metric_def(m)),
        }
    }

    /// The probe's full estimates, within the budget unless `exempt`; `None` when cut.
    fn full_at(&mut self, key: &Key, exempt: bool) -> Result<Option<PointResult>, LabError> {
        if let Some(p) = self.full.get(key) {
            return Ok(Some(p.clone()));
        }
        let n = self.plan.points[key.0].replications;
        if !self.extend(key, n, exempt)? {
            return Ok(None);
        }
        let result = self.estimates_of(key, n as usize);
        self.full.insert(key.clone(), result.clone());
        Ok(Some(result))
    }

    /// The point's estimates with `param` set to `value` (all its replications; not cut by
    /// the budget).
    pub fn point_at(
        &mut self,
        point: usize,
        param: &str,
        value: f64,
    ) -> Result<PointResult, LabError> {
        let key = self.entry(point, param, value)?;
        Ok(self
            .full_at(&key, true)?
            .expect("an exempt probe always runs"))
    }

    /// The claim's verdict and estimate on one point's estimates.
    fn judge_on(
        &self,
        claim: &ResolvedClaim,
        p: &PointResult,
    ) -> (Verdict, Option<MetricEstimate>) {
        let def = claim
            .source
            .real_name()
            .is_none()
            .then(|| self.plan.sim.metric_def(&claim.source.to_string()))
            .flatten();
        let cx = Context {
            def,
            bound: Some(claim.bound),
            preview: &[],
        };
        let j = analysis::judge(&claim.expected, &claim.source, p, self.real, &cx);
        (j.assessment.verdict, j.measured)
    }

    /// The claim's verdict at one point with `param` at `value` (all replications).
    pub fn row_at(
        &mut self,
        claim: &ResolvedClaim,
        point: usize,
        param: &str,
        value: f64,
    ) -> Result<(Verdict, Option<MetricEstimate>), LabError> {
        let p = self.point_at(point, param, value)?;
        Ok(self.judge_on(claim, &p))
    }

    /// What the probe's screen says the full probe could give for the claim's metric.
    fn plausible_at(
        &mut self,
        claim: &ResolvedClaim,
        key: &Key,
    ) -> Result<Option<crate::screen::Plausible>, LabError> {
        let crate::expectation::MetricSource::Model(name) = &claim.source else {
            return Ok(None);
        };
        let n = self.plan.points[key.0].replications;
        let k = screen_reps(n);
        if k >= n || !self.extend(key, k, false)? {
            return Ok(None);
        }
        let units = &self.probes[key].units[..k as usize];
        let samples = crate::runner::by_point_metric(units)
            .remove(&key.0)
            .unwrap_or_default();
        let Some(s) = samples.get(name).filter(|s| s.values.len() == k as usize) else {
            return Ok(None);
        };
        let base = self
            .base
            .iter()
            .find(|p| p.index == key.0)
            .and_then(|p| p.metrics.get(name));
        Ok(plausible(self.plan.sim.metric_def(name), s, base, n))
    }

    /// The claim's verdict at a probe when its screen settles it (holds or fails for every
    /// interval the full probe could plausibly give), or when the full probe already ran.
    fn screened_row(
        &mut self,
        claim: &ResolvedClaim,
        key: &Key,
    ) -> Result<Option<Verdict>, LabError> {
        if let Some(p) = self.full.get(key) {
            return Ok(Some(self.judge_on(claim, p).0));
        }
        let Some(pl) = self.plausible_at(claim, key)? else {
            return Ok(None);
        };
        let mut p = self.estimates_of(key, 0);
        p.metrics.insert(claim.source.to_string(), pl.hull);
        let v = self.judge_on(claim, &p).0;
        Ok(matches!(v, Verdict::Holds | Verdict::Fails | Verdict::NotRun).then_some(v))
    }

    /// The claim's verdict of record with `param` at `value` at every point of record:
    /// screens first (one settled row can decide an `all` or `any` rollup), the full
    /// replications where a screen settles nothing. `None` when the budget cut a probe the
    /// verdict needs.
    pub fn record_at(
        &mut self,
        claim: &ResolvedClaim,
        param: &str,
        value: f64,
    ) -> Result<Option<Verdict>, LabError> {
        let list: Vec<(usize, String, f64)> = claim
            .record
            .iter()
            .map(|&p| (p, param.to_string(), value))
            .collect();
        self.screen_all(&list)?;
        let mut keys = Vec::new();
        let mut vs = Vec::new();
        for &p in &claim.record {
            let key = self.entry(p, param, value)?;
            vs.push(self.screened_row(claim, &key)?);
            keys.push(key);
        }
        if let Some(v) = decided(claim.rule, &vs) {
            return Ok(Some(v));
        }
        for (i, key) in keys.iter().enumerate() {
            if vs[i].is_none() {
                vs[i] = self
                    .full_at(key, false)?
                    .map(|p| self.judge_on(claim, &p).0);
                if let Some(v) = decided(claim.rule, &vs) {
                    return Ok(Some(v));
                }
            }
        }
        Ok(None)
    }

    /// Between `base` (verdict `v`) and `end` (another verdict), where the verdict stops
    /// being `v`: the bracket's middle after a few halvings, and whether the budget stopped
    /// the halving early.
    pub fn flip_between(
        &mut self,
        claim: &ResolvedClaim,
        param: &str,
        (base, v): (f64, Verdict),
        end: f64,
        scale: Scale,
    ) -> Result<(f64, bool), LabError> {
        let integral = claim.record.iter().any(|&p| self.integral(p, param));
        let (mut a, mut b) = (base, end);
        for _ in 0..self.steps(FLIP_STEPS) {
            if integral && (b - a).abs() <= 1.0 {
                break;
            }
            let m = midpoint(a, b, scale);
            match self.record_at(claim, param, m)? {
                None => return Ok((midpoint(a, b, scale), true)),
                Some(x) if x == v => a = m,
                Some(_) => b = m,
            }
        }
        Ok((midpoint(a, b, scale), false))
    }

    /// Where `f(x) = 0` between `lo` and `hi` (`f` has opposite signs there), by halving.
    pub fn crossing(
        &mut self,
        claim: &ResolvedClaim,
        param: &str,
        (lo, hi): (f64, f64),
        scale: Scale,
        steps: u32,
        f: impl Fn(&MetricEstimate) -> f64,
    ) -> Result<Option<f64>, LabError> {
        let point = claim.record[0];
        let value = |p: &mut Self, x: f64| -> Result<Option<f64>, LabError> {
            Ok(p.row_at(claim, point, param, x)?.1.as_ref().map(&f))
        };
        let (Some(f_lo), Some(f_hi)) = (value(self, lo)?, value(self, hi)?) else {
            return Ok(None);
        };
        if f_lo.signum() == f_hi.signum() {
            return Ok(None);
        }
        let (mut a, mut b) = (lo, hi);
        for _ in 0..self.steps(steps) {
            let m = midpoint(a, b, scale);
            match value(self, m)? {
                Some(fm) if fm.signum() == f_lo.signum() => a = m,
                Some(_) => b = m,
                None => return Ok(None),
            }
        }
        Ok(Some(midpoint(a, b, scale)))
    }

    /// For a claim with a two-sided range (about X, between A and B) whose metric lies below
    /// the range at one end of `param`'s range and above it at the other: the window of `param`
    /// where the metric's mean is inside the claimed range, and the verdict in its middle. Both
    /// ends alone give the same verdict, and yet it holds somewhere between.
    pub fn window(
        &mut self,
        claim: &ResolvedClaim,
        param: &str,
        (lo, hi): (f64, f64),
        scale: Scale,
    ) -> Result<Option<([f64; 2], Verdict)>, LabError> {
        let (lo_e, hi_e) = match &claim.expected {
            Expectation::Approx { .. }
            | Expectation::Between { .. }
            | Expectation::Inside { .. } => claim.expected.range(),
            _ => return Ok(None),
        };
        if claim.record.len() != 1 {
            return Ok(None);
        }
        let point = claim.record[0];
        // The screens first: where neither end's mean can lie on the far side of the claimed
        // range from the other's, there is no window, and no full probe is needed to say so.
        let (k_lo, k_hi) = (self.entry(point, param, lo)?, self.entry(point, param, hi)?);
        if !self.full.contains_key(&k_lo) || !self.full.contains_key(&k_hi) {
            let ranges = (
                self.plausible_at(claim, &k_lo)?,
                self.plausible_at(claim, &k_hi)?,
            );
            if let (Some(a), Some(b)) = ranges {
                let (a, b) = (a.mean, b.mean);
                let may = |x: [f64; 2], y: [f64; 2]| x[0] < lo_e && y[1] > hi_e;
                if !may(a, b) && !may(b, a) {
                    return Ok(None);
                }
            }
        }
        let mean = |p: &mut Self, key: &Key| -> Result<Option<f64>, LabError> {
            let Some(e) = p.full_at(key, false)? else {
                return Ok(None);
            };
            Ok(p.judge_on(claim, &e).1.map(|m| m.mean))
        };
        let (Some(a), Some(b)) = (mean(self, &k_lo)?, mean(self, &k_hi)?) else {
            return Ok(None);
        };
        let opposite = (a < lo_e && b > hi_e) || (a > hi_e && b < lo_e);
        if !opposite {
            return Ok(None);
        }
        let steps = BOUNDARY_CI_STEPS;
        let x1 = self.crossing(claim, param, (lo, hi), scale, steps, |m| m.mean - lo_e)?;
        let x2 = self.crossing(claim, param, (lo, hi), scale, steps, |m| m.mean - hi_e)?;
        let (Some(x1), Some(x2)) = (x1, x2) else {
            return Ok(None);
        };
        let (w0, w1) = (x1.min(x2), x1.max(x2));
        let mid = self.row_at(claim, point, param, midpoint(w0, w1, scale))?.0;
        Ok(Some(([w0, w1], mid)))
    }

    /// A claim's requested boundary: where its metric's mean crosses the end of the accepted
    /// range it crosses inside `[min, max]`, with the interval where the metric's 95% interval
    /// crosses it.
    pub fn boundary(
        &mut self,
        claim: &ResolvedClaim,
    ) -> Result<crate::summary::BoundaryResult, LabError> {
        let spec = claim.boundary.clone().expect("a boundary was asked for");
        let (min, max, scale) = (spec.min, spec.max, spec.scale);
        let param = spec.param.as_str();
        let point = claim.record[0];
        let at_min = self.row_at(claim, point, param, min)?;
        let at_max = self.row_at(claim, point, param, max)?;
        let holds_when = match (at_min.0, at_max.0) {
            (Verdict::Holds, v) if v != Verdict::Holds => Some("below".to_string()),
            (v, Verdict::Holds) if v != Verdict::Holds => Some("above".to_string()),
            _ => None,
        };
        let (lo_e, hi_e) = match &claim.expected {
            Expectation::Matches { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            e => e.range(),
        };
        let mean = |m: &Option<MetricEstimate>| m.as_ref().map(|m| m.mean);
        let threshold = [lo_e, hi_e].into_iter().filter(|t| t.is_finite()).find(|t| {
            matches!((mean(&at_min.1), mean(&at_max.1)), (Some(a), Some(b)) if (a - t).signum() != (b - t).signum())
        });
        let Some(t) = threshold else {
            return Ok(crate::summary::BoundaryResult {
                param: spec.param.clone(),
                value: None,
                ci95: None,
                holds_when,
                threshold: None,
                reason: format!(
                    "the metric's mean stays on one side of the claim's range for {param} in [{min}, {max}]"
                ),
            });
        };
        let value = self.crossing(claim, param, (min, max), scale, BOUNDARY_STEPS, |m| {
            m.mean - t
        })?;
        let lo_cross = self.crossing(claim, param, (min, max), scale, BOUNDARY_CI_STEPS, |m| {
            m.ci95[0] - t
        })?;
        let hi_cross = self.crossing(claim, param, (min, max), scale, BOUNDARY_CI_STEPS, |m| {
            m.ci95[1] - t
        })?;
        let ci95 = match (lo_cross, hi_cross) {
            (Some(a), Some(b)) => Some([a.min(b), a.max(b)]),
            (Some(a), None) | (None, Some(a)) => value.map(|v| [a.min(v), a.max(v)]),
            (None, None) => None,
        };
        Ok(crate::summary::BoundaryResult {
            param: spec.param.clone(),
            value,
            ci95,
            holds_when,
            threshold: Some(t),
            reason: format!(
                "the metric's mean crosses {} as {param} moves through [{min}, {max}]",
                crate::format::fmt_num(t)
            ),
        })
    }
}
