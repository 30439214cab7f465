//! The hardware model: decode step time per batch size, prefill cost per token, and how many
//! tokens of KV cache a replica holds once its weights are loaded.
//!
//! The H100 curves are the measured medians of `datasets/gpu-serving/h100-llm-calibration.jsonl`
//! (CUDA-graph decode steps at KV length 1024, bf16). A100 curves are the H100 curve scaled by
//! datasheet figures: decode reads every weight and the whole KV cache per step, so it is bound
//! by memory bandwidth (time × H100 bandwidth / A100 bandwidth), never faster than the FLOPs at
//! peak allow; prefill is bound by compute (2 × parameters FLOPs per token at `prefill_mfu` of
//! peak). At batch 256 the llama8b step reads 16 GB of weights plus 34 GB of KV cache but needs
//! only 4 TFLOP, so the compute bound never binds for decode on these cards.

use super::params::{GpuServingParams, ModelShape, Profile, Sharing};

/// NVIDIA H100 SXM5 80GB datasheet: 3.35 TB/s HBM3, 989.4 TFLOPS dense BF16 (1,979 sparse).
const H100: Card = Card {
    mem_gb: 80.0,
    bw_gbps: 3350.0,
    tflops: 989.4,
};
/// NVIDIA A100 SXM4 80GB datasheet: 2,039 GB/s HBM2e, 312 TFLOPS dense BF16 (624 sparse).
const A100_80GB: Card = Card {
    mem_gb: 80.0,
    bw_gbps: 2039.0,
    tflops: 312.0,
};
/// NVIDIA A100 SXM4 40GB datasheet: 1,555 GB/s HBM2, 312 TFLOPS dense BF16.
const A100_40GB: Card = Card {
    mem_gb: 40.0,
    bw_gbps: 1555.0,
    tflops: 312.0,
};

struct Card {
    mem_gb: f64,
    bw_gbps: f64,
    tflops: f64,
}

/// A model shape: parameters, weight bytes, KV bytes per token, measured H100 decode curve,
/// and the time-slicing overhead measured with it.
pub(super) struct Shape {
    pub params: f64,
    pub weights_gb: f64,
    /// 2 (K and V) × layers × KV heads × head dim × 2 bytes.
    pub kv_bytes_per_token: f64,
    /// (batch, ms) at KV length 1024 on the H100.
    pub h100_curve: &'static [(f64, f64)],
    pub timeslice_overhead: f64,
}

/// Llama-3-8B shape (dataset README): 32 layers, 8 KV heads of dim 128.
pub(super) const LLAMA8B: Shape = Shape {
    params: 8_030_257_152.0,
    weights_gb: 16.060514304,
    kv_bytes_per_token: 2.0 * 32.0 * 8.0 * 128.0 * 2.0,
    h100_curve: &[
        (1.0, 6.828127861022949),
        (2.0, 6.971263885498047),
        (4.0, 7.138912200927734),
        (8.0, 7.255392074584961),
        (16.0, 7.6908159255981445),
        (32.0, 8.446816444396973),
        (64.0, 10.029984474182129),
        (128.0, 13.453120231628418),
        (256.0, 20.36182403564453),
    ],
    // Calibration `timeslice` rows: 145.08 tok/s alone, 135.11 with 4 processes (batch 1).
    timeslice_overhead: 145.07945409508235 / 135.1149270130595 - 1.0,
};

/// Qwen2.5-0.5B shape (dataset README): 24 layers, 2 KV heads of dim 64 (896 / 14).
pub(super) const QWEN05B: Shape = Shape {
    params: 630_138_880.0,
    weights_gb: 1.26027776,
    kv_bytes_per_token: 2.0 * 24.0 * 2.0 * 64.0 * 2.0,
    h100_curve: &[
        (1.0, 1.4786560535430908),
        (8.0, 1.6152960062026978),
        (64.0, 1.9377599954605103),
        (256.0, 3.08351993560791),
    ],
    // h100-timeslice.jsonl `saturated`: 683.67 tok/s alone, 714.36 with 2 processes: sharing
    // fills the gaps a single process leaves, a negative overhead.
    timeslice_overhead: 683.670968196666 / 714.3563228576262 - 1.0,
};

impl ModelShape {
    pub(super) fn shape(self) -> &'static Shape {
        match self {
            ModelShape::Llama8b => &LLAMA8B,
            ModelShape::Qwen05b => &QWEN05B,
        }
    }
}

/// How one GPU is cut into serving processes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Layout {
    /// Serving processes on the GPU.
    pub units: u32,
    /// Sequences one process runs at once at most.
    pub max_seqs: u32,
    /// KV-cache tokens one process holds.
    pub kv_tokens: u64,
}

/// Step times, prefill cost and memory for one profile and model.
#[derive(Clone, Debug)]
pub(super) struct Hardware {
    /// Step time in ms by batch size, index = batch (index 0 unused).
    step_ms: Vec<f64>,
    /// The curve itself, for batches beyond the table.
    curve: Vec<(f64, f64)>,
    pub prefill_ms_per_token: f64,
    pub mem_gb: f64,
    pub weights_gb: f64,
    pub kv_bytes_per_token: f64,
    pub overhead: f64,
}

impl Hardware {
    /// The hardware the parameters describe (validated parameters only).
    pub(super) fn new(p: &GpuServingParams) -> Hardware {
        let shape = p.model.shape();
        let (curve, card): (Vec<(f64, f64)>, &Card) = match p.profile {
            Profile::H100 => (shape.h100_curve.to_vec(), &H100),
            Profile::A100_80gb => (scale(shape, &A100_80GB), &A100_80GB),
            Profile::A100_40gb => (scale(shape, &A100_40GB), &A100_40GB),
            // A measured curve stands as given; memory and prefill default to the H100's.
            Profile::Custom => (
                p.step_ms_by_batch.iter().map(|[b, ms]| (*b, *ms)).collect(),
                &H100,
            ),
        };
        let prefill = p
            .prefill_ms_per_token
            .unwrap_or(2.0 * shape.params / (card.tflops * 1e12 * p.prefill_mfu) * 1e3);
        let table_len = p.max_batch.max(1) as usize + 1;
        let mut step_ms = vec![0.0; table_len];
        for (b, slot) in step_ms.iter_mut().enumerate().skip(1) {
            *slot = interpolate(&curve, b as f64);
        }
        Hardware {
            step_ms,
            curve,
            prefill_ms_per_token: prefill,
            mem_gb: p.gpu_mem_gb.unwrap_or(card.mem_gb),
            weights_gb: shape.weights_gb,
            kv_bytes_per_token: shape.kv_bytes_per_token,
            overhead: p.timeslice_overhead.unwrap_or(shape.timeslice_overhead),
        }
    }

    /// Decode step time for `batch` sequences, ms (batch 0 counts as 1: the weights are read).
    #[inline]
    pub(super) fn step_ms(&self, batch: u32) -> f64 {
        let b = batch.max(1) as usize;
        match self.step_ms.get(b) {
            Some(ms) => *ms,
            None => interpolate(&self.curve, b as f64),
        }
    }

    /// The serving processes of one GPU: `replicas` time-sliced processes, each with
    /// 1/`replicas` of the usable memory, or one batching process. `None` when a process
    /// cannot hold its weights plus one sequence of `max_context_tokens`.
    pub(super) fn layout(
        &self,
        p: &GpuServingParams,
        sharing: Sharing,
        replicas: u32,
    ) -> Option<Layout> {
        let units = match sharing {
            Sharing::TimeSlice => replicas,
            Sharing::Batching => 1,
        };
        let per_process_gb = self.mem_gb * p.mem_utilization / units as f64;
        let kv_gb = per_process_gb - self.weights_gb - p.cuda_context_gb;
        if kv_gb <= 0.0 {
            return None;
        }
        let kv_tokens = (kv_gb * 1e9 / self.kv_bytes_per_token).floor() as u64;
        (kv_tokens >= p.max_context_tokens as u64).then_some(Layout {
            units,
            max_seqs: p.max_batch,
            kv_tokens,
        })
    }
}

/// The H100 curve moved to another card: bandwidth-bound, floored by the compute time at peak.
fn scale(shape: &Shape, card: &Card) -> Vec<(f64, f64)> {
    let ratio = H100.bw_gbps / card.bw_gbps;
    shape
        .h100_curve
        .iter()
        .map(|&(b, ms)| {
            let compute_ms = b * 2.0 * shape.params / (card.tflops * 1e12) * 1e3;
            (b, (ms * ratio).max(compute_ms))
        })
        .collect()
}

/// Piecewise-linear in batch; flat below the first point, the last segment's slope above.
fn interpolate(curve: &[(f64, f64)], b: f64) -> f64 {
    let n = curve.len();
    if n == 1 || b <= curve[0].0 {
        return curve[0].1;
    }
    for w in curve.windows(2) {
        let ((b0, t0), (b1, t1)) = (w[0], w[1]);
        if b <= b1 {
            return t0 + (t1 - t0) * (b - b0) / (b1 - b0);
        }
    }
    let ((b0, t0), (b1, t1)) = (curve[n - 2], curve[n - 1]);
    t1 + (t1 - t0).max(0.0) / (b1 - b0) * (b - b1)
}
