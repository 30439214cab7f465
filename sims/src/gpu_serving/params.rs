//! `GpuServingParams`: the scenario's `[params]` for `sim = "gpu_serving"`, its defaults and its
//! range checks. A request class's own params are in `class.rs`, the enumerated settings
//! (GPU profile, model shape, sharing, policy, placement) in `choices.rs`.

use serde::{Deserialize, Serialize};

pub use super::choices::{ModelShape, Placement, Policy, Profile, Sharing};
pub use super::class::{Arrival, ClassParams, TokenDist};

use super::class::MAX_TOKENS;
use crate::params::{
    self, ParamsError, require_non_negative, require_positive, require_probability,
};
use crate::room::Validate;

/// A GPU cluster serving three request classes. Times in the unit their name says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuServingParams {
    // --- hardware and model -------------------------------------------------------------------
    /// GPU: `h100` (measured), `a100-80gb` / `a100-40gb` (the H100 curve scaled by datasheet
    /// bandwidth and compute), or `custom` (give `step_ms_by_batch`).
    pub profile: Profile,
    /// Model shape measured in the dataset: `llama8b` or `qwen0.5b`.
    pub model: ModelShape,
    /// `custom` only: measured decode step time per batch size, `[[batch, ms], ...]`.
    pub step_ms_by_batch: Vec<[f64; 2]>,
    /// GPU memory, GB; defaults to the profile's.
    pub gpu_mem_gb: Option<f64>,
    /// Prefill time per prompt token, ms; defaults to 2 x parameters / (peak FLOPS x `prefill_mfu`).
    pub prefill_ms_per_token: Option<f64>,
    /// Share of peak FLOPS prefill reaches (compute-bound). Default 0.5 (assumed).
    pub prefill_mfu: f64,
    /// Extra work per step while two or more time-sliced replicas share a GPU (context
    /// switches), as a fraction; defaults to the dataset's value for the model.
    pub timeslice_overhead: Option<f64>,
    /// Share of GPU memory the serving processes may take (vLLM `gpu_memory_utilization`).
    pub mem_utilization: f64,
    /// Memory each process takes besides weights and KV cache (CUDA context, activations), GB.
    pub cuda_context_gb: f64,
    /// Most sequences a replica runs at once (vLLM `max_num_seqs`). Default 256.
    pub max_batch: u32,
    /// Prompt tokens prefilled per step at most (chunked prefill budget). Default 2048.
    pub max_prefill_tokens_per_step: u32,
    /// Prompt plus output tokens of one sequence at most; longer draws are cut. Default 4096.
    pub max_context_tokens: u32,

    // --- cluster --------------------------------------------------------------------------------
    /// GPUs in the cluster (the minimum when the volume needs more). Default 8 (article).
    pub gpus: u32,
    /// GPUs per node; nodes are billed whole. Default 8.
    pub gpus_per_node: u32,
    /// How one GPU is shared: `time_slice` (`replicas` processes take turns) or `batching`
    /// (one continuous-batching process per GPU).
    pub sharing: Sharing,
    /// Processes (pods) per GPU; with `batching` it only sets the tenants of the tenant probe.
    pub replicas: u32,

    // --- scheduling -----------------------------------------------------------------------------
    /// Application queue policy.
    pub policy: Policy,
    /// `reserved_pool`: share of replicas reserved for P0. Default 0.3 (article).
    pub reserved_share: f64,
    /// Where reserved replicas go: `spread` over GPUs or `packed` onto whole GPUs.
    pub reserved_placement: Placement,
    /// `reserved_pool`: P2 may run on idle reserved replicas and is preempted when P0 needs room.
    pub batch_borrows_reserved: bool,
    /// `reserved_pool`: P0 may use shared replicas when the reserved ones are full.
    pub p0_overflow: bool,
    /// P2 jobs persist their output every this many tokens (0: never). Default 64 (assumed).
    pub checkpoint_tokens: u32,
    /// Seconds before a preempted P2 job is back in the queue. Default 1 (assumed).
    pub restart_delay_s: f64,
    /// Pod-level preemption: a controller moves replicas from batch to P0 (evicting batch pods).
    pub pod_preemption: bool,
    /// Seconds between the controller's looks. Default 60.
    pub pod_check_s: f64,
    /// Seconds a new pod takes to become ready (schedule, pull, load weights). Default 120.
    pub pod_startup_s: f64,
    /// P0 time to first token the controller aims for, ms. Default 200 (the article's P99).
    pub pod_scale_up_ttft_ms: f64,
    /// Share of a look's P0 requests slower than that which triggers a scale-up. Default 0.05.
    pub pod_scale_up_share: f64,
    /// Quiet looks in a row before an added P0 replica goes back to batch.
    pub pod_scale_down_checks: u32,

    // --- traffic --------------------------------------------------------------------------------
    /// Requests a month of the open classes (P2 in closed loop is extra). Default 3M.
    pub monthly_requests: f64,
    /// Daily cycle: arrival rate at the peak hour over the daily mean, 1 to 2. Default 1.5.
    pub daily_peak_to_mean: f64,
    /// Hour of the daily peak, 0..24. Default 14.
    pub peak_hour: f64,
    /// Hour of day the simulated window starts; default the peak hour.
    pub start_hour: Option<f64>,
    /// Measured minutes. Default 30.
    pub sim_minutes: f64,
    /// Minutes simulated before measuring. Default 5.
    pub warmup_minutes: f64,
    /// Real-time requests.
    pub p0: ClassParams,
    /// Near-real-time requests.
    pub p1: ClassParams,
    /// Batch requests.
    pub p2: ClassParams,

    // --- cost -----------------------------------------------------------------------------------
    /// Price of one GPU-hour, USD.
    pub gpu_hour_usd: f64,
    /// Other cost per node and month (CPU, storage, operations), USD. Default 0.
    pub node_usd_month: f64,
    /// API price per request, USD.
    pub api_usd_per_request: f64,
    /// API price per million prompt tokens, USD.
    pub api_usd_per_m_input_tokens: f64,
    /// API price per million output tokens, USD.
    pub api_usd_per_m_output_tokens: f64,
    /// Nodes follow the daily cycle hour by hour instead of being sized for the peak.
    pub autoscale: bool,
    /// Share of a GPU's saturated request throughput capacity planning allows. Default 0.8.
    pub max_planned_utilization: f64,

    // --- probes ---------------------------------------------------------------------------------
    /// Tenant probe: share of time one tenant keeps a GPU busy alone. Default 0.2 (article).
    pub tenant_duty: f64,
    /// Tenant probe: decode steps of one tenant request (batch 1). Default 32 (dataset).
    pub tenant_request_tokens: u32,
    /// Capacity probe: requests served by one saturated GPU. Default 2000.
    pub probe_requests: u32,
}

impl Default for GpuServingParams {
    fn default() -> Self {
        GpuServingParams {
            profile: Profile::A100_80gb,
            model: ModelShape::Llama8b,
            step_ms_by_batch: Vec::new(),
            gpu_mem_gb: None,
            prefill_ms_per_token: None,
            prefill_mfu: 0.5,
            timeslice_overhead: None,
            mem_utilization: 0.9,
            cuda_context_gb: 0.5,
            max_batch: 256,
            max_prefill_tokens_per_step: 2048,
            max_context_tokens: 4096,
            gpus: 8,
            gpus_per_node: 8,
            sharing: Sharing::TimeSlice,
            replicas: 1,
            policy: Policy::ReservedPool,
            reserved_share: 0.3,
            reserved_placement: Placement::Spread,
            batch_borrows_reserved: true,
            p0_overflow: true,
            checkpoint_tokens: 64,
            restart_delay_s: 1.0,
            pod_preemption: false,
            pod_check_s: 60.0,
            pod_startup_s: 120.0,
            pod_scale_up_ttft_ms: 200.0,
            pod_scale_up_share: 0.05,
            pod_scale_down_checks: 10,
            monthly_requests: 3e6,
            daily_peak_to_mean: 1.5,
            peak_hour: 14.0,
            start_hour: None,
            sim_minutes: 30.0,
            warmup_minutes: 5.0,
            p0: ClassParams {
                share: 0.3,
                tenants: 10,
                prompt_tokens: TokenDist::Lognormal {
                    mean: 512.0,
                    cv: 0.5,
                },
                output_tokens: TokenDist::Lognormal {
                    mean: 128.0,
                    cv: 0.5,
                },
                ..ClassParams::default()
            },
            p1: ClassParams {
                share: 0.3,
                tenants: 10,
                prompt_tokens: TokenDist::Lognormal {
                    mean: 1024.0,
                    cv: 1.0,
                },
                output_tokens: TokenDist::Lognormal {
                    mean: 256.0,
                    cv: 1.0,
                },
                ..ClassParams::default()
            },
            p2: ClassParams {
                share: 0.4,
                tenants: 5,
                prompt_tokens: TokenDist::Lognormal {
                    mean: 2048.0,
                    cv: 0.5,
                },
                output_tokens: TokenDist::Lognormal {
                    mean: 256.0,
                    cv: 0.5,
                },
                ..ClassParams::default()
            },
            gpu_hour_usd: 4.10,
            node_usd_month: 0.0,
            api_usd_per_request: 0.0068,
            api_usd_per_m_input_tokens: 0.0,
            api_usd_per_m_output_tokens: 0.0,
            autoscale: false,
            max_planned_utilization: 0.8,
            tenant_duty: 0.2,
            tenant_request_tokens: 32,
            probe_requests: 2000,
        }
    }
}

const MAX_GPUS: u32 = 4096;
const MAX_REPLICAS: u32 = 64;
const MAX_UNITS: u64 = 65_536;

impl GpuServingParams {
    /// A class table given in part (`[p0]` with only `share`) keeps that class's own defaults
    /// for the rest; a token distribution given is taken whole.
    pub fn fill_class_defaults(t: &toml::Table) -> toml::Table {
        let mut merged = t.clone();
        let defaults = params::to_table(&GpuServingParams::default());
        for class in ["p0", "p1", "p2"] {
            if let (Some(toml::Value::Table(given)), Some(toml::Value::Table(default))) =
                (t.get(class), defaults.get(class))
            {
                let mut full = default.clone();
                full.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
                merged.insert(class.to_string(), toml::Value::Table(full));
            }
        }
        merged
    }

    /// The three classes, P0 first.
    pub fn classes(&self) -> [&ClassParams; 3] {
        [&self.p0, &self.p1, &self.p2]
    }
}

impl Validate for GpuServingParams {
    /// Range checks serde cannot express.
    fn validate(&self) -> Result<(), ParamsError> {
        match self.profile {
            Profile::Custom => {
                if self.step_ms_by_batch.is_empty() {
                    return Err(ParamsError::out_of_range(
                        "step_ms_by_batch",
                        "[]",
                        "at least one [batch, ms] pair when profile = \"custom\"",
                    ));
                }
                let mut last_batch = 0.0;
                for (i, [b, ms]) in self.step_ms_by_batch.iter().enumerate() {
                    if !(b.is_finite() && *b >= 1.0 && b.fract() == 0.0 && *b > last_batch) {
                        return Err(ParamsError::out_of_range(
                            &format!("step_ms_by_batch[{i}][0]"),
                            b,
                            "a whole batch size ≥ 1, larger than the previous one",
                        ));
                    }
                    if !(ms.is_finite() && *ms > 0.0 && *ms <= 1e6) {
                        return Err(ParamsError::out_of_range(
                            &format!("step_ms_by_batch[{i}][1]"),
                            ms,
                            "a step time in ms, 0 < ms ≤ 1e6",
                        ));
                    }
                    last_batch = *b;
                }
            }
            _ => {
                if !self.step_ms_by_batch.is_empty() {
                    return Err(ParamsError::out_of_range(
                        "step_ms_by_batch",
                        "a curve",
                        "no curve unless profile = \"custom\" (the profile's curve is used)",
                    ));
                }
            }
        }
        if let Some(m) = self.gpu_mem_gb {
            require_positive("gpu_mem_gb", m)?;
            if m > 1e5 {
                return Err(ParamsError::out_of_range("gpu_mem_gb", m, "at most 1e5 GB"));
            }
        }
        if let Some(c) = self.prefill_ms_per_token {
            require_non_negative("prefill_ms_per_token", c)?;
            if c > 1e4 {
                return Err(ParamsError::out_of_range(
                    "prefill_ms_per_token",
                    c,
                    "at most 1e4 ms",
                ));
            }
        }
        if !(self.prefill_mfu > 0.0 && self.prefill_mfu <= 1.0) {
            return Err(ParamsError::out_of_range(
                "prefill_mfu",
                self.prefill_mfu,
                "a share of peak FLOPS, 0 < x ≤ 1",
            ));
        }
        if let Some(o) = self.timeslice_overhead {
            if !(o.is_finite() && (-0.5..=10.0).contains(&o)) {
                return Err(ParamsError::out_of_range(
                    "timeslice_overhead",
                    o,
                    "a fraction, -0.5 ≤ x ≤ 10",
                ));
            }
        }
        if !(self.mem_utilization > 0.0 && self.mem_utilization <= 1.0) {
            return Err(ParamsError::out_of_range(
                "mem_utilization",
                self.mem_utilization,
                "a share of GPU memory, 0 < x ≤ 1",
            ));
        }
        require_non_negative("cuda_context_gb", self.cuda_context_gb)?;
        if self.max_batch == 0 || self.max_batch > 65_536 {
            return Err(ParamsError::out_of_range(
                "max_batch",
                self.max_batch,
                "1 to 65536 sequences",
            ));
        }
        if self.max_prefill_tokens_per_step == 0 {
            return Err(ParamsError::out_of_range(
                "max_prefill_tokens_per_step",
                0,
                "at least 1 token",
            ));
        }
        if self.max_context_tokens < 2 || self.max_context_tokens as f64 > MAX_TOKENS {
            return Err(ParamsError::out_of_range(
                "max_context_tokens",
                self.max_context_tokens,
                "2 to 1e6 tokens",
            ));
        }
        if self.gpus == 0 || self.gpus > MAX_GPUS {
            return Err(ParamsError::out_of_range(
                "gpus",
                self.gpus,
                "1 to 4096 GPUs",
            ));
        }
        if self.gpus_per_node == 0 || self.gpus_per_node > 64 {
            return Err(ParamsError::out_of_range(
                "gpus_per_node",
                self.gpus_per_node,
                "1 to 64 GPUs",
            ));
        }
        if self.replicas == 0 || self.replicas > MAX_REPLICAS {
            return Err(ParamsError::out_of_range(
                "replicas",
                self.replicas,
                "1 to 64 replicas per GPU",
            ));
        }
        if self.gpus as u64 * self.replicas as u64 > MAX_UNITS {
            return Err(ParamsError::out_of_range(
                "replicas",
                self.replicas,
                "gpus x replicas ≤ 65536",
            ));
        }
        require_probability("reserved_share", self.reserved_share)?;
        require_non_negative("restart_delay_s", self.restart_delay_s)?;
        require_positive("pod_check_s", self.pod_check_s)?;
        require_non_negative("pod_startup_s", self.pod_startup_s)?;
        require_positive("pod_scale_up_ttft_ms", self.pod_scale_up_ttft_ms)?;
        require_probability("pod_scale_up_share", self.pod_scale_up_share)?;
        if !(self.monthly_requests > 0.0 && self.monthly_requests <= 1e11) {
            return Err(ParamsError::out_of_range(
                "monthly_requests",
                self.monthly_requests,
                "0 < requests ≤ 1e11 a month",
            ));
        }
        if !(1.0..=2.0).contains(&self.daily_peak_to_mean) {
            return Err(ParamsError::out_of_range(
                "daily_peak_to_mean",
                self.daily_peak_to_mean,
                "1 ≤ x ≤ 2 (a cosine daily cycle cannot go below zero)",
            ));
        }
        if !(0.0..24.0).contains(&self.peak_hour) {
            return Err(ParamsError::out_of_range(
                "peak_hour",
                self.peak_hour,
                "an hour, 0 ≤ h < 24",
            ));
        }
        if let Some(h) = self.start_hour {
            if !(0.0..24.0).contains(&h) {
                return Err(ParamsError::out_of_range(
                    "start_hour",
                    h,
                    "an hour, 0 ≤ h < 24",
                ));
            }
        }
        if !(self.sim_minutes > 0.0 && self.sim_minutes <= 10_080.0) {
            return Err(ParamsError::out_of_range(
                "sim_minutes",
                self.sim_minutes,
                "0 < minutes ≤ 10080 (a week)",
            ));
        }
        if !(self.warmup_minutes >= 0.0 && self.warmup_minutes <= 10_080.0) {
            return Err(ParamsError::out_of_range(
                "warmup_minutes",
                self.warmup_minutes,
                "0 ≤ minutes ≤ 10080",
            ));
        }
        for (name, c) in ["p0", "p1", "p2"].iter().zip(self.classes()) {
            c.validate(name)?;
        }
        if self.classes().iter().map(|c| c.share).sum::<f64>() <= 0.0 {
            return Err(ParamsError::out_of_range(
                "p0.share",
                "all shares zero",
                "class shares that add up to more than 0",
            ));
        }
        for (name, v) in [
            ("gpu_hour_usd", self.gpu_hour_usd),
            ("node_usd_month", self.node_usd_month),
            ("api_usd_per_request", self.api_usd_per_request),
            (
                "api_usd_per_m_input_tokens",
                self.api_usd_per_m_input_tokens,
            ),
            (
                "api_usd_per_m_output_tokens",
                self.api_usd_per_m_output_tokens,
            ),
        ] {
            require_non_negative(name, v)?;
            if v > 1e9 {
                return Err(ParamsError::out_of_range(name, v, "at most 1e9 USD"));
            }
        }
        if !(self.max_planned_utilization > 0.0 && self.max_planned_utilization <= 1.0) {
            return Err(ParamsError::out_of_range(
                "max_planned_utilization",
                self.max_planned_utilization,
                "a share, 0 < x ≤ 1",
            ));
        }
        if !(self.tenant_duty > 0.0 && self.tenant_duty <= 1.0) {
            return Err(ParamsError::out_of_range(
                "tenant_duty",
                self.tenant_duty,
                "a busy share, 0 < x ≤ 1",
            ));
        }
        if self.tenant_request_tokens == 0 || self.tenant_request_tokens > 100_000 {
            return Err(ParamsError::out_of_range(
                "tenant_request_tokens",
                self.tenant_request_tokens,
                "1 to 100000 tokens",
            ));
        }
        if self.probe_requests < 10 || self.probe_requests > 1_000_000 {
            return Err(ParamsError::out_of_range(
                "probe_requests",
                self.probe_requests,
                "10 to 1e6 requests",
            ));
        }
        Ok(())
    }
}
