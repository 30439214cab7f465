//! Sample sizes and power in closed form, beside the simulation.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::boundaries::z_quantile;

/// Users per arm to detect a relative `lift` on a metric with coefficient of variation `cv`,
/// two-sided `alpha`, at `power`; normal approximation:
/// n = 2 (z_{1−α/2} + z_{power})² CV² / lift² (both arms with the same SD).
pub(super) fn n_per_arm_mean(cv: f64, lift: f64, alpha: f64, power: f64) -> f64 {
    let z = z_quantile(1.0 - alpha / 2.0) + z_quantile(power);
    (2.0 * z * z * cv * cv / (lift * lift)).ceil()
}

/// The same with Student-t quantiles at df = 2n − 2, iterated to a fixed point (close to
/// statsmodels' `TTestIndPower`, which is about 1 user larger than the normal form).
pub(super) fn n_per_arm_t(cv: f64, lift: f64, alpha: f64, power: f64) -> f64 {
    let mut n = n_per_arm_mean(cv, lift, alpha, power).max(2.0);
    // Beyond a million users per arm t and normal quantiles agree to the last user (and
    // statrs' t inversion at astronomic degrees of freedom is slow).
    if !n.is_finite() || n > 1e6 {
        return n;
    }
    for _ in 0..50 {
        let Ok(t) = StudentsT::new(0.0, 1.0, 2.0 * n - 2.0) else {
            break;
        };
        let q = t.inverse_cdf(1.0 - alpha / 2.0) + t.inverse_cdf(power);
        let next = (2.0 * q * q * cv * cv / (lift * lift)).ceil().max(2.0);
        if next == n {
            break;
        }
        n = next;
    }
    n
}

/// Users per arm to detect a conversion rate moving from `p1` to `p2` (Fleiss, pooled
/// variance under H0, no continuity correction).
pub(super) fn n_per_arm_proportions(p1: f64, p2: f64, alpha: f64, power: f64) -> f64 {
    let pbar = (p1 + p2) / 2.0;
    let za = z_quantile(1.0 - alpha / 2.0);
    let zb = z_quantile(power);
    let num =
        za * (2.0 * pbar * (1.0 - pbar)).sqrt() + zb * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    (num * num / ((p2 - p1) * (p2 - p1))).ceil()
}

/// Coefficient of variation of revenue per user when a share `p` converts and converters pay
/// amounts with coefficient of variation `price_cv`: CV² = (1 + price_cv²)/p − 1.
pub(super) fn rpu_cv(p: f64, price_cv: f64) -> f64 {
    ((1.0 + price_cv * price_cv) / p - 1.0).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ab_testing::boundaries::phi_cdf;

    /// Power of the two-sided z-test with `n` users per arm for a relative lift on a metric with
    /// coefficient of variation `cv` (normal approximation, far tail ignored).
    fn power_mean(cv: f64, lift: f64, alpha: f64, n: f64) -> f64 {
        let se = cv * (2.0 / n).sqrt();
        phi_cdf(lift.abs() / se - z_quantile(1.0 - alpha / 2.0))
    }

    #[test]
    fn sample_sizes_match_the_published_table() {
        // stats-anchors.md §1 (statsmodels TTestIndPower, two-sided α 0.05).
        for (cv, lift, power, want) in [
            (1.0, 0.10, 0.8, 1571.0),
            (3.0, 0.10, 0.8, 14129.0),
            (4.0, 0.10, 0.8, 25118.0),
            (5.0, 0.10, 0.8, 39246.0),
            (2.0, 0.05, 0.8, 25118.0),
            (3.0, 0.10, 0.9, 18915.0),
        ] {
            let t = n_per_arm_t(cv, lift, 0.05, power);
            assert!(
                (t - want).abs() <= 1.0,
                "cv {cv} lift {lift}: {t} vs {want}"
            );
            let z = n_per_arm_mean(cv, lift, 0.05, power);
            assert!((z - want).abs() <= 2.0, "normal form {z} vs {want}");
        }
    }

    #[test]
    fn proportions_match_fleiss() {
        // stats-anchors.md gives 49,776 and 13,014 (rounding of the last digit differs).
        assert!((n_per_arm_proportions(0.032, 0.0352, 0.05, 0.8) - 49776.0).abs() <= 1.0);
        assert!((n_per_arm_proportions(0.032, 0.0384, 0.05, 0.8) - 13014.0).abs() <= 1.0);
    }

    #[test]
    fn power_at_the_formula_n_is_the_target() {
        let n = n_per_arm_mean(3.0, 0.1, 0.05, 0.8);
        assert!((power_mean(3.0, 0.1, 0.05, n) - 0.8).abs() < 1e-3);
    }

    #[test]
    fn rpu_cv_lower_bound() {
        // A fixed price at 3.2% conversion already gives CV 5.5 (stats-anchors.md §1).
        assert!((rpu_cv(0.032, 0.0) - 5.5).abs() < 1e-9);
    }
}
