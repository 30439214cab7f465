//! Welch's two-sample t-test on replication means: does B's mean differ from A's when the two
//! sides may have different variances and sizes? `lab compare` calls it per metric; it takes
//! plain numbers so that any estimate (a room's, a summary's) can be tested.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::student_t_975;

/// One side of a two-sample test: the mean, sample standard deviation and count of its values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleMoments {
    /// Mean of the values.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator).
    pub std: f64,
    /// Number of values.
    pub n: u32,
}

/// The outcome of Welch's test of B against A.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Welch {
    /// Two-sided p-value of equal means (1 when both sides have no variance and equal means, 0
    /// when they have no variance and differ).
    pub p_value: f64,
    /// B's mean minus A's.
    pub diff: f64,
    /// Half-width of the 95% interval of `diff` (Welch–Satterthwaite degrees of freedom).
    pub ci95_half: f64,
}

/// Welch's two-sample test of `b` against `a`. A side with fewer than two values contributes no
/// variance.
pub fn welch(a: SampleMoments, b: SampleMoments) -> Welch {
    let diff = b.mean - a.mean;
    let va = if a.n > 1 {
        a.std * a.std / a.n as f64
    } else {
        0.0
    };
    let vb = if b.n > 1 {
        b.std * b.std / b.n as f64
    } else {
        0.0
    };
    let se = (va + vb).sqrt();
    if se == 0.0 || !se.is_finite() {
        return Welch {
            p_value: if diff == 0.0 { 1.0 } else { 0.0 },
            diff,
            ci95_half: 0.0,
        };
    }
    let dfa = (a.n.max(2) - 1) as f64;
    let dfb = (b.n.max(2) - 1) as f64;
    let df = (va + vb).powi(2) / (va * va / dfa + vb * vb / dfb);
    let df = if df.is_finite() && df > 0.0 { df } else { 1.0 };
    let t = diff / se;
    let p = match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => 2.0 * (1.0 - dist.cdf(t.abs())),
        Err(_) => 1.0,
    };
    Welch {
        p_value: p.clamp(0.0, 1.0),
        diff,
        ci95_half: student_t_975(df) * se,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(mean: f64, std: f64, n: u32) -> SampleMoments {
        SampleMoments { mean, std, n }
    }

    #[test]
    fn welch_matches_a_hand_computation() {
        // A: mean 10, sd 1, n 10; B: mean 11, sd 1, n 10 → t = 1/sqrt(0.2) = 2.236, df = 18,
        // two-sided p = 0.0382.
        let w = welch(side(10.0, 1.0, 10), side(11.0, 1.0, 10));
        assert!((w.diff - 1.0).abs() < 1e-12);
        assert!((w.p_value - 0.0382).abs() < 5e-4, "p = {}", w.p_value);
    }

    #[test]
    fn no_variance_means_certainty() {
        let w = welch(side(3.0, 0.0, 5), side(3.0, 0.0, 5));
        assert_eq!((w.p_value, w.ci95_half), (1.0, 0.0));
        assert_eq!(welch(side(3.0, 0.0, 5), side(4.0, 0.0, 5)).p_value, 0.0);
    }
}
