//! Probes: a point of record run again with one parameter moved, on the same random streams,
//! to see whether a claim's verdict survives the parameter's plausible range (`depends`) and
//! where it flips (`boundary`). Every probed (point, parameter, value) is run once and cached.

use std::collections::HashMap;

use crate::analysis::{self, Context};
use crate::error::LabError;
use crate::expectation::Expectation;
use crate::scenario::values::{get_path, set_path};
use crate::scenario::{ResolvedClaim, ScenarioPlan};
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

/// Runs and remembers probes of one plan.
pub struct Prober<'a> {
    plan: &'a ScenarioPlan,
    real: Option<&'a RealResult>,
    cache: HashMap<(usize, String, u64), PointResult>,
    /// Replications run by probes (for the progress line and the note).
    pub replications_run: u64,
}

/// The middle of `a` and `b` on a scale (geometric on a log scale).
pub fn midpoint(a: f64, b: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Log if a > 0.0 && b > 0.0 => (a * b).sqrt(),
        _ => (a + b) / 2.0,
    }
}

impl<'a> Prober<'a> {
    /// A prober for `plan`, judging real-kernel claims against `real`.
    pub fn new(plan: &'a ScenarioPlan, real: Option<&'a RealResult>) -> Prober<'a> {
        Prober {
            plan,
            real,
            cache: HashMap::new(),
            replications_run: 0,
        }
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

    /// The point's estimates with `param` set to `value`.
    pub fn point_at(
        &mut self,
        point: usize,
        param: &str,
        value: f64,
    ) -> Result<PointResult, LabError> {
        let integral = self.integral(point, param);
        let value = if integral { value.round() } else { value };
        let key = (point, param.to_string(), value.to_bits());
        if let Some(p) = self.cache.get(&key) {
            return Ok(p.clone());
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
        let samples = crate::runner::run_variant(self.plan, point, &prepared)?;
        self.replications_run += u64::from(planned.replications);
        let result = PointResult {
            index: point,
            label: planned.label.clone(),
            params: serde_json::Value::Null,
            metrics: analysis::estimates(&samples, |m| self.plan.sim.metric_def(m)),
        };
        self.cache.insert(key, result.clone());
        Ok(result)
    }

    /// The claim's verdict at one point with `param` at `value`.
    pub fn row_at(
        &mut self,
        claim: &ResolvedClaim,
        point: usize,
        param: &str,
        value: f64,
    ) -> Result<(Verdict, Option<MetricEstimate>), LabError> {
        let p = self.point_at(point, param, value)?;
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
        let j = analysis::judge(&claim.expected, &claim.source, &p, self.real, &cx);
        Ok((j.assessment.verdict, j.measured))
    }

    /// The claim's verdict of record with `param` at `value` at every point of record.
    pub fn record_at(
        &mut self,
        claim: &ResolvedClaim,
        param: &str,
        value: f64,
    ) -> Result<Verdict, LabError> {
        let mut verdicts = Vec::new();
        for &p in &claim.record {
            verdicts.push(self.row_at(claim, p, param, value)?.0);
        }
        Ok(claim.rule.roll(&verdicts))
    }

    /// Between `base` (verdict `v`) and `end` (another verdict), where the verdict stops
    /// being `v`: the bracket's middle after a few halvings.
    pub fn flip_between(
        &mut self,
        claim: &ResolvedClaim,
        param: &str,
        (base, v): (f64, Verdict),
        end: f64,
        scale: Scale,
    ) -> Result<f64, LabError> {
        let integral = claim.record.iter().any(|&p| self.integral(p, param));
        let (mut a, mut b) = (base, end);
        for _ in 0..self.steps(FLIP_STEPS) {
            if integral && (b - a).abs() <= 1.0 {
                break;
            }
            let m = midpoint(a, b, scale);
            if self.record_at(claim, param, m)? == v {
                a = m;
            } else {
                b = m;
            }
        }
        Ok(midpoint(a, b, scale))
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
        let mean = |p: &mut Self, x: f64| -> Result<Option<f64>, LabError> {
            Ok(p.row_at(claim, point, param, x)?.1.map(|m| m.mean))
        };
        let (Some(a), Some(b)) = (mean(self, lo)?, mean(self, hi)?) else {
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
