//! claimlab's WebGPU kernel: WGSL INT4-packed matrix-vector (decode) and matrix-matrix
//! (prefill) products run through `wgpu` on whatever adapter the machine has (Mesa's lavapipe on
//! a CPU-only box, a real GPU's Vulkan driver elsewhere), checked against a CPU reference on
//! fresh random inputs every run, with a workgroup sweep and dispatch-structure experiments.
//!
//! Two layers:
//! * Always built (pure Rust): the WGSL sources ([`wgsl`]), the packed-weight layout and the CPU
//!   reference ([`reference`]), and every option and result type.
//! * With the `gpu` feature (compiles `wgpu`, Vulkan backend only): [`adapters`] and
//!   [`measure`]. Without it they return [`KernelError::NotBuilt`].
//!
//! Layout: weights `N x K` packed 8 nibbles per `u32` (nibble `j` of word `k8` is element
//! `8·k8 + j`, value `(q - 8) · scale`), one f32 scale per group of 32 along K, activations
//! `M x K` (f32 or f16), output `M x N` f32, f32 accumulation.

#![warn(missing_docs)]

pub mod dataset;
pub mod reference;
pub mod sustained;
pub mod wgsl;

#[cfg_attr(feature = "gpu", path = "gpu.rs")]
#[cfg_attr(not(feature = "gpu"), path = "disabled.rs")]
mod imp;

use serde::{Deserialize, Serialize};

pub use wgsl::{Act, Mapping};

/// Whether this build can measure (the `gpu` feature was on).
pub const GPU_BUILT: bool = cfg!(feature = "gpu");

/// Why a kernel call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    /// This build lacks the `gpu` feature.
    #[error("lab was built without the `gpu` feature (wgpu)")]
    NotBuilt,
    /// No adapter: no Vulkan loader or driver (install mesa-vulkan-drivers for lavapipe).
    #[error("no wgpu adapter: {0}")]
    NoAdapter(String),
    /// An option is out of range.
    #[error("{0}")]
    Invalid(String),
    /// wgpu reported an error (device request, validation, mapping).
    #[error("wgpu: {0}")]
    Wgpu(String),
}

/// An adapter as `lab hw` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterDesc {
    /// `Vulkan`, `Metal`, `Dx12`, `Gl`.
    pub backend: String,
    /// The adapter's name (`llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// `Cpu`, `IntegratedGpu`, `DiscreteGpu`, ...
    pub device_type: String,
    /// Driver and its version.
    pub driver: String,
    /// Smallest and largest subgroup (wave) size.
    pub subgroup_sizes: (u32, u32),
    /// `shader-f16` is supported.
    pub shader_f16: bool,
    /// The `subgroups` feature is supported.
    pub subgroups: bool,
    /// `maxComputeInvocationsPerWorkgroup`.
    pub max_invocations_per_workgroup: u32,
    /// `maxComputeWorkgroupSizeX`.
    pub max_workgroup_size_x: u32,
    /// `maxComputeWorkgroupSizeY`.
    #[serde(default)]
    pub max_workgroup_size_y: u32,
    /// `maxComputeWorkgroupSizeZ`.
    #[serde(default)]
    pub max_workgroup_size_z: u32,
    /// `maxComputeWorkgroupStorageSize`, bytes.
    #[serde(default)]
    pub max_workgroup_storage_bytes: u32,
    /// `maxComputeWorkgroupsPerDimension`.
    pub max_workgroups_per_dimension: u32,
    /// `maxStorageBufferBindingSize`, bytes.
    pub max_storage_binding_bytes: u64,
}

impl AdapterDesc {
    /// One line: backend, name, type, subgroup sizes, f16, key limits.
    pub fn line(&self) -> String {
        format!(
            "{} \"{}\" ({}, {}) subgroup {}-{}, shader-f16 {}, subgroups {}, max invocations/workgroup {}, max workgroup x {}, max workgroups/dim {}, max storage binding {} MiB",
            self.backend,
            self.name,
            self.device_type,
            self.driver,
            self.subgroup_sizes.0,
            self.subgroup_sizes.1,
            if self.shader_f16 { "yes" } else { "no" },
            if self.subgroups { "yes" } else { "no" },
            self.max_invocations_per_workgroup,
            self.max_workgroup_size_x,
            self.max_workgroups_per_dimension,
            self.max_storage_binding_bytes / (1 << 20),
        )
    }
}

/// What to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Seeds the random weights and activations (fresh per run: the caller mixes in the time).
    pub seed: u64,
    /// Timed repeats per configuration (after one warm-up).
    pub trials: u32,
    /// Matvec (decode) size: `N x K`, one token.
    pub matvec_nk: (u32, u32),
    /// Matmul (prefill) size: `M x N x K`.
    pub matmul_mnk: (u32, u32, u32),
    /// Workgroup shapes swept.
    pub shapes: Vec<(u32, u32)>,
    /// Also sweep the shapes sized to the adapter's subgroup: `(min, 1)` and `(max, 1)` (and
    /// `(4·min, 1)`), read from the adapter, when not already in `shapes`.
    pub subgroup_shapes: bool,
    /// Mappings swept.
    pub mappings: Vec<Mapping>,
    /// Layer chain for the dispatch experiments: sizes (one run each) and layers.
    pub chain_dims: Vec<u32>,
    /// Layers in the chain.
    pub chain_layers: u32,
    /// Timed repeats of each dispatch structure.
    pub chain_trials: u32,
    /// Outputs compared with the CPU reference per configuration (sampled).
    pub checked_outputs: u32,
}

/// One configuration's check against the CPU reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `matvec f16 flat (64,1)`.
    pub label: String,
    /// Outputs compared.
    pub n: u32,
    /// Largest |gpu - cpu| / sum_k |w_k x_k| (scale-free; 0 when both do the same f32 sums).
    pub max_rel_error: f64,
}

/// One row of the workgroup sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// `matvec` or `matmul`.
    pub op: String,
    /// Activation type.
    pub act: Act,
    /// Mapping.
    pub mapping: Mapping,
    /// Workgroup `(x, y)`.
    pub shape: (u32, u32),
    /// Wall time of submit + wait per trial, ms.
    pub samples_ms: Vec<f64>,
    /// Bytes one run reads (weights, scales, activations) and writes.
    pub bytes: f64,
    /// FLOP one run does (2 per multiply-add).
    pub flops: f64,
}

/// One dispatch structure of the layer chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainRow {
    /// Matrix side.
    pub dim: u32,
    /// `batched` (one submit, one final readback), `per_layer_submit` (submit + wait per
    /// layer, storage-only intermediates), `per_layer_readback` (submit, map, read, write back
    /// per layer: the native analogue of a bridge crossing).
    pub structure: String,
    /// Wall time of the whole chain per trial, ms.
    pub samples_ms: Vec<f64>,
    /// The chain's final output agrees with the batched run's (same math, so bit-identical).
    pub agrees: bool,
}

/// One arm of the intermediates experiment: the layer chain with a submit + wait per layer,
/// its intermediates kept in storage buffers (`storage`) or copied to a `MAP_READ` buffer,
/// mapped, read to the host and written back per layer (`mapped`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntermediateRow {
    /// Matrix side.
    pub dim: u32,
    /// `storage` or `mapped`.
    pub intermediates: String,
    /// Wall time of the whole chain per trial, ms (the arms alternate within a trial).
    pub samples_ms: Vec<f64>,
    /// The final output equals the other arm's (same math, so bit-identical).
    pub agrees: bool,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The adapter it ran on.
    pub adapter: AdapterDesc,
    /// Whether f16 activations ran (the adapter has `shader-f16`).
    pub f16_ran: bool,
    /// Every configuration's check.
    pub checks: Vec<Check>,
    /// The article's WGSL, verbatim, compiles.
    pub article_verbatim_compiles: bool,
    /// The compiler's first error for it.
    pub article_verbatim_error: String,
    /// The article's kernel body with only declarations added (its `activations[k * 8u]`,
    /// one activation per 8 weights): largest error against the true product.
    pub article_completed_max_rel_error: f64,
    /// The sweep.
    pub sweep: Vec<SweepRow>,
    /// The dispatch experiments.
    pub chains: Vec<ChainRow>,
    /// Layers in each chain.
    #[serde(default)]
    pub chain_layers: u32,
    /// The subgroup-sized shapes added to the sweep (from the adapter's subgroup sizes).
    #[serde(default)]
    pub subgroup_shapes: Vec<(u32, u32)>,
    /// Whether the `subgroupAdd` matvec ran.
    #[serde(default)]
    pub subgroup_ran: bool,
    /// Why it did not run (empty when it ran).
    #[serde(default)]
    pub subgroup_not_run: String,
    /// The compiler's answer to the same kernel with WGSL's standard `enable subgroups;`
    /// (empty: accepted; not tried without the feature).
    #[serde(default)]
    pub subgroup_enable_error: String,
    /// Storage-only vs mapped intermediates.
    #[serde(default)]
    pub intermediates: Vec<IntermediateRow>,
}

impl Report {
    /// The figures that calibrate the model of this adapter: the flat (64,1) f32 matvec's mean
    /// GB/s, the mean per-crossing cost of the smallest chain ((per-layer readback - batched) /
    /// (layers - 1), paired per trial), and the smallest subgroup size.
    pub fn calibration(&self) -> Calibration {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let mem_bw_gbps = self
            .sweep
            .iter()
            .find(|s| {
                s.op == "matvec"
                    && s.act == Act::F32
                    && s.mapping == Mapping::Flat
                    && s.shape == (64, 1)
            })
            .map(|s| {
                mean(
                    &s.samples_ms
                        .iter()
                        .map(|t| s.bytes / t / 1e6)
                        .collect::<Vec<_>>(),
                )
            });
        let readback_ms = self.chains.iter().map(|c| c.dim).min().and_then(|d| {
            let get = |st: &str| self.chains.iter().find(|c| c.dim == d && c.structure == st);
            let (b, pr) = (get("batched")?, get("per_layer_readback")?);
            let layers = self.chain_layers.max(2) as f64;
            let n = b.samples_ms.len().min(pr.samples_ms.len());
            let v: Vec<f64> = (0..n)
                .map(|j| (pr.samples_ms[j] - b.samples_ms[j]) / (layers - 1.0))
                .collect();
            (n > 0).then(|| mean(&v).max(0.0))
        });
        Calibration {
            mem_bw_gbps,
            readback_ms,
            wave_width: self.adapter.subgroup_sizes.0.max(1),
        }
    }
}

/// What a measurement calibrates in the model (see [`Report::calibration`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Achieved matvec bandwidth, GB/s (absent when the flat (64,1) f32 matvec was not swept).
    pub mem_bw_gbps: Option<f64>,
    /// One native crossing (submit + map + read + upload), ms (absent without a chain).
    pub readback_ms: Option<f64>,
    /// The adapter's smallest subgroup size, lanes.
    pub wave_width: u32,
}

/// The adapters wgpu finds (all backends this build has).
pub fn adapters() -> Result<Vec<AdapterDesc>, KernelError> {
    imp::adapters()
}

/// Runs the checks, the sweep and the dispatch experiments on the first adapter found.
pub fn measure(opts: &Options, progress: &dyn Fn(&str)) -> Result<Report, KernelError> {
    if opts.trials == 0 || opts.chain_trials == 0 || opts.shapes.is_empty() {
        return Err(KernelError::Invalid(
            "trials, chain_trials and shapes must be non-empty".into(),
        ));
    }
    for &(x, y) in &opts.shapes {
        let s = x * y;
        if s == 0 || s > 256 || !s.is_power_of_two() {
            return Err(KernelError::Invalid(format!(
                "workgroup ({x},{y}): x·y must be a power of two up to 256 (WebGPU's default limit)"
            )));
        }
    }
    let (n, k) = opts.matvec_nk;
    let (_, mn, mk) = opts.matmul_mnk;
    for (what, k) in [("matvec K", k), ("matmul K", mk)] {
        if k == 0 || k % 32 != 0 {
            return Err(KernelError::Invalid(format!(
                "{what} = {k}: a multiple of 32"
            )));
        }
    }
    if n == 0 || mn == 0 || opts.chain_dims.iter().any(|d| *d == 0 || d % 32 != 0) {
        return Err(KernelError::Invalid(
            "sizes must be positive, chain dims multiples of 32".into(),
        ));
    }
    imp::measure(opts, progress)
}
