//! From replication values to estimates and claim verdicts.

use std::collections::BTreeMap;

use sims::stats::Estimate;

use crate::summary::{ClaimResult, Expected, MetricEstimate, Verdict, fmt_num};

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
}
