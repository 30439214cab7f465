//! Step detection in a metric's series over commits, in the spirit of asv's: find where the
//! level changes, and report a change only when it is both statistically clear and larger than
//! a noise threshold.
//!
//! # The rule
//! Each commit `i` gives a pooled estimate: a mean `mᵢ` and its standard error `sᵢ` (from the
//! replications of every run of that commit). Its noise is `σᵢ = max(sᵢ, τ)`, where `τ` is the
//! scatter between consecutive commits, `1.4826 · median|mᵢ₊₁ − mᵢ| / √2` (a robust estimate a
//! few steps do not move), used only from 8 commits up; with fewer, `σᵢ = sᵢ`. A σ of zero (a
//! deterministic metric) is floored at 10⁻⁹ of the series' scale, so identical values never
//! step and any difference is "clear" — the threshold then decides.
//!
//! Binary segmentation: in a segment of `n` commits, every split `k` (the new level starts at
//! commit `k`) gets `z = |μ_R − μ_L| / √(1/W_L + 1/W_R)`, the inverse-variance weighted means
//! and weights `W = Σ 1/σᵢ²` of either side. The best split is a step when
//! 1. `z ≥ Φ⁻¹(1 − α / (2(n − 1)))` with α = 0.05 — a two-sided test, Bonferroni-corrected for
//!    the `n − 1` splits tried, so on pure noise a series has at most about a 5% chance of a
//!    false step (the test `false_alarm_rate_on_pure_noise` measures 1.7% on 20-commit series
//!    at a fixed seed: Bonferroni is conservative), and
//! 2. `|μ_R − μ_L| ≥ threshold · max(|μ_L|, |μ_R|)` — a change smaller than the noise
//!    threshold (2% by default, as `lab compare`) is never a step, however significant.
//!
//! Then each side is searched again. A step is reported at its first commit, with the levels
//! of the segments on either side.

/// Significance of a step, before the correction for the splits tried.
pub const ALPHA: f64 = 0.05;

/// A change of level.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Step {
    /// Index of the first commit at the new level.
    pub at: usize,
    /// The level before (weighted mean of the segment before).
    pub before: f64,
    /// The level after (weighted mean of the segment after).
    pub after: f64,
    /// (after − before) / |before|.
    pub rel_change: f64,
    /// The split's z statistic.
    pub z: f64,
}

/// The steps in a series of `(mean, standard error)` per commit, in order; `threshold` is the
/// relative noise threshold (0.02 for 2%).
pub fn detect(series: &[(f64, f64)], threshold: f64) -> Vec<Step> {
    let n = series.len();
    if n < 2 || series.iter().any(|(m, s)| !m.is_finite() || !s.is_finite()) {
        return Vec::new();
    }
    let scale = series.iter().map(|(m, _)| m.abs()).fold(0.0, f64::max);
    let floor = (scale * 1e-9).max(f64::MIN_POSITIVE.sqrt());
    let tau = if n >= 8 {
        between_commit_scatter(series)
    } else {
        0.0
    };
    let w: Vec<f64> = series
        .iter()
        .map(|(_, s)| {
            let sigma = s.abs().max(tau).max(floor);
            1.0 / (sigma * sigma)
        })
        .collect();
    let m: Vec<f64> = series.iter().map(|(m, _)| *m).collect();
    let mut cuts = Vec::new();
    split(&m, &w, 0, n, threshold, &mut cuts);
    cuts.sort_unstable_by_key(|c| c.0);
    // Levels between consecutive cuts.
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().map(|(k, _)| *k));
    bounds.push(n);
    let level = |a: usize, b: usize| weighted(&m[a..b], &w[a..b]).0;
    cuts.iter()
        .enumerate()
        .map(|(i, &(at, z))| {
            let before = level(bounds[i], bounds[i + 1]);
            let after = level(bounds[i + 1], bounds[i + 2]);
            Step {
                at,
                before,
                after,
                rel_change: (after - before) / before.abs().max(floor),
                z,
            }
        })
        .collect()
}

/// `1.4826 · median|Δ| / √2`: the standard deviation of one commit's mean, from consecutive
/// differences (robust to a few steps).
fn between_commit_scatter(series: &[(f64, f64)]) -> f64 {
    let mut d: Vec<f64> = series.windows(2).map(|p| (p[1].0 - p[0].0).abs()).collect();
    d.sort_by(f64::total_cmp);
    let med = if d.len() % 2 == 1 {
        d[d.len() / 2]
    } else {
        (d[d.len() / 2 - 1] + d[d.len() / 2]) / 2.0
    };
    1.4826 * med / std::f64::consts::SQRT_2
}

/// The weighted mean and total weight.
fn weighted(m: &[f64], w: &[f64]) -> (f64, f64) {
    let sw: f64 = w.iter().sum();
    let s: f64 = m.iter().zip(w).map(|(m, w)| m * w).sum();
    (s / sw, sw)
}

/// Binary segmentation of `[lo, hi)`: pushes `(first commit of the new level, z)`.
fn split(m: &[f64], w: &[f64], lo: usize, hi: usize, threshold: f64, out: &mut Vec<(usize, f64)>) {
    let n = hi - lo;
    if n < 2 {
        return;
    }
    // Prefix sums make every split O(1).
    let mut best: Option<(usize, f64, f64, f64)> = None;
    let (mut wl, mut sl) = (0.0, 0.0);
    let (wt, st): (f64, f64) = (w[lo..hi].iter().sum(), (lo..hi).map(|i| m[i] * w[i]).sum());
    for k in lo + 1..hi {
        wl += w[k - 1];
        sl += m[k - 1] * w[k - 1];
        let wr = wt - wl;
        let (ml, mr) = (sl / wl, (st - sl) / wr);
        let z = (mr - ml).abs() / (1.0 / wl + 1.0 / wr).sqrt();
        if best.is_none_or(|b| z > b.1) {
            best = Some((k, z, ml, mr));
        }
    }
    let Some((k, z, ml, mr)) = best else { return };
    let z_crit = normal_quantile(1.0 - ALPHA / (2.0 * (n - 1) as f64));
    let big = (mr - ml).abs() >= threshold * ml.abs().max(mr.abs());
    if z >= z_crit && big && (mr - ml).abs() > 0.0 {
        out.push((k, z));
        split(m, w, lo, k, threshold, out);
        split(m, w, k, hi, threshold, out);
    }
}

/// The standard normal distribution function (Abramowitz & Stegun 7.1.26 through erfc,
/// absolute error below 1.5×10⁻⁷).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-z * z).exp();
    if x >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

/// Φ⁻¹(p) by bisection (p in (0.5, 1) here; 60 halvings).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0_f64, 10.0_f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64 and Box–Muller: a fixed-seed normal stream for the tests.
    struct Noise(u64);
    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let u = self.uniform().max(1e-300);
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    /// 20 commits of a metric at 100 with a 5% standard error: far above the 2% threshold, so
    /// the statistical test alone decides.
    fn series(noise: &mut Noise, step_at: Option<usize>, step: f64) -> Vec<(f64, f64)> {
        (0..20)
            .map(|i| {
                let level = if step_at.is_some_and(|k| i >= k) {
                    100.0 + step
                } else {
                    100.0
                };
                (level + 5.0 * noise.normal(), 5.0)
            })
            .collect()
    }

    #[test]
    fn quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-4);
        assert!((normal_quantile(0.999) - 3.090_232).abs() < 1e-4);
    }

    #[test]
    fn false_alarm_rate_on_pure_noise() {
        let mut noise = Noise(7);
        let trials = 2000;
        let alarms = (0..trials)
            .filter(|_| !detect(&series(&mut noise, None, 0.0), 0.02).is_empty())
            .count();
        let rate = alarms as f64 / trials as f64;
        eprintln!("false-alarm rate on pure noise: {rate} ({alarms} of {trials} series)");
        // The rule's design rate is α = 5% per series; the estimate's standard error is 0.5%.
        assert!(rate <= 0.065, "false-alarm rate {rate}");
        assert!(rate > 0.0, "a test of this power alarms sometimes: {rate}");
    }

    #[test]
    fn finds_a_planted_step_at_its_commit() {
        let mut noise = Noise(11);
        let trials = 500;
        let mut exact = 0;
        for _ in 0..trials {
            // A 25% step: 5 standard errors of one commit.
            let steps = detect(&series(&mut noise, Some(12), 25.0), 0.02);
            if steps.len() == 1 && steps[0].at == 12 {
                exact += 1;
            }
        }
        let rate = exact as f64 / trials as f64;
        eprintln!("planted 5-sigma step found exactly at its commit in {rate} of series");
        assert!(
            rate >= 0.9,
            "found exactly at commit 12 in {rate} of series"
        );
    }

    #[test]
    fn deterministic_series_step_only_beyond_the_threshold() {
        let flat = [(10.0, 0.0); 5];
        assert!(detect(&flat, 0.02).is_empty());
        let small = [(10.0, 0.0), (10.0, 0.0), (10.1, 0.0), (10.1, 0.0)];
        assert!(
            detect(&small, 0.02).is_empty(),
            "1% is within the 2% threshold"
        );
        let big = [(10.0, 0.0), (10.0, 0.0), (11.0, 0.0), (11.0, 0.0)];
        let s = detect(&big, 0.02);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].at, 2);
        assert!((s[0].rel_change - 0.1).abs() < 1e-9);
        // A step at the newest commit is found too.
        let last = [(5.0, 0.1), (5.0, 0.1), (5.0, 0.1), (7.0, 0.1)];
        assert_eq!(detect(&last, 0.02)[0].at, 3);
    }

    #[test]
    fn two_steps_are_both_found() {
        let s: Vec<(f64, f64)> = (0..12)
            .map(|i| {
                (
                    if i < 4 {
                        1.0
                    } else if i < 8 {
                        2.0
                    } else {
                        1.5
                    },
                    0.01,
                )
            })
            .collect();
        let at: Vec<usize> = detect(&s, 0.02).iter().map(|s| s.at).collect();
        assert_eq!(at, vec![4, 8]);
    }
}
