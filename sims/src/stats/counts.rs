//! Intervals from counts: a proportion of trials (Wilson score) and a Poisson mean (exact,
//! Garwood). Both stay in their range and neither is ever a single point: zero successes in
//! N trials reads "at most about 3.8/N", never certainty.

use statrs::distribution::{ContinuousCDF, Gamma};

/// The two-sided 95% normal quantile.
const Z_975: f64 = 1.959_963_984_540_054;

/// Events above which the Poisson interval uses its normal form (the exact one is then the
/// same to four digits, and the incomplete gamma's inversion slows down).
const POISSON_EXACT_UP_TO: u64 = 10_000;

/// Wilson's score interval (95%) of a proportion: `successes` of `trials`. Inside `[0, 1]`;
/// `(0, 1)` without trials.
pub fn wilson_interval(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = Z_975 * Z_975;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_975 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At the ends the score interval touches 0 or 1 exactly; rounding would leave a speck.
    let lo = if successes == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if successes >= trials {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// The exact (Garwood) 95% interval of a Poisson mean after observing `events`: the central
/// chi-square interval, `[Γ⁻¹(0.025; k), Γ⁻¹(0.975; k + 1)]`.
pub fn poisson_interval(events: u64) -> (f64, f64) {
    let k = events as f64;
    if events > POISSON_EXACT_UP_TO {
        // The score interval for a Poisson mean: exact to four digits this far out.
        let z2 = Z_975 * Z_975;
        let half = Z_975 * (k + z2 / 4.0).sqrt();
        return ((k + z2 / 2.0 - half).max(0.0), k + z2 / 2.0 + half);
    }
    let quantile = |shape: f64, p: f64| {
        Gamma::new(shape, 1.0)
            .map(|g| g.inverse_cdf(p))
            .unwrap_or(f64::NAN)
    };
    let lo = if events == 0 { 0.0 } else { quantile(k, 0.025) };
    (lo, quantile(k + 1.0, 0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_hand_computation_and_never_collapses() {
        // 10 of 20: centre 0.5, half-width 1.96/(1 + 3.8415/20) * sqrt(0.0125 + 0.0024) = 0.2007.
        let (lo, hi) = wilson_interval(10, 20);
        assert!(
            (lo - 0.2993).abs() < 1e-3 && (hi - 0.7007).abs() < 1e-3,
            "{lo} {hi}"
        );
        // Zero failures in 1000: the upper end is about 3.84/1000, not 0.
        let (lo, hi) = wilson_interval(0, 1000);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.003827).abs() < 2e-5, "{hi}");
        let (lo, hi) = wilson_interval(1000, 1000);
        assert!(lo < 1.0 && lo > 0.996 && hi == 1.0);
    }

    #[test]
    fn poisson_matches_published_limits() {
        // Garwood's table: 0 events → [0, 3.689]; 5 → [1.623, 11.668]; 20 → [12.217, 30.889].
        let (lo, hi) = poisson_interval(0);
        assert!(lo == 0.0 && (hi - 3.689).abs() < 1e-3, "{hi}");
        let (lo, hi) = poisson_interval(5);
        assert!(
            (lo - 1.623).abs() < 1e-3 && (hi - 11.668).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = poisson_interval(20);
        assert!(
            (lo - 12.217).abs() < 1e-3 && (hi - 30.889).abs() < 1e-3,
            "{lo} {hi}"
        );
        // The normal form joins the exact one smoothly.
        let (lo, hi) = poisson_interval(20_000);
        assert!(
            (lo - 19_724.0).abs() < 2.0 && (hi - 20_279.0).abs() < 2.0,
            "{lo} {hi}"
        );
    }
}
