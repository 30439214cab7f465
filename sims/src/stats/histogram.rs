//! Latency distributions in an HdrHistogram (3 significant digits, auto-resizing).

use hdrhistogram::Histogram;

use crate::time::SimDuration;

/// Records durations in nanoseconds; reports quantiles in seconds.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    h: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram with 0.1% value resolution.
    pub fn new() -> LatencyHistogram {
        let mut h = Histogram::new(3).expect("3 significant digits is a valid precision");
        h.auto(true);
        LatencyHistogram { h }
    }

    /// Records one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        // Auto-resize makes recording infallible for any u64.
        let _ = self.h.record(d.0);
    }

    /// Recorded values.
    pub fn len(&self) -> u64 {
        self.h.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    /// The value at quantile `q` (q in [0, 1]) in seconds, 0 when empty.
    ///
    /// HdrHistogram reports the top of the bucket, biasing quantiles up by up to the bucket
    /// width; the bucket's middle value is returned instead so the error is centred.
    pub fn value_at_quantile_s(&self, q: f64) -> f64 {
        if self.h.is_empty() {
            return 0.0;
        }
        let v = self.h.value_at_quantile(q.clamp(0.0, 1.0));
        self.h.median_equivalent(v) as f64 / 1e9
    }

    /// Mean in seconds (from the buckets).
    pub fn mean_s(&self) -> f64 {
        self.h.mean() / 1e9
    }

    /// Largest value in seconds.
    pub fn max_s(&self) -> f64 {
        self.h.max() as f64 / 1e9
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        let _ = self.h.add(&other.h);
    }
}
