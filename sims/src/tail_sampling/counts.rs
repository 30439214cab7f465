//! What one replication counts (traces kept by kind, spans stored and ingested, losses, peaks)
//! and the metrics it reports from them.

use super::ids::Meta;
use super::params::TailSamplingParams;
use crate::simulation::Outcome;

/// Counters of one replication.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) traces: u64,
    pub(super) kept: u64,
    pub(super) error_traces: u64,
    pub(super) error_kept: u64,
    pub(super) slow_traces: u64,
    pub(super) slow_kept: u64,
    pub(super) probe_traces: u64,
    pub(super) probe_kept: u64,
    pub(super) stored_spans: u64,
    pub(super) ingested_spans: u64,
    pub(super) dropped_undecided: u64,
    pub(super) fragments: u64,
    pub(super) peak_pending: u64,
    pub(super) peak_buffer_spans: u64,
    /// Pending traces and buffered spans at the end of the simulated window.
    pub(super) end_pending: Option<(u64, u64)>,
}

impl Counts {
    /// Counts a trace whose root has been decided: kept or not.
    pub(super) fn outcome(&mut self, m: &Meta, kept: bool) {
        self.traces += 1;
        self.kept += kept as u64;
        if m.error_root || m.error_child {
            self.error_traces += 1;
            self.error_kept += kept as u64;
        }
        if m.slow {
            self.slow_traces += 1;
            self.slow_kept += kept as u64;
        }
        if m.probe {
            self.probe_traces += 1;
            self.probe_kept += kept as u64;
        }
    }

    /// The replication's metrics, scaled to a day and a month from `p.sim_hours`.
    pub(super) fn report(&self, p: &TailSamplingParams) -> Outcome {
        let day = 24.0 / p.sim_hours;
        let mut out = Outcome::default();
        out.set("traces_per_day", self.traces as f64 * day);
        out.set("stored_traces_per_day", self.kept as f64 * day);
        out.set_proportion("kept_fraction", self.kept, self.traces);
        if self.error_traces > 0 {
            out.set_proportion(
                "error_traces_kept_fraction",
                self.error_kept,
                self.error_traces,
            );
        }
        if self.slow_traces > 0 {
            out.set_proportion(
                "slow_traces_kept_fraction",
                self.slow_kept,
                self.slow_traces,
            );
        }
        if self.probe_traces > 0 {
            out.set_proportion(
                "health_traces_kept_fraction",
                self.probe_kept,
                self.probe_traces,
            );
        }
        // Per simulated day: the exposure is the window in days.
        let days = p.sim_hours / 24.0;
        out.set_rate(
            "dropped_undecided_per_day",
            self.dropped_undecided,
            days,
            1.0,
        );
        out.set_rate("fragment_traces_per_day", self.fragments, days, 1.0);
        out.set("peak_pending_traces", self.peak_pending as f64);
        out.set(
            "peak_buffer_mb",
            self.peak_buffer_spans as f64 * p.buffer_bytes_per_span / 1e6,
        );
        let (end_pending, end_spans) = self.end_pending.unwrap_or((0, 0));
        out.set("pending_traces_at_end", end_pending as f64);
        out.set(
            "buffer_mb_at_end",
            end_spans as f64 * p.buffer_bytes_per_span / 1e6,
        );
        let stored_spans_day = self.stored_spans as f64 * day;
        let gb_month = stored_spans_day * p.stored_bytes_per_span * p.retention_days / 1e9;
        out.set("stored_spans_per_day", stored_spans_day);
        out.set("stored_gb_month", gb_month);
        let storage = gb_month * p.storage_usd_per_gb_month;
        out.set("storage_usd_month", storage);
        let total = (gb_month + p.log_gb_month) * p.storage_usd_per_gb_month;
        out.set("total_usd_month", total);
        // The vendor is billed on every span ingested (no tail sampling in front), 30-day month.
        let vendor = self.ingested_spans as f64 * day * 30.0 / 1e6 * p.vendor_usd_per_million_spans;
        out.set("vendor_usd_month", vendor);
        if vendor > 0.0 {
            out.set("cost_ratio", total / vendor);
        }
        out
    }
}
