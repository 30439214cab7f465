//! The roofline of one step (decode or prefill) of an INT4 model on a phone-class GPU, the lanes
//! a workgroup shape leaves idle on a wave of the family's width, and the crossings a token pays.
//!
//! * Lanes: a workgroup of `wg_x x wg_y` invocations runs as waves of `W` consecutive linear
//!   invocation ids (`x + y·wg_x`). A wave with no lane that has work retires at once (a bounds
//!   check); a wave with some pays for all `W` lanes. `lane_utilization` is the share of the
//!   running waves' lanes that have work.
//! * Bandwidth (Little's law): the loads in flight are `resident_lanes · utilization ·
//!   loads_in_flight_per_lane · load_bytes`; over the DRAM latency that is a rate, capped at
//!   `bw_efficiency · mem_bw_gbps`. Idle lanes matter only once too few loads are in flight.
//! * Compute: 2 FLOP per parameter per token at `fp32_tflops` (x `f16_speedup` for f16) x
//!   `compute_efficiency` x utilization. A step takes the larger of weight streaming (weights
//!   read once per step) and compute.
//! * Crossings: `1` per token (`single`) or `layers x crossings_per_layer` (`per_layer`), each a
//!   bridge round trip plus a `mapAsync` readback, both log-normal around their medians, paid
//!   while the GPU waits.

use super::params::{Dispatch, Mapping, WebgpuParams};

/// The workgroup shapes the article's advice and the sweep compare.
pub const SHAPES: [(u32, u32); 5] = [(4, 4), (8, 8), (16, 16), (64, 1), (256, 1)];

/// Useful lanes and lanes paid for (`W` per running wave) in one workgroup whose first
/// `rows_with_work` rows (`y`) have work.
fn lanes(wg_x: u32, wg_y: u32, wave: u32, rows_with_work: u32) -> (u64, u64) {
    let size = u64::from(wg_x) * u64::from(wg_y);
    let useful_ids = u64::from(wg_x) * u64::from(rows_with_work.min(wg_y));
    let w = u64::from(wave);
    // Useful ids are the prefix [0, useful_ids): the waves that hold any are the first
    // ceil(useful_ids / W), each paying for W lanes.
    let waves = useful_ids.div_ceil(w).min(size.div_ceil(w));
    (useful_ids, waves * w)
}

/// Share of the running waves' lanes that have work, for `tokens` tokens.
pub fn lane_utilization(wg_x: u32, wg_y: u32, wave: u32, mapping: Mapping, tokens: u32) -> f64 {
    match mapping {
        Mapping::Flat => {
            let size = u64::from(wg_x) * u64::from(wg_y);
            let w = u64::from(wave);
            size as f64 / (size.div_ceil(w) * w) as f64
        }
        Mapping::Article2d => {
            let full = tokens / wg_y;
            let rest = tokens % wg_y;
            let (mut useful, mut paid) = (0u64, 0u64);
            if full > 0 {
                let (u, p) = lanes(wg_x, wg_y, wave, wg_y);
                useful += u * u64::from(full);
                paid += p * u64::from(full);
            }
            if rest > 0 {
                let (u, p) = lanes(wg_x, wg_y, wave, rest);
                useful += u;
                paid += p;
            }
            useful as f64 / paid as f64
        }
    }
}

/// The step's figures that need no sampling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Weight bytes read per step, GB.
    pub weights_gb: f64,
    /// Weights over peak bandwidth, ms.
    pub bandwidth_floor_ms: f64,
    /// Lane utilization of this shape.
    pub utilization: f64,
    /// Weight streaming rate this shape reaches, GB/s.
    pub achieved_gbps: f64,
    /// Arithmetic at the utilization's share of the compute rate, ms.
    pub compute_ms: f64,
    /// The step's GPU time: max(streaming, compute), ms.
    pub gpu_ms: f64,
}

/// The GPU time of one step with workgroup `(wg_x, wg_y)`.
pub fn step(p: &WebgpuParams, wg_x: u32, wg_y: u32) -> Step {
    let weights_gb = p.params_b * p.bits_per_weight / 8.0;
    let bandwidth_floor_ms = weights_gb / p.mem_bw_gbps * 1e3;
    let utilization = lane_utilization(wg_x, wg_y, p.wave(), p.mapping, p.tokens);
    // bytes / ns = GB/s
    let in_flight =
        f64::from(p.resident_lanes) * utilization * p.loads_in_flight_per_lane * p.load_bytes;
    let achieved_gbps = (in_flight / p.mem_latency_ns).min(p.bw_efficiency * p.mem_bw_gbps);
    let tflops = p.fp32_tflops
        * if p.f16 { p.f16_speedup } else { 1.0 }
        * p.compute_efficiency
        * utilization;
    let gflop = 2.0 * p.params_b * f64::from(p.tokens);
    let compute_ms = gflop / tflops; // GFLOP / TFLOP/s = ms
    let stream_ms = weights_gb / achieved_gbps * 1e3;
    Step {
        weights_gb,
        bandwidth_floor_ms,
        utilization,
        achieved_gbps,
        compute_ms,
        gpu_ms: stream_ms.max(compute_ms),
    }
}

/// Bridge crossings per token.
pub fn crossings(p: &WebgpuParams) -> u32 {
    match p.dispatch {
        Dispatch::Single => 1,
        Dispatch::PerLayer => p.layers * p.crossings_per_layer,
    }
}

/// The expected cost of one crossing, ms: the log-normal means of bridge and readback.
pub fn crossing_mean_ms(p: &WebgpuParams) -> f64 {
    (p.bridge_ms + p.readback_ms) * (p.crossing_sigma.powi(2) / 2.0).exp()
}

/// The five shapes' GPU times: (slowest, fastest), ms.
pub fn shape_range(p: &WebgpuParams) -> (f64, f64) {
    SHAPES
        .iter()
        .fold((0.0f64, f64::INFINITY), |(hi, lo), &(x, y)| {
            let t = step(p, x, y).gpu_ms;
            (hi.max(t), lo.min(t))
        })
}
