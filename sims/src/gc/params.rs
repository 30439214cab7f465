//! `GcParams`: the scenario's `[params]` for `sim = "gc"`.
//!
//! Sources: the article (06) for its setting; `research/domain-models.md` §2 for the runtime's
//! rules and defaults (Kotlin/Native `GCSchedulerConfig.hpp`, `HeapGrowthController.hpp`, the
//! collectors under `gc/pmcs` and `gc/cms`); everything else is assumed with a range in the
//! scenario's `[sources]`.

use serde::{Deserialize, Serialize};

use crate::params::{
    ParamsError, require_count, require_non_negative, require_positive, require_probability,
};
use crate::room::Validate;

/// The stop-the-world shape of a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collector {
    /// Parallel mark, concurrent sweep: STW #1 is the root set and the whole (parallel) mark.
    Pmcs,
    /// Concurrent mark and sweep: STW #1 the root set, marking concurrent (one GC thread), a
    /// short STW #2 to finish the mark.
    Cms,
}

/// How the article's 512 MB "budget" reaches the scheduler (row 2 onwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetVia {
    /// `GC.targetHeapBytes = budget` with autotune on: the article's code. Autotune replaces
    /// the target after the first collection.
    TargetHeap,
    /// `GC.minHeapBytes = budget`: the autotuned target never drops below it.
    MinHeap,
    /// `GC.targetHeapBytes = budget` and `GC.autotune = false`: the target stays.
    AutotuneOff,
}

/// Which allocator serves the mutator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocator {
    /// Kotlin/Native's own paged allocator (the default since 1.9.20).
    Custom,
    /// mimalloc (`-Xallocator=mimalloc`).
    Mimalloc,
    /// The C library's malloc (`-Xallocator=std`).
    System,
    /// jemalloc (not offered by the runtime; for comparison with the kernel).
    Jemalloc,
}

/// The service-time distribution of a request's own work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceShape {
    /// Lognormal with median `service_median_ms` and log-sd `service_sigma`.
    Lognormal,
    /// Exponential with mean `service_median_ms` (for the M/M/c check).
    Exp,
}

/// A c-core server at a fixed arrival rate with a Kotlin/Native-style tracing GC. Defaults are
/// the article's first row: default GC settings at 5,000 RPS on 16 cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcParams {
    /// The article's table row, cumulative: 0 default, 1 + heap budget, 2 + mimalloc
    /// variables, 3 + pooling. Default 0.
    pub tuning_step: u32,
    /// Requests per second, Poisson. Default 5,000 (article).
    pub arrival_rate: f64,
    /// Worker cores. Default 16 (article).
    pub cores: u32,
    /// The request's own CPU work: median, ms. Default 2 (assumed: 5,000 RPS on 16 cores
    /// leaves at most 3.2 ms of CPU per request on average).
    pub service_median_ms: f64,
    /// Log-sd of the lognormal work. Default 0.5 (assumed).
    pub service_sigma: f64,
    /// The work's distribution. Default lognormal.
    pub service_shape: ServiceShape,
    /// Bytes a request allocates, KB (10^3 B). Default 40 (assumed, research §2.3).
    pub alloc_kb_per_request: f64,
    /// Objects a request allocates. Default 2,000 (assumed: a 50 KB JSON body's tree).
    pub objects_per_request: f64,
    /// The allocator. Default `custom` (the runtime's default since 1.9.20).
    pub allocator: Allocator,
    /// Allocation cost per object of each allocator, ns (assumed; the kernel measures the
    /// Rust allocators' on this machine).
    pub alloc_ns_custom: f64,
    /// mimalloc's cost per object, ns.
    pub alloc_ns_mimalloc: f64,
    /// The system allocator's cost per object, ns.
    pub alloc_ns_system: f64,
    /// jemalloc's cost per object, ns.
    pub alloc_ns_jemalloc: f64,

    /// Whether there is a collector at all (false: the server is M/G/c). Default true.
    pub gc: bool,
    /// The collector. Default `pmcs` (research §2.1).
    pub collector: Collector,
    /// Mean live set, MB. Default 120 (assumed).
    pub live_set_mb: f64,
    /// Coefficient of variation of the live set between collections. Default 0.05 (assumed).
    pub live_cv: f64,
    /// `targetHeapBytes` at start, MB. Default 1.048576 (1 MiB, the runtime's default).
    pub target_heap_mb: f64,
    /// `minHeapBytes`, MB. Default 1.048576 (1 MiB).
    pub min_heap_mb: f64,
    /// `maxHeapBytes`, MB; 0 for unbounded (the default).
    pub max_heap_mb: f64,
    /// `autotune`. Default true.
    pub autotune: bool,
    /// `targetHeapUtilization`: autotune sets target = live / this. Default 0.5.
    pub target_utilization: f64,
    /// `heapTriggerCoefficient`: a collection is scheduled at heap ≥ this × target. Default 0.9.
    pub trigger_coefficient: f64,
    /// Mutator assists (mutators stall at heap ≥ target until the epoch ends); unset: the
    /// runtime's rule, on iff autotune and no max heap.
    pub mutator_assists: Option<bool>,
    /// `regularGcInterval`, s: a timer collection this long after the last. Default 10.
    pub regular_gc_interval_s: f64,
    /// Mean residual time a running request takes to reach a safepoint, ms. Default 0.3.
    pub ttsp_mean_ms: f64,
    /// Root-set scan, ms. Default 2 (assumed).
    pub root_scan_ms: f64,
    /// Parallel (STW) mark rate over all cores, GB/s of live set. Default 2.5 (assumed).
    pub mark_gb_per_s: f64,
    /// Concurrent mark rate of the GC threads (`cms`), GB/s. Default 0.5 (assumed).
    pub concurrent_mark_gb_per_s: f64,
    /// `cms`: STW #2 as a share of a full parallel mark. Default 0.1 (assumed).
    pub remark_fraction: f64,
    /// Concurrent sweep rate, GB/s of heap, on the GC threads. Default 2 (assumed).
    pub sweep_gb_per_s: f64,
    /// Cores the GC's concurrent phases take from the workers. Default 1.
    pub gc_threads: u32,
    /// Log-sd of a mark's duration around its mean (cache misses, scheduling). Default 0.3.
    pub pause_sigma: f64,

    /// Huge pages in effect (the allocator reads the variable and the OS gives them).
    /// Default false.
    pub large_pages: bool,
    /// What huge pages cut from allocation cost and mark time (TLB misses). Default 0.1.
    pub large_pages_cut: f64,
    /// From step 2: whether the article's variables reach the allocator. Default false: the
    /// runtime's allocator is its own, and its bundled mimalloc 1.7.1 reads other names.
    pub env_vars_effective: bool,
    /// From step 1: the article's heap budget, MB. Default 512 (article).
    pub budget_mb: f64,
    /// From step 1: how the budget is applied. Default `target_heap` (the article's code).
    pub budget_via: BudgetVia,
    /// From step 3: the share of bytes and objects pooling removes. Default 0.5 (assumed).
    pub pool_alloc_cut: f64,
    /// The Kotlin/Native version, `major.minor.patch`, for the runtime facts. Default
    /// "2.1.0" (assumed: a current release; the article asks for 1.7.20+).
    pub kn_version: String,

    /// Measured time, s. Default 300 (assumed: the article gives no run length).
    pub duration_s: f64,
    /// Start-up time discarded, s. Default 5.
    pub warmup_s: f64,
}

/// 1 MiB in MB.
const MIB_MB: f64 = 1.048_576;

impl Default for GcParams {
    fn default() -> Self {
        GcParams {
            tuning_step: 0,
            arrival_rate: 5000.0,
            cores: 16,
            service_median_ms: 2.0,
            service_sigma: 0.5,
            service_shape: ServiceShape::Lognormal,
            alloc_kb_per_request: 40.0,
            objects_per_request: 2000.0,
            allocator: Allocator::Custom,
            alloc_ns_custom: 40.0,
            alloc_ns_mimalloc: 30.0,
            alloc_ns_system: 50.0,
            alloc_ns_jemalloc: 35.0,
            gc: true,
            collector: Collector::Pmcs,
            live_set_mb: 120.0,
            live_cv: 0.05,
            target_heap_mb: MIB_MB,
            min_heap_mb: MIB_MB,
            max_heap_mb: 0.0,
            autotune: true,
            target_utilization: 0.5,
            trigger_coefficient: 0.9,
            mutator_assists: None,
            regular_gc_interval_s: 10.0,
            ttsp_mean_ms: 0.3,
            root_scan_ms: 2.0,
            mark_gb_per_s: 2.5,
            concurrent_mark_gb_per_s: 0.5,
            remark_fraction: 0.1,
            sweep_gb_per_s: 2.0,
            gc_threads: 1,
            pause_sigma: 0.3,
            large_pages: false,
            large_pages_cut: 0.1,
            env_vars_effective: false,
            budget_mb: 512.0,
            budget_via: BudgetVia::TargetHeap,
            pool_alloc_cut: 0.5,
            kn_version: "2.1.0".to_string(),
            duration_s: 300.0,
            warmup_s: 5.0,
        }
    }
}

/// The settings a replication runs with, after the tuning step is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Effective {
    pub target_heap_mb: f64,
    pub min_heap_mb: f64,
    pub max_heap_mb: f64,
    pub autotune: bool,
    pub assists: bool,
    pub large_pages: bool,
    pub pool_cut: f64,
    /// Mean allocation CPU per request, s.
    pub alloc_cpu_s: f64,
    /// Bytes allocated per request, MB.
    pub alloc_mb: f64,
}

impl GcParams {
    /// The configuration of the article's row `tuning_step`, as the runtime implements it.
    pub(crate) fn effective(&self) -> Effective {
        let mut target = self.target_heap_mb;
        let mut min = self.min_heap_mb;
        let mut autotune = self.autotune;
        if self.tuning_step >= 1 {
            match self.budget_via {
                BudgetVia::TargetHeap => target = self.budget_mb,
                BudgetVia::MinHeap => min = self.budget_mb,
                BudgetVia::AutotuneOff => {
                    target = self.budget_mb;
                    autotune = false;
                }
            }
        }
        let large_pages = self.large_pages || (self.tuning_step >= 2 && self.env_vars_effective);
        let pool_cut = if self.tuning_step >= 3 {
            self.pool_alloc_cut
        } else {
            0.0
        };
        let ns = match self.allocator {
            Allocator::Custom => self.alloc_ns_custom,
            Allocator::Mimalloc => self.alloc_ns_mimalloc,
            Allocator::System => self.alloc_ns_system,
            Allocator::Jemalloc => self.alloc_ns_jemalloc,
        };
        let lp = if large_pages {
            1.0 - self.large_pages_cut
        } else {
            1.0
        };
        Effective {
            target_heap_mb: target,
            min_heap_mb: min,
            max_heap_mb: self.max_heap_mb,
            autotune,
            assists: self
                .mutator_assists
                .unwrap_or(autotune && self.max_heap_mb == 0.0),
            large_pages,
            pool_cut,
            alloc_cpu_s: self.objects_per_request * (1.0 - pool_cut) * ns * lp * 1e-9,
            alloc_mb: self.alloc_kb_per_request * (1.0 - pool_cut) / 1000.0,
        }
    }

    /// `kn_version` as (major, minor, patch).
    pub(crate) fn version(&self) -> Option<(u32, u32, u32)> {
        let mut it = self
            .kn_version
            .trim()
            .split('.')
            .map(|x| x.parse::<u32>().ok());
        let v = (it.next()??, it.next()??, it.next().unwrap_or(Some(0))?);
        it.next().is_none().then_some(v)
    }

    /// Mean service time including allocation, s.
    pub(crate) fn mean_service_s(&self) -> f64 {
        let own = match self.service_shape {
            ServiceShape::Lognormal => {
                self.service_median_ms * (self.service_sigma.powi(2) / 2.0).exp()
            }
            ServiceShape::Exp => self.service_median_ms,
        } / 1000.0;
        own + self.effective().alloc_cpu_s
    }
}

impl Validate for GcParams {
    fn validate(&self) -> Result<(), ParamsError> {
        require_count(
            "tuning_step",
            self.tuning_step,
            0..=3,
            "(the article's rows)",
        )?;
        require_positive("arrival_rate", self.arrival_rate)?;
        if self.arrival_rate > 1e7 {
            return Err(ParamsError::out_of_range(
                "arrival_rate",
                self.arrival_rate,
                "at most 10,000,000 requests per second",
            ));
        }
        require_count("cores", self.cores, 1..=1024, "cores")?;
        require_positive("service_median_ms", self.service_median_ms)?;
        if !(0.0..=3.0).contains(&self.service_sigma) {
            return Err(ParamsError::out_of_range(
                "service_sigma",
                self.service_sigma,
                "0 to 3",
            ));
        }
        require_non_negative("alloc_kb_per_request", self.alloc_kb_per_request)?;
        require_non_negative("objects_per_request", self.objects_per_request)?;
        for (k, v) in [
            ("alloc_ns_custom", self.alloc_ns_custom),
            ("alloc_ns_mimalloc", self.alloc_ns_mimalloc),
            ("alloc_ns_system", self.alloc_ns_system),
            ("alloc_ns_jemalloc", self.alloc_ns_jemalloc),
            ("ttsp_mean_ms", self.ttsp_mean_ms),
            ("root_scan_ms", self.root_scan_ms),
            ("max_heap_mb", self.max_heap_mb),
            ("warmup_s", self.warmup_s),
        ] {
            require_non_negative(k, v)?;
        }
        for (k, v) in [
            ("live_set_mb", self.live_set_mb),
            ("target_heap_mb", self.target_heap_mb),
            ("min_heap_mb", self.min_heap_mb),
            ("regular_gc_interval_s", self.regular_gc_interval_s),
            ("mark_gb_per_s", self.mark_gb_per_s),
            ("concurrent_mark_gb_per_s", self.concurrent_mark_gb_per_s),
            ("sweep_gb_per_s", self.sweep_gb_per_s),
            ("budget_mb", self.budget_mb),
            ("duration_s", self.duration_s),
        ] {
            require_positive(k, v)?;
        }
        for (k, v) in [
            ("live_cv", self.live_cv),
            ("remark_fraction", self.remark_fraction),
            ("large_pages_cut", self.large_pages_cut),
            ("pool_alloc_cut", self.pool_alloc_cut),
            ("pause_sigma", self.pause_sigma),
        ] {
            require_probability(k, v)?;
        }
        if !(0.05..=0.95).contains(&self.target_utilization) {
            return Err(ParamsError::out_of_range(
                "target_utilization",
                self.target_utilization,
                "0.05 to 0.95",
            ));
        }
        if !(0.1..=1.0).contains(&self.trigger_coefficient) {
            return Err(ParamsError::out_of_range(
                "trigger_coefficient",
                self.trigger_coefficient,
                "0.1 to 1",
            ));
        }
        if self.gc && self.gc_threads >= self.cores {
            return Err(ParamsError::out_of_range(
                "gc_threads",
                self.gc_threads,
                "fewer than `cores`",
            ));
        }
        if self.max_heap_mb > 0.0 && self.max_heap_mb < self.min_heap_mb {
            return Err(ParamsError::out_of_range(
                "max_heap_mb",
                self.max_heap_mb,
                "0 (unbounded) or at least `min_heap_mb`",
            ));
        }
        if self.duration_s + self.warmup_s > 86_400.0 {
            return Err(ParamsError::out_of_range(
                "duration_s",
                self.duration_s,
                "duration_s + warmup_s at most one day",
            ));
        }
        if self.version().is_none() {
            return Err(ParamsError::out_of_range(
                "kn_version",
                &self.kn_version,
                "a version `major.minor.patch` such as \"1.9.20\"",
            ));
        }
        let rho = self.arrival_rate * self.mean_service_s() / f64::from(self.cores);
        if rho >= 1.0 {
            return Err(ParamsError::out_of_range(
                "arrival_rate",
                self.arrival_rate,
                &format!(
                    "a load below 1 per core before GC (arrival_rate × mean service / cores is {rho:.3})"
                ),
            ));
        }
        Ok(())
    }
}
