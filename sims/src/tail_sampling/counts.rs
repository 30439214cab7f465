//! What one replication counts (traces kept by kind, spans stored, losses, peaks)
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
    /// Error traces off the probe paths, and those kept.
    pub(super) business_error_traces: u64,
    pub(super) business_error_kept: u64,
    pub(super) slow_traces: u64,
    pub(super) slow_kept: u64,
    pub(super) probe_traces: u64,
    pub(super) probe_kept: u64,
    /// Traces that are neither errors, slow nor probes (the happy path), and those kept.
    pub(super) normal_traces: u64,
    pub(super) normal_kept: u64,
    /// Traces decided before their root span (the last to be exported) reached the collector.
    pub(super) decided_before_root: u64,
    pub(super) stored_spans: u64,
    pub(super) dropped_undecided: u64,
    /// Traces whose first spans were evicted before a decision (each trace counted once).
    pub(super) lost_traces: u64,
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
            if !m.probe {
                self.business_error_traces += 1;
                self.business_error_kept += kept as u64;
            }
        }
        if m.slow {
            self.slow_traces += 1;
            self.slow_kept += kept as u64;
        }
        if m.probe {
            self.probe_traces += 1;
            self.probe_kept += kept as u64;
        }
        if !(m.probe || m.slow || m.error_root || m.error_child) {
            self.normal_traces += 1;
            self.normal_kept += kept as u64;
        }
    }

    /// The replication's metrics, scaled to a day and a month from `p.sim_hours`.
    pub(super) fn report(&self, p: &TailSamplingParams) -> Outcome {
        let day = 24.0 / p.sim_hours;
        let mut out = Outcome::default();
        // The traffic itself is an input: rpm x 1,440 minutes, one trace per request.
        out.set("traces_per_day", p.rpm * 1440.0);
        out.set("stored_traces_per_day", self.kept as f64 * day);
        out.set(
            "normal_stored_traces_per_day",
            self.normal_kept as f64 * day,
        );
        out.set_proportion("kept_fraction", self.kept, self.traces);
        out.set_proportion(
            "decided_before_root_fraction",
            self.decided_before_root.min(self.traces),
            self.traces,
        );
        if self.normal_traces > 0 {
            out.set_proportion(
                "normal_traces_kept_fraction",
                self.normal_kept,
                self.normal_traces,
            );
        }
        if self.error_traces > 0 {
            out.set_proportion(
                "error_traces_kept_fraction",
                self.error_kept,
                self.error_traces,
            );
        }
        if self.business_error_traces > 0 {
            out.set_proportion(
                "business_error_traces_kept_fraction",
                self.business_error_kept,
                self.business_error_traces,
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
        out.set_proportion(
            "dropped_undecided_fraction",
            self.lost_traces.min(self.traces),
            self.traces,
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
        let logs = p.log_gb_month * p.storage_usd_per_gb_month;
        out.set("log_usd_month", logs);
        let total = storage + logs;
        out.set("total_usd_month", total);
        // The vendor is billed on every span the services emit (no tail sampling in front),
        // 30-day month: an input product, rpm x minutes x mean spans per trace x price
        // (probes are one span, business traces `spans_per_trace` on average).
        let spans_per_trace = p.probe_share + (1.0 - p.probe_share) * p.spans_per_trace;
        let vendor = p.rpm * 1440.0 * 30.0 * spans_per_trace / 1e6 * p.vendor_usd_per_million_spans;
        out.set("vendor_usd_month", vendor);
        if vendor > 0.0 {
            out.set("cost_ratio", total / vendor);
        }
        out
    }
}
