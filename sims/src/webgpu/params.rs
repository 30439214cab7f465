//! `WebgpuParams`: the scenario's `[params]` for `sim = "webgpu"`. Defaults are the article's
//! setting where it states one (an (8, 8, 1) workgroup on an Adreno, its 2-D mapping, 12
//! layers, INT4 weights, a 1-4B model) and the research file's sourced or assumed figures
//! elsewhere (`../shared/research/webgpu.md` §4).

use serde::{Deserialize, Serialize};

use crate::params::{
    ParamsError, require_count, require_non_negative, require_positive, require_probability,
};
use crate::room::Validate;

/// A mobile or desktop GPU family: what sets its wave (subgroup) width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Qualcomm Adreno 6xx/7xx: wave64 or wave128 (Vulkan min 64, max 128; wgpu-types
    /// `AdapterInfo` docs, azhirnov/cpu-gpu-arch Adreno-600).
    Adreno,
    /// Arm Mali Valhall: 16-wide warps (Arm "The Valhall shader core").
    Mali,
    /// Apple GPUs: 32-wide SIMD-groups (Apple developer docs, dougallj G13).
    Apple,
    /// NVIDIA: 32-wide warps (wgpu-types `AdapterInfo` docs).
    Nvidia,
}

impl Family {
    /// The family's wave width, lanes (the smallest where it has two).
    pub fn wave_width(self) -> u32 {
        match self {
            Family::Adreno => 64,
            Family::Mali => 16,
            Family::Apple | Family::Nvidia => 32,
        }
    }
}

/// How invocations map to outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// The article's kernel: `row = gid.x` over output features, `col = gid.y` over tokens.
    /// At one token (decode) only the `y = 0` row of each workgroup has work.
    Article2d,
    /// The linear invocation index covers (token, feature): every lane has work.
    Flat,
}

/// How the token's layers cross between the GPU and the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispatch {
    /// All layers queued GPU-side, one `mapAsync` readback and one bridge crossing per token
    /// (the article's advice).
    Single,
    /// `crossings_per_layer` bridge round trips and readbacks per layer (the article's "bad"
    /// case, and what its CPU-side norm/residual split needs).
    PerLayer,
}

/// One decode (or prefill) step of an INT4 model on a phone-class GPU behind a WebView.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebgpuParams {
    /// GPU family (sets the wave width). Default `adreno` (article: "aligns with Adreno").
    pub family: Family,
    /// Wave width override, lanes; 0 = the family's. Default 0.
    pub wave_width: u32,
    /// Workgroup size x. Default 8 (article).
    pub wg_x: u32,
    /// Workgroup size y. Default 8 (article).
    pub wg_y: u32,
    /// Invocation mapping. Default `article2d`.
    pub mapping: Mapping,
    /// Model size, billions of parameters. Default 1 (article: "1-4B").
    pub params_b: f64,
    /// Bits stored per weight: 4-bit values plus one f16 scale per 32 (Q4_0-like) = 4.5.
    pub bits_per_weight: f64,
    /// Transformer layers. Default 12 (article: "12 round trips for 12-layer model").
    pub layers: u32,
    /// Tokens processed in the step: 1 = decode; more = a prefill of that many prompt tokens.
    pub tokens: u32,
    /// Peak DRAM bandwidth, GB/s. Default 76.8 (Snapdragon 8 Gen 3 LPDDR5X-9600 x 64 bit).
    pub mem_bw_gbps: f64,
    /// Share of peak bandwidth a well-shaped kernel streams at. Default 0.65 (assumed).
    pub bw_efficiency: f64,
    /// FP32 throughput, TFLOP/s. Default 2.8 (third-party Adreno 750 figure; assumed).
    pub fp32_tflops: f64,
    /// Activations in f16 (FP16 at `f16_speedup` x FP32). Default true (article: INT4 x FP16).
    pub f16: bool,
    /// FP16 over FP32 throughput. Default 2 (Adreno 6xx/7xx).
    pub f16_speedup: f64,
    /// Share of peak FLOP/s the kernel reaches when compute-bound. Default 0.5 (assumed).
    pub compute_efficiency: f64,
    /// Lanes resident on the whole GPU at full occupancy. Default 6144 (assumed).
    pub resident_lanes: u32,
    /// DRAM load latency, ns. Default 500 (assumed).
    pub mem_latency_ns: f64,
    /// Independent weight loads one active lane keeps in flight. Default 2 (assumed).
    pub loads_in_flight_per_lane: f64,
    /// Bytes one weight load brings (4 = one packed u32, 16 = `vec4<u32>`). Default 4 (the
    /// article's kernel).
    pub load_bytes: f64,
    /// Crossing structure. Default `per_layer` (what the split at the GEMM boundary needs).
    pub dispatch: Dispatch,
    /// Bridge round trips per layer in `per_layer`. Default 1 (article: 12 for 12 layers).
    pub crossings_per_layer: u32,
    /// Median JS <-> native bridge round trip, ms. Default 1 (sourced range 0.5-5).
    pub bridge_ms: f64,
    /// Median `mapAsync` readback (submit to resolved promise), ms. Default 3 (sourced 1-15;
    /// the low end for a warmed in-process WebView is an assumption).
    pub readback_ms: f64,
    /// Log-normal sigma of each crossing's cost. Default 0.5 (assumed).
    pub crossing_sigma: f64,
    /// Per-token latency budget, ms. Default 50 (article: "sub-50ms per token").
    pub budget_ms: f64,
    /// Tokens simulated per replication. Default 2000.
    pub sim_tokens: u32,
    /// GPU memory the app can use, GB. Default 3 (article: "cap around 1-3 GB").
    pub gpu_mem_gb: f64,
    /// A measured adapter's dataset (`datasets/webgpu/<adapter>/measurements.json`, written by
    /// the kernel crate's `probe --dataset`); when set, its calibration replaces `mem_bw_gbps`
    /// (the achieved flat (64,1) matvec GB/s), `readback_ms` (one native crossing) and
    /// `wave_width` (the smallest subgroup) before the run, and the report shows the values.
    /// Default empty (none).
    pub dataset: String,
}

impl Default for WebgpuParams {
    fn default() -> Self {
        WebgpuParams {
            family: Family::Adreno,
            wave_width: 0,
            wg_x: 8,
            wg_y: 8,
            mapping: Mapping::Article2d,
            params_b: 1.0,
            bits_per_weight: 4.5,
            layers: 12,
            tokens: 1,
            mem_bw_gbps: 76.8,
            bw_efficiency: 0.65,
            fp32_tflops: 2.8,
            f16: true,
            f16_speedup: 2.0,
            compute_efficiency: 0.5,
            resident_lanes: 6144,
            mem_latency_ns: 500.0,
            loads_in_flight_per_lane: 2.0,
            load_bytes: 4.0,
            dispatch: Dispatch::PerLayer,
            crossings_per_layer: 1,
            bridge_ms: 1.0,
            readback_ms: 3.0,
            crossing_sigma: 0.5,
            budget_ms: 50.0,
            sim_tokens: 2000,
            gpu_mem_gb: 3.0,
            dataset: String::new(),
        }
    }
}

impl WebgpuParams {
    /// The wave width in use, lanes.
    pub fn wave(&self) -> u32 {
        if self.wave_width == 0 {
            self.family.wave_width()
        } else {
            self.wave_width
        }
    }
}

impl WebgpuParams {
    /// Reads `dataset` (when set) and takes its calibration as inputs (the room's `prepare`).
    pub fn load_dataset(&mut self) -> Result<(), ParamsError> {
        if self.dataset.is_empty() {
            return Ok(());
        }
        let invalid = |message: String| ParamsError::Invalid {
            path: "dataset".into(),
            message,
        };
        let d = webgpu_kernel::dataset::Dataset::read(std::path::Path::new(&self.dataset))
            .map_err(invalid)?;
        let c = d.calibration();
        self.mem_bw_gbps = c.mem_bw_gbps.ok_or_else(|| {
            invalid(format!(
                "{}: no flat (64,1) f32 matvec in the sweep to take mem_bw_gbps from",
                self.dataset
            ))
        })?;
        self.readback_ms = c.readback_ms.ok_or_else(|| {
            invalid(format!(
                "{}: no layer chain to take readback_ms from",
                self.dataset
            ))
        })?;
        self.wave_width = c.wave_width;
        self.validate()
    }
}

impl Validate for WebgpuParams {
    fn validate(&self) -> Result<(), ParamsError> {
        if self.wave_width != 0 {
            require_count(
                "wave_width",
                self.wave_width,
                1..=256,
                "lanes (0 = the family's)",
            )?;
        }
        require_count("wg_x", self.wg_x, 1..=1024, "invocations")?;
        require_count("wg_y", self.wg_y, 1..=1024, "invocations")?;
        if self.wg_x * self.wg_y > 1024 {
            return Err(ParamsError::out_of_range(
                "wg_y",
                self.wg_y,
                "wg_x x wg_y at most 1024 invocations",
            ));
        }
        require_positive("params_b", self.params_b)?;
        if self.params_b > 1000.0 {
            return Err(ParamsError::out_of_range(
                "params_b",
                self.params_b,
                "at most 1000 (billions)",
            ));
        }
        require_positive("bits_per_weight", self.bits_per_weight)?;
        if self.bits_per_weight > 32.0 {
            return Err(ParamsError::out_of_range(
                "bits_per_weight",
                self.bits_per_weight,
                "at most 32",
            ));
        }
        require_count("layers", self.layers, 1..=1000, "layers")?;
        require_count("tokens", self.tokens, 1..=65_536, "tokens")?;
        require_positive("mem_bw_gbps", self.mem_bw_gbps)?;
        require_probability("bw_efficiency", self.bw_efficiency)?;
        require_positive("bw_efficiency", self.bw_efficiency)?;
        require_positive("fp32_tflops", self.fp32_tflops)?;
        require_positive("f16_speedup", self.f16_speedup)?;
        require_probability("compute_efficiency", self.compute_efficiency)?;
        require_positive("compute_efficiency", self.compute_efficiency)?;
        require_count(
            "resident_lanes",
            self.resident_lanes,
            1..=10_000_000,
            "lanes",
        )?;
        require_positive("mem_latency_ns", self.mem_latency_ns)?;
        require_positive("loads_in_flight_per_lane", self.loads_in_flight_per_lane)?;
        require_positive("load_bytes", self.load_bytes)?;
        require_count(
            "crossings_per_layer",
            self.crossings_per_layer,
            1..=64,
            "crossings",
        )?;
        require_non_negative("bridge_ms", self.bridge_ms)?;
        require_non_negative("readback_ms", self.readback_ms)?;
        require_non_negative("crossing_sigma", self.crossing_sigma)?;
        if self.crossing_sigma > 3.0 {
            return Err(ParamsError::out_of_range(
                "crossing_sigma",
                self.crossing_sigma,
                "at most 3",
            ));
        }
        require_positive("budget_ms", self.budget_ms)?;
        require_count("sim_tokens", self.sim_tokens, 1..=10_000_000, "tokens")?;
        require_positive("gpu_mem_gb", self.gpu_mem_gb)?;
        Ok(())
    }
}
