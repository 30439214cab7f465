//! One replication: the probes, the cost model, then the cluster's run and the metrics it
//! reports. The cluster's state and event loop are in `cluster.rs`, where requests go in
//! `routing.rs`, the pod controller in `pods.rs`.

use super::cluster::Cluster;
use super::cost::CostModel;
use super::hardware::Hardware;
use super::params::{GpuServingParams, Sharing};
use super::probe;
use super::workload::mix_mean_tokens;
use crate::des::RngStreams;
use crate::simulation::{Outcome, RunError};
use crate::stats::LatencyHistogram;

/// Runs one replication.
pub(super) fn run(p: &GpuServingParams, streams: &RngStreams) -> Result<Outcome, RunError> {
    let hw = Hardware::new(p);
    let mut out = Outcome::default();
    let layout = hw.layout(p, p.sharing, p.replicas);
    let mix_tokens = mix_mean_tokens(p);
    out.set(
        "max_batch_per_replica",
        layout.map_or(0.0, |l| {
            (l.max_seqs as f64).min((l.kv_tokens as f64 / mix_tokens).floor())
        }),
    );
    tenant_metrics(p, &hw, &mut out);

    let start_hour = p.start_hour.unwrap_or(p.peak_hour);
    let volume = p.monthly_requests;
    let capacity_per_gpu = layout.map_or(0.0, |l| probe::capacity(p, &hw, l, streams));
    if capacity_per_gpu <= 0.0 {
        // Nothing can be served: no capacity, no self-hosted price, no latencies.
        out.set(
            "api_usd_month",
            CostModel::new(p, 1.0, start_hour).api(volume),
        );
        for m in [
            "capacity_rps",
            "capacity_vs_batching",
            "gpu_utilization",
            "throughput_rps",
            "p2_throughput_rps",
        ] {
            out.set(m, 0.0);
        }
        return Ok(out);
    }
    let layout = layout.expect("capacity > 0 needs a layout");

    let cost = CostModel::new(p, capacity_per_gpu, start_hour);
    let self_hosted = cost.self_hosted(volume);
    let api = cost.api(volume);
    out.set("self_hosted_usd_month", self_hosted);
    out.set("api_usd_month", api);
    out.set("savings_usd_month", api - self_hosted);
    if api > 0.0 {
        out.set("savings_fraction", (api - self_hosted) / api);
    }
    if let Some(v) = cost.breakeven() {
        out.set("breakeven_requests_month", v);
    }
    out.set("self_hosted_scale_exponent", cost.scale_exponent(volume));
    out.set("gpus_provisioned", cost.gpus_peak(volume) as f64);
    let gpus = if p.autoscale {
        cost.gpus_at_start(volume)
    } else {
        cost.gpus_peak(volume)
    };
    let capacity = capacity_per_gpu * gpus as f64;
    out.set("capacity_rps", capacity);
    let batching_capacity = if layout.units > 1 {
        hw.layout(p, Sharing::Batching, 1)
            .map_or(0.0, |l| probe::capacity(p, &hw, l, streams))
    } else {
        capacity_per_gpu
    };
    if batching_capacity > 0.0 {
        out.set("capacity_vs_batching", capacity_per_gpu / batching_capacity);
    }

    let mut cluster = Cluster::new(p, &hw, layout, gpus, start_hour, streams);
    cluster.run(capacity)?;
    cluster.report(capacity, &mut out);
    Ok(out)
}

/// The tenant probe at `replicas` tenants against one tenant alone.
fn tenant_metrics(p: &GpuServingParams, hw: &Hardware, out: &mut Outcome) {
    let tokens = p.tenant_request_tokens;
    let solo_s = tokens as f64 * hw.step_ms(1) / 1e3;
    let idle_s = solo_s * (1.0 - p.tenant_duty) / p.tenant_duty;
    let Some(alone) = probe::tenants(p, hw, p.sharing, 1, tokens, idle_s) else {
        return;
    };
    match probe::tenants(p, hw, p.sharing, p.replicas, tokens, idle_s) {
        Some(shared) => {
            let gain = shared.tokens_per_s / alone.tokens_per_s;
            out.set("tenant_token_gain", gain);
            out.set(
                "tenant_latency_stretch",
                shared.latency_mean_s / alone.latency_mean_s,
            );
            out.set("cost_cut_vs_dedicated", 1.0 - 1.0 / gain);
        }
        // The tenants' processes do not fit in the GPU's memory: none of them serves.
        None => out.set("tenant_token_gain", 0.0),
    }
}

impl Cluster<'_> {
    /// The measurement window's latencies, throughput, utilisation and losses into `out`.
    fn report(&mut self, capacity: f64, out: &mut Outcome) {
        let end = self.end;
        // Requests still open at the end count with their age so far (a lower bound), so an
        // overloaded class cannot look fast by never finishing.
        for q in self
            .reqs
            .iter()
            .filter(|q| q.alive && q.measured && q.class < 2)
        {
            let c = q.class as usize;
            let age = end.since(q.arrived);
            if !q.first {
                self.w.ttft[c].push(age.as_secs_f64());
                self.w.ttft_hist[c].record(age);
            }
            self.w.e2e[c].push(age.as_secs_f64());
            self.w.e2e_hist[c].record(age);
        }
        let w = &self.w;
        let ms = |h: &LatencyHistogram| h.value_at_quantile_s(0.99) * 1e3;
        if w.ttft[0].count() > 0 {
            out.set("p0_latency_p99_ms", ms(&w.ttft_hist[0]));
            out.set("p0_latency_mean_ms", w.ttft[0].mean() * 1e3);
        }
        if w.e2e[0].count() > 0 {
            out.set("p0_e2e_p99_ms", ms(&w.e2e_hist[0]));
            out.set("p0_e2e_mean_ms", w.e2e[0].mean() * 1e3);
        }
        if w.ttft[1].count() > 0 {
            out.set("p1_latency_p99_ms", ms(&w.ttft_hist[1]));
        }
        if w.e2e[1].count() > 0 {
            out.set("p1_e2e_p99_ms", ms(&w.e2e_hist[1]));
        }
        let window_s = end.since(self.warm_end).as_secs_f64();
        let hours = window_s / 3600.0;
        let total: u64 = w.completions.iter().sum();
        let throughput = total as f64 / window_s;
        out.set("throughput_rps", throughput);
        out.set("p2_throughput_rps", w.completions[2] as f64 / window_s);
        out.set("capacity_used_fraction", throughput / capacity);
        let gpus = self.engine.gpu_count();
        // A share of time: summing GPUs busy all along can land a rounding error above 1.
        out.set(
            "gpu_utilization",
            ((0..gpus)
                .map(|g| self.engine.busy_mean(g, end))
                .sum::<f64>()
                / gpus as f64)
                .clamp(0.0, 1.0),
        );
        out.set("preemptions_per_hour", w.preemptions as f64 / hours);
        out.set("pod_preemptions_per_hour", w.pod_evictions as f64 / hours);
        out.set(
            "lost_work_fraction",
            if w.p2_processed > 0 {
                w.p2_lost as f64 / w.p2_processed as f64
            } else {
                0.0
            },
        );
        out.set_proportion("quota_rejected_fraction", w.rejected, w.open_arrivals);
    }
}
