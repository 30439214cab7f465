//! From replication values to estimates and claim verdicts.

use std::collections::BTreeMap;

use sims::stats::Estimate;

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

/// The verdict for one claim at one point, with its reason.
pub fn verdict(expected: &Expected, measured: Option<&MetricEstimate>) -> (Verdict, String) {
    let Some(m) = measured else {
        return (
            Verdict::Inconclusive,
            "the model did not produce this metric at this point".into(),
        );
    };
    let (lo, hi) = expected.range();
    let [clo, chi] = m.ci95;
    let ci = format!("95% CI [{}, {}]", fmt_num(clo), fmt_num(chi));
    let range = format!("[{}, {}]", fmt_num(lo), fmt_num(hi));
    if m.n < 2 {
        // A single replication has no interval: judge the point value but say so.
        let inside = lo <= m.mean && m.mean <= hi;
        return (
            Verdict::Inconclusive,
            format!(
                "one replication, no confidence interval (value {} {} {range})",
                fmt_num(m.mean),
                if inside { "inside" } else { "outside" }
            ),
        );
    }
    if lo <= clo && chi <= hi {
        (Verdict::Holds, format!("{ci} inside {range}"))
    } else if chi < lo || clo > hi {
        let side = if chi < lo { "below" } else { "above" };
        (Verdict::Fails, format!("{ci} wholly {side} {range}"))
    } else {
        (Verdict::Inconclusive, format!("{ci} overlaps {range}"))
    }
}

/// Judges one claim at one point: a model metric, a real kernel's measurement (`real.NAME`),
/// or a model metric that must match a measurement (`matches = "real.NAME"`). Returns the
/// expectation as judged (a `matches` resolved to the measured value), the estimate, the
/// verdict and its reason.
pub fn judge(
    expected: &Expected,
    metric: &str,
    point: &PointResult,
    real: Option<&RealResult>,
) -> (Expected, Option<MetricEstimate>, Verdict, String) {
    let mut expected = expected.clone();
    if let Some(m) = expected.matches.clone() {
        match real_estimate(real, &m) {
            Err(why) => {
                return (
                    expected,
                    point.metrics.get(metric).cloned(),
                    Verdict::NotRun,
                    why,
                );
            }
            Ok(e) => expected.approx = Some(e.mean),
        }
    }
    if metric.starts_with("real.") {
        return match real_estimate(real, metric) {
            Err(why) => (expected, None, Verdict::NotRun, why),
            Ok(e) if e.n < 2 => {
                // Measured once: judge the value itself and say so.
                let (lo, hi) = expected.range();
                let inside = expected.accepts(e.mean);
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
                (expected, Some(e), verdict, reason)
            }
            Ok(e) => {
                let (v, r) = verdict(&expected, Some(&e));
                (expected, Some(e), v, r)
            }
        };
    }
    let measured = point.metrics.get(metric);
    let (v, r) = verdict(&expected, measured);
    (expected, measured.cloned(), v, r)
}

/// A real kernel's measurement as an estimate, or why there is none.
fn real_estimate(real: Option<&RealResult>, metric: &str) -> Result<MetricEstimate, String> {
    let name = metric.trim_start_matches("real.");
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
        let e = Expected {
            approx: Some(10.0),
            rel_tol: Some(0.1),
            ..Default::default()
        };
        assert_eq!(verdict(&e, Some(&est(9.5, 10.5))).0, Verdict::Holds);
        assert_eq!(verdict(&e, Some(&est(11.5, 12.0))).0, Verdict::Fails);
        assert_eq!(verdict(&e, Some(&est(7.0, 8.0))).0, Verdict::Fails);
        assert_eq!(verdict(&e, Some(&est(10.5, 11.5))).0, Verdict::Inconclusive);
        assert_eq!(verdict(&e, None).0, Verdict::Inconclusive);
        let lt = Expected {
            lt: Some(0.2),
            ..Default::default()
        };
        assert_eq!(verdict(&lt, Some(&est(0.1, 0.15))).0, Verdict::Holds);
        assert_eq!(verdict(&lt, Some(&est(0.25, 0.3))).0, Verdict::Fails);
    }

    #[test]
    fn a_single_value_is_judged_with_strict_bounds() {
        let gt = Expected {
            gt: Some(0.0),
            ..Default::default()
        };
        assert!(!gt.accepts(0.0));
        assert!(gt.accepts(1.0));
        let within = Expected {
            between: Some([1.0, 2.0]),
            ..Default::default()
        };
        assert!(within.accepts(1.0) && within.accepts(2.0) && !within.accepts(2.5));
        let near = Expected {
            approx: Some(0.0),
            abs_tol: Some(0.5),
            ..Default::default()
        };
        assert!(near.accepts(0.5) && !near.accepts(-0.6));
    }
}
