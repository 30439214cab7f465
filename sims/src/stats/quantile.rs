//! Quantiles of a sorted sample.
//!
//! The nearest-rank definition: the value at quantile q of n sorted values is the
//! ⌈n·q⌉-th smallest (1-based, clamped to 1..=n), so the result is always one of the values,
//! never an interpolation. The name says the scale (q in [0, 1]), as in HdrHistogram's
//! `value_at_quantile`.

/// The value at quantile `q` (q in [0, 1]) of `sorted` (ascending), by nearest rank: the
/// ⌈n·q⌉-th smallest value, clamped to the first and last; NaN when `sorted` is empty.
pub fn value_at_quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        f64::NAN
    } else {
        sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::value_at_quantile;

    #[test]
    fn nearest_rank_of_a_hundred_values() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(value_at_quantile(&v, 0.5), 50.0);
        assert_eq!(value_at_quantile(&v, 0.99), 99.0);
        assert_eq!(value_at_quantile(&v, 0.991), 100.0);
        assert_eq!(value_at_quantile(&v, 1.0), 100.0);
    }

    #[test]
    fn ends_clamp_to_the_first_and_last_value() {
        let v = [2.0, 3.0, 5.0];
        assert_eq!(value_at_quantile(&v, 0.0), 2.0);
        assert_eq!(value_at_quantile(&v, 1.0), 5.0);
        assert_eq!(value_at_quantile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn never_interpolates() {
        // Even count: the median is the lower middle value, not the mean of the two.
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(value_at_quantile(&v, 0.5), 2.0);
        assert_eq!(value_at_quantile(&v, 0.51), 3.0);
        // Odd count: the middle value.
        assert_eq!(value_at_quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
    }

    #[test]
    fn empty_is_nan() {
        assert!(value_at_quantile(&[], 0.5).is_nan());
    }
}
