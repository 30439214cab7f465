//! Latency statistics of the load's samples: the baseline, during and after windows of a
//! migration, writes by backfill phase, and the worst latency over time.

use super::load::{Outcome, Sample};
use crate::migrations::real::RealParams;
use crate::real::KernelReport;
use crate::stats::value_at_quantile;

/// Latency statistics of the baseline, during and after windows.
pub(super) struct Windows {
    pub(super) baseline_p50: f64,
    pub(super) baseline_p99: f64,
    during_p50: f64,
    during_p99: f64,
    during_max: f64,
    pub(super) during_read_p99: f64,
    pub(super) during_write_p99: f64,
    during_n: usize,
    timeouts: usize,
    errors: usize,
    after_p99: f64,
}

impl Windows {
    pub(super) fn of(samples: &[Sample], t0: f64, t1: f64, p: &RealParams) -> Windows {
        let lat_of = |lo: f64, hi: f64, keep: &dyn Fn(&Sample) -> bool| -> Vec<f64> {
            let mut v: Vec<f64> = samples
                .iter()
                .filter(|s| s.at >= lo && s.at < hi && keep(s))
                .map(|s| {
                    if s.outcome == Outcome::Timeout {
                        s.latency_ms.max(p.client_timeout_ms)
                    } else {
                        s.latency_ms
                    }
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let lat = |lo: f64, hi: f64| lat_of(lo, hi, &|_| true);
        let q = value_at_quantile;
        let base = lat(t0 - p.baseline_s, t0);
        let during = lat(t0, t1.max(t0 + 1e-3));
        let after = lat(t1, t1 + p.after_s);
        let in_during = |s: &&Sample| s.at >= t0 && s.at < t1.max(t0 + 1e-3);
        Windows {
            baseline_p50: q(&base, 0.5),
            baseline_p99: q(&base, 0.99),
            during_p50: q(&during, 0.5),
            during_p99: q(&during, 0.99),
            during_max: during.last().copied().unwrap_or(f64::NAN),
            during_read_p99: q(&lat_of(t0, t1.max(t0 + 1e-3), &|s| !s.write), 0.99),
            during_write_p99: q(&lat_of(t0, t1.max(t0 + 1e-3), &|s| s.write), 0.99),
            during_n: during.len(),
            timeouts: samples
                .iter()
                .filter(in_during)
                .filter(|s| s.outcome == Outcome::Timeout)
                .count(),
            errors: samples
                .iter()
                .filter(in_during)
                .filter(|s| s.outcome != Outcome::Ok)
                .count(),
            after_p99: q(&after, 0.99),
        }
    }

    pub(super) fn report(&self, what: &str, r: &mut KernelReport) {
        r.set(format!("{what}_p50_ms_baseline"), self.baseline_p50, "ms");
        r.set(format!("{what}_p99_ms_baseline"), self.baseline_p99, "ms");
        r.set(format!("{what}_p50_ms_during"), self.during_p50, "ms");
        r.set(format!("{what}_p99_ms_during"), self.during_p99, "ms");
        r.set(format!("{what}_max_ms_during"), self.during_max, "ms");
        r.set(
            format!("{what}_read_p99_ms_during"),
            self.during_read_p99,
            "ms",
        );
        r.set(
            format!("{what}_write_p99_ms_during"),
            self.during_write_p99,
            "ms",
        );
        r.set(format!("{what}_p99_ms_after"), self.after_p99, "ms");
        r.set(
            format!("{what}_p99_inflation_pct"),
            (self.during_p99 / self.baseline_p99 - 1.0) * 100.0,
            "%",
        );
        r.set(
            format!("{what}_requests_during"),
            self.during_n as f64,
            "requests",
        );
        r.set(format!("{what}_timeouts"), self.timeouts as f64, "requests");
        // Shares of the requests sent during the migration, as counts: trials pool them.
        let n = self.during_n as u64;
        r.set_proportion(format!("{what}_timeout_fraction"), self.timeouts as u64, n);
        r.set_proportion(format!("{what}_error_fraction"), self.errors as u64, n);
    }
}

/// Latencies of successful writes sent while a batch ran, and of those sent between batches.
pub(super) fn writes_by_batch_phase(
    samples: &[Sample],
    batches: &[(f64, f64)],
) -> (Vec<f64>, Vec<f64>) {
    let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
        return (Vec::new(), Vec::new());
    };
    let (mut in_batch, mut in_sleep) = (Vec::new(), Vec::new());
    for s in samples
        .iter()
        .filter(|s| s.write && s.outcome == Outcome::Ok && s.at >= first.0 && s.at < last.1)
    {
        // Windows are in time order: the last one starting at or before the send.
        let i = batches.partition_point(|b| b.0 <= s.at);
        let running = i > 0 && s.at < batches[i - 1].1;
        if running {
            in_batch.push(s.latency_ms);
        } else {
            in_sleep.push(s.latency_ms);
        }
    }
    (in_batch, in_sleep)
}

/// The 99th percentile (nearest rank) of unsorted values; NaN when there are none.
pub(super) fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    value_at_quantile(&v, 0.99)
}

/// The worst latency per 0.5 s of scheduled time, relative to the migration's start.
pub(super) fn latency_curve(samples: &[Sample], t0: f64, p: &RealParams) -> Vec<(f64, f64)> {
    let mut buckets: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for s in samples {
        let l = if s.outcome == Outcome::Timeout {
            s.latency_ms.max(p.client_timeout_ms)
        } else {
            s.latency_ms
        };
        let b = ((s.at - t0) / 0.5).floor() as i64;
        let e = buckets.entry(b).or_insert(0.0);
        *e = e.max(l);
    }
    buckets
        .into_iter()
        .map(|(b, v)| (b as f64 * 0.5, v.max(0.01)))
        .collect()
}
