//! From replication values to estimates and claim verdicts.

use std::collections::BTreeMap;

use sims::stats::Estimate;

use crate::expectation::{Expectation, MetricSource};
use crate::summary::{
    ClaimResult, Expected, MetricEstimate, PointResult, RealResult, Verdict, fmt_num,
};

/// Estimates every metric of one point.
pub fn estimates(
    values: &BTreeMap<String, Vec<f64>>,
    unit_of: impl Fn(&str) -> String,
) -> BTreeMap<String, MetricEstimate> {
    values
        .iter()
        .map(|(k, xs)| {
            let e = Estimate::from_samples(xs);
            (
                k.clone(),
                MetricEstimate {
                    mean: e.mean,
                    ci95: [e.ci95.0, e.ci95.1],
                    std: e.std,
                    n: e.n,
                    unit: unit_of(k),
                },
            )
        })
        .collect()
}

/// A verdict with its reason in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// holds, fails, inconclusive or not_run.
    pub verdict: Verdict,
    /// Why: the interval against the range, or what is missing.
    pub reason: String,
}

impl Assessment {
    fn new(verdict: Verdict, reason: impl Into<String>) -> Assessment {
        Assessment {
            verdict,
            reason: reason.into(),
        }
    }
}

/// One claim judged at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The expectation as judged, in its wire form (a `matches` carries the measured value as
    /// `approx`).
    pub expected: Expected,
    /// The estimate judged, absent when there is none.
    pub measured: Option<MetricEstimate>,
    /// The verdict and its reason.
    pub assessment: Assessment,
}

/// The verdict for an estimate against an expectation: holds when the 95% CI lies inside the
/// accepted range, fails when wholly outside, inconclusive otherwise or with one replication.
pub fn verdict(expected: &Expectation, measured: Option<&MetricEstimate>) -> Assessment {
    let Some(m) = measured else {
        return Assessment::new(
            Verdict::Inconclusive,
            "the model did not produce this metric at this point",
        );
    };
    let (lo, hi) = expected.range();
    let [clo, chi] = m.ci95;
    let ci = format!("95% CI [{}, {}]", fmt_num(clo), fmt_num(chi));
    let range = format!("[{}, {}]", fmt_num(lo), fmt_num(hi));
    if m.n < 2 {
        // A single replication has no interval: judge the point value but say so.
        let inside = lo <= m.mean && m.mean <= hi;
        return Assessment::new(
            Verdict::Inconclusive,
            format!(
                "one replication, no confidence interval (value {} {} {range})",
                fmt_num(m.mean),
                if inside { "inside" } else { "outside" }
            ),
        );
    }
    if lo <= clo && chi <= hi {
        Assessment::new(Verdict::Holds, format!("{ci} inside {range}"))
    } else if chi < lo || clo > hi {
        let side = if chi < lo { "below" } else { "above" };
        Assessment::new(Verdict::Fails, format!("{ci} wholly {side} {range}"))
    } else {
        Assessment::new(Verdict::Inconclusive, format!("{ci} overlaps {range}"))
    }
}

/// Judges one claim at one point: a model metric, a real kernel's measurement, or a model
/// metric that must match a measurement (`matches`).
pub fn judge(
    expected: &Expectation,
    source: &MetricSource,
    point: &PointResult,
    real: Option<&RealResult>,
) -> Judgement {
    let (judged, wire) = match expected {
        Expectation::Matches {
            measurement,
            tolerance,
        } => match real_estimate(real, measurement) {
            Err(why) => {
                let measured = match source {
                    MetricSource::Model(name) => point.metrics.get(name).cloned(),
                    MetricSource::Real(_) => None,
                };
                return Judgement {
                    expected: expected.to_wire(),
                    measured,
                    assessment: Assessment::new(Verdict::NotRun, why),
                };
            }
            Ok(e) => {
                let judged = Expectation::Approx {
                    value: e.mean,
                    tolerance: *tolerance,
                };
                // The wire form keeps the measurement's name beside the value it resolved to.
                let mut wire = judged.to_wire();
                wire.matches = expected.to_wire().matches;
                (judged, wire)
            }
        },
        other => (other.clone(), other.to_wire()),
    };
    match source {
        MetricSource::Real(name) => match real_estimate(real, name) {
            Err(why) => Judgement {
                expected: wire,
                measured: None,
                assessment: Assessment::new(Verdict::NotRun, why),
            },
            Ok(e) if e.n < 2 => {
                // Measured once: judge the value itself and say so.
                let (lo, hi) = judged.range();
                let inside = judged.accepts(e.mean);
                let verdict = if inside {
                    Verdict::Holds
                } else {
                    Verdict::Fails
                };
                let reason = format!(
                    "measured once: {} {} [{}, {}]",
                    fmt_num(e.mean),
                    if inside { "inside" } else { "outside" },
                    fmt_num(lo),
                    fmt_num(hi)
                );
                Judgement {
                    expected: wire,
                    measured: Some(e),
                    assessment: Assessment::new(verdict, reason),
                }
            }
            Ok(e) => Judgement {
                assessment: verdict(&judged, Some(&e)),
                expected: wire,
                measured: Some(e),
            },
        },
        MetricSource::Model(name) => {
            let measured = point.metrics.get(name);
            Judgement {
                assessment: verdict(&judged, measured),
                expected: wire,
                measured: measured.cloned(),
            }
        }
    }
}

/// A real kernel's measurement as an estimate, or why there is none.
fn real_estimate(real: Option<&RealResult>, name: &str) -> Result<MetricEstimate, String> {
    let Some(r) = real else {
        return Err("no real kernel ran for this scenario".into());
    };
    if r.status != "ok" {
        return Err(format!("real kernel {} not run: {}", r.kernel, r.reason));
    }
    let Some(&v) = r.metrics.get(name) else {
        return Err(format!("real kernel {} did not measure `{name}`", r.kernel));
    };
    let n = r.n.get(name).copied().unwrap_or(1);
    let ci95 = r.ci95.get(name).copied().unwrap_or([v, v]);
    Ok(MetricEstimate {
        mean: v,
        ci95,
        std: 0.0,
        n: n.max(if r.ci95.contains_key(name) { 2 } else { 1 }),
        unit: r.units.get(name).cloned().unwrap_or_default(),
    })
}

/// Counts of each verdict, in the order holds, fails, inconclusive, not_run.
pub fn tally(claims: &[ClaimResult]) -> [usize; 4] {
    let mut t = [0; 4];
    for c in claims {
        t[match c.verdict {
            Verdict::Holds => 0,
            Verdict::Fails => 1,
            Verdict::Inconclusive => 2,
            Verdict::NotRun => 3,
        }] += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expectation::Tolerance;

    fn est(lo: f64, hi: f64) -> MetricEstimate {
        MetricEstimate {
            mean: (lo + hi) / 2.0,
            ci95: [lo, hi],
            std: 1.0,
            n: 10,
            unit: "s".into(),
        }
    }

    #[test]
    fn three_way_verdicts() {
        let e = Expectation::Approx {
            value: 10.0,
            tolerance: Tolerance {
                rel: Some(0.1),
                abs: None,
            },
        };
        let v = |m: Option<&MetricEstimate>| verdict(&e, m).verdict;
        assert_eq!(v(Some(&est(9.5, 10.5))), Verdict::Holds);
        assert_eq!(v(Some(&est(11.5, 12.0))), Verdict::Fails);
        assert_eq!(v(Some(&est(7.0, 8.0))), Verdict::Fails);
        assert_eq!(v(Some(&est(10.5, 11.5))), Verdict::Inconclusive);
        assert_eq!(v(None), Verdict::Inconclusive);
        let lt = Expectation::Below(0.2);
        assert_eq!(verdict(&lt, Some(&est(0.1, 0.15))).verdict, Verdict::Holds);
        assert_eq!(verdict(&lt, Some(&est(0.25, 0.3))).verdict, Verdict::Fails);
    }

    #[test]
    fn a_single_measurement_is_judged_with_strict_bounds() {
        let point = PointResult {
            index: 0,
            label: None,
            params: serde_json::Value::Null,
            metrics: Default::default(),
        };
        let real = RealResult {
            kernel: "k".into(),
            status: "ok".into(),
            reason: String::new(),
            metrics: [("zero".to_string(), 0.0)].into(),
            units: Default::default(),
            ci95: Default::default(),
            n: Default::default(),
            calibration: Default::default(),
            calibrated_points: Vec::new(),
            findings: Vec::new(),
            environment: Default::default(),
            series: Vec::new(),
            wall_s: 0.0,
        };
        let j = judge(
            &Expectation::Above(0.0),
            &MetricSource::real("zero"),
            &point,
            Some(&real),
        );
        assert_eq!(
            j.assessment.verdict,
            Verdict::Fails,
            "{}",
            j.assessment.reason
        );
        assert!(j.assessment.reason.starts_with("measured once"));
    }
}
