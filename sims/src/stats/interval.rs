//! Across replications: mean, sample standard deviation and a Student-t 95% interval.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A metric's estimate from independent replications.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Mean of the replication values.
    pub mean: f64,
    /// 95% confidence interval of the mean (Student t, n - 1 degrees of freedom).
    pub ci95: (f64, f64),
    /// Sample standard deviation across replications.
    pub std: f64,
    /// Number of replications.
    pub n: u32,
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95%).
pub fn student_t_975(df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(0.975),
        Err(_) => f64::INFINITY,
    }
}

impl Estimate {
    /// Estimates from replication values. With fewer than two values the interval is the
    /// single value itself and `n` says why it cannot be trusted.
    pub fn from_samples(xs: &[f64]) -> Estimate {
        let n = xs.len();
        if n == 0 {
            return Estimate {
                mean: 0.0,
                ci95: (0.0, 0.0),
                std: 0.0,
                n: 0,
            };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate {
                mean,
                ci95: (mean, mean),
                std: 0.0,
                n: 1,
            };
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        let half = student_t_975((n - 1) as f64) * std / (n as f64).sqrt();
        Estimate {
            mean,
            ci95: (mean - half, mean + half),
            std,
            n: n as u32,
        }
    }

    /// Standard error of the mean.
    pub fn std_error(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.std / (self.n as f64).sqrt()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantile_matches_tables() {
        // Standard tables: t_{0.975, 19} = 2.093, t_{0.975, 4} = 2.776.
        assert!((student_t_975(19.0) - 2.093).abs() < 1e-3);
        assert!((student_t_975(4.0) - 2.776).abs() < 1e-3);
    }

    #[test]
    fn interval_of_known_sample() {
        let e = Estimate::from_samples(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.mean, 3.0);
        assert!((e.std - 1.5811388).abs() < 1e-6);
        let half = 2.776445 * 1.5811388 / 5f64.sqrt();
        assert!((e.ci95.1 - (3.0 + half)).abs() < 1e-4);
    }

    #[test]
    fn single_value_has_degenerate_interval() {
        let e = Estimate::from_samples(&[7.0]);
        assert_eq!((e.n, e.ci95), (1, (7.0, 7.0)));
    }
}
