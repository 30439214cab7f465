//! The robustness pass's screening rule: a probe's first few replications (the same random
//! streams as the full probe's first ones) give an interval that holds every 95% interval the
//! full probe could plausibly give. When the claim's verdict is the same for that whole
//! interval (holds, or fails), it is the full probe's verdict, and the probe stops there.
//!
//! Why a wider interval settles a verdict: `holds` means the 95% interval lies inside the
//! accepted range and `fails` that it lies wholly outside it (for a bound: beyond it on the
//! bound's side; for `matches`: the difference with the measurement inside or beyond the
//! tolerance). Both survive narrowing: every interval inside one that holds holds, and every
//! interval inside one that fails fails. `inconclusive` does not, so it is never settled by a
//! screen.

use sims::simulation::{MetricDef, MetricKind};
use sims::stats::student_t_975;

use crate::runner::Samples;
use crate::summary::MetricEstimate;

/// How many standard errors of the screen's mean the full probe's mean may lie from it.
pub const SCREEN_MARGIN_SE: f64 = 4.0;
/// How much wider than the base point's interval (its noise scaled to the screen's) the full
/// probe's own interval may be.
const HALF_WIDTH_SLACK: f64 = 1.5;
/// Events assumed at least, for a count seen rarely or never: zero in N is not certainty.
const MIN_EVENTS: f64 = 3.0;

/// Replications a screen runs for a probe of `n`: a quarter, at least two (a spread of its
/// own: a parameter can make a metric noisier than at the scenario's values, and one
/// replication cannot show it), one only for a probe of two (a preview); `n` when a screen
/// would save nothing.
pub fn screen_reps(n: u32) -> u32 {
    match n {
        0..=1 => n,
        2 => 1,
        _ => n.div_ceil(4).clamp(2, n - 1),
    }
}

/// What a screen of `k` replications says a full probe of `n` could give.
#[derive(Debug, Clone, PartialEq)]
pub struct Plausible {
    /// Where the full probe's mean may lie.
    pub mean: [f64; 2],
    /// An estimate whose interval holds every interval the full probe may plausibly give (the
    /// mean's range widened by the largest half-width), cut to the metric's range.
    pub hull: MetricEstimate,
}

/// The screen's plausible range for the full probe. `screened`: the metric's first `k`
/// replications at the probe; `base`: its estimate at the point of record (the scenario's
/// values, `n` replications); `n`: the full probe's replications. `None` when the screen
/// cannot say (the metric missing in some replications, no replications).
pub fn plausible(
    def: Option<&MetricDef>,
    screened: &Samples,
    base: Option<&MetricEstimate>,
    n: u32,
) -> Option<Plausible> {
    let k = screened.values.len();
    if k == 0 || n < 2 {
        return None;
    }
    let kf = k as f64;
    let nf = f64::from(n);
    let mean_s = screened.values.iter().sum::<f64>() / kf;
    let std_s = if k >= 2 {
        let v = screened
            .values
            .iter()
            .map(|x| (x - mean_s).powi(2))
            .sum::<f64>()
            / (kf - 1.0);
        v.sqrt()
    } else {
        0.0
    };
    let std_b = base.map_or(0.0, |b| b.std);
    // The noise of one replication: whichever of the screen's and the base point's is larger
    // (one or two replications can understate it badly; the base point's n do not).
    let sigma = std_s.max(std_b);
    let mut mean = mean_s;
    let mut se = sigma / kf.sqrt();
    // The full probe's interval half-width: the base point's, scaled when the screen is
    // noisier, or Student t on the noise; never less than the counts' own.
    let base_half = base.map_or(0.0, |b| (b.mean - b.ci95[0]).max(b.ci95[1] - b.mean));
    let scaled = if std_b > 0.0 {
        base_half * (sigma / std_b).max(1.0)
    } else {
        base_half
    };
    let mut half = scaled.max(student_t_975(nf - 1.0) * sigma / nf.sqrt());
    let per = match def.map(|d| d.kind) {
        Some(MetricKind::Proportion) | Some(MetricKind::Count) => Some(1.0),
        Some(MetricKind::Rate { per }) => Some(per),
        _ => None,
    };
    if let Some(per) = per {
        if screened.counts.len() != k {
            return None;
        }
        let events: u64 = screened.counts.iter().map(|c| c.events).sum();
        let exposure: f64 = screened.counts.iter().map(|c| c.exposure).sum();
        if exposure > 0.0 {
            // Pooled, as the full estimate is; a rare event seen zero times counts as three.
            mean = per * events as f64 / exposure;
            let ev = (events as f64).max(MIN_EVENTS);
            se = se.max(per * ev.sqrt() / exposure);
            half = half.max(2.0 * per * ev.sqrt() / (exposure * (nf / kf).sqrt()));
        }
    }
    let shift = SCREEN_MARGIN_SE * se;
    let half = HALF_WIDTH_SLACK * half;
    let (lo, hi) = def.map_or((f64::NEG_INFINITY, f64::INFINITY), |d| d.range());
    let m = [(mean - shift).max(lo), (mean + shift).min(hi)];
    let ci = [(m[0] - half).max(lo), (m[1] + half).min(hi)];
    Some(Plausible {
        mean: m,
        hull: MetricEstimate {
            mean: mean.clamp(ci[0], ci[1]),
            ci95: ci,
            std: sigma,
            n,
            unit: def.map(|d| d.unit.to_string()).unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict;
    use crate::expectation::Expectation;
    use crate::summary::Verdict;

    fn est(mean: f64, half: f64, std: f64, n: u32) -> MetricEstimate {
        MetricEstimate {
            mean,
            ci95: [mean - half, mean + half],
            std,
            n,
            unit: String::new(),
        }
    }

    fn samples(values: &[f64]) -> Samples {
        Samples {
            values: values.to_vec(),
            counts: Vec::new(),
        }
    }

    fn lt(x: f64) -> Expectation {
        Expectation::from_wire(&crate::expectation::Expected {
            lt: Some(x),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn screen_reps_are_a_quarter_and_leave_something_to_save() {
        assert_eq!(screen_reps(1), 1);
        assert_eq!(screen_reps(2), 1);
        assert_eq!(screen_reps(3), 2);
        assert_eq!(screen_reps(8), 2);
        assert_eq!(screen_reps(10), 3);
        assert_eq!(screen_reps(20), 5);
    }

    #[test]
    fn a_screen_far_from_the_threshold_settles_the_verdict() {
        // Base: mean 10, sd 1, 20 replications; the claim "< 20". The end's two replications
        // near 12: 4 SE of a 2-replication mean is under 3, and the hull stays below 20.
        let base = est(10.0, 0.47, 1.0, 20);
        let p = plausible(None, &samples(&[11.8, 12.2]), Some(&base), 20).unwrap();
        assert!(p.hull.ci95[1] < 20.0, "{p:?}");
        assert_eq!(verdict(&lt(20.0), Some(&p.hull)).verdict, Verdict::Holds);
        // And far on the other side: it fails without the full probe.
        let p = plausible(None, &samples(&[29.0, 31.0]), Some(&base), 20).unwrap();
        assert_eq!(verdict(&lt(20.0), Some(&p.hull)).verdict, Verdict::Fails);
    }

    #[test]
    fn a_screen_near_the_threshold_settles_nothing() {
        // The end's screen at 18.5 with sd 1: the full mean may be anywhere in 18.5 ± 2.8, so
        // the full probe must decide.
        let base = est(10.0, 0.47, 1.0, 20);
        let p = plausible(None, &samples(&[18.0, 19.0]), Some(&base), 20).unwrap();
        assert_eq!(
            verdict(&lt(20.0), Some(&p.hull)).verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn one_quiet_replication_borrows_the_base_points_noise() {
        // A single screened replication has no spread of its own: the base point's is used,
        // so a value 2 sd from the threshold does not settle.
        let base = est(10.0, 1.0, 2.0, 10);
        let p = plausible(None, &samples(&[16.0]), Some(&base), 10).unwrap();
        assert!(p.mean[1] >= 16.0 + 4.0 * 2.0 - 1e-9, "{p:?}");
        assert_eq!(
            verdict(&lt(20.0), Some(&p.hull)).verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn a_rare_event_never_seen_is_not_certainty() {
        use sims::simulation::Counted;
        let def = MetricDef::new("lost", "", "lost", sims::simulation::Better::Lower).proportion();
        let s = Samples {
            values: vec![0.0, 0.0],
            counts: vec![
                Counted {
                    events: 0,
                    exposure: 1000.0,
                },
                Counted {
                    events: 0,
                    exposure: 1000.0,
                },
            ],
        };
        let base = est(0.0, 0.0, 0.0, 8);
        let p = plausible(Some(&def), &s, Some(&base), 8).unwrap();
        // 3 events assumed in 2000: the full probe may reach 0.0035 or more.
        assert!(p.hull.ci95[1] > 0.0035, "{p:?}");
        assert_eq!(p.hull.ci95[0], 0.0);
        assert_eq!(
            verdict(&lt(0.001), Some(&p.hull)).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(verdict(&lt(0.05), Some(&p.hull)).verdict, Verdict::Holds);
    }
}
