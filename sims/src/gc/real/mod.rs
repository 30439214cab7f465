//! The `gc_allocators` kernel: an allocation-heavy JSON handler under an open-loop load, with
//! the system allocator, mimalloc (with and without the article's variables) and jemalloc,
//! with and without pooling, repeated.
//!
//! A process has one `#[global_allocator]`, so each allocator runs in its own child process:
//! the `lab-alloc-system`, `lab-alloc-mimalloc` and `lab-alloc-jemalloc` executables that the
//! harness builds beside `lab` (harness feature `allocators`, on by default). Each child runs
//! [`workload::child_run`] and prints one JSON object; this side starts them, interleaving the
//! configurations within each trial, and folds the trials into means with intervals.
//!
//! Rust has no collector: the kernel measures what the article's last rows rely on (allocator
//! cost, what pooling removes, what the variables do to the mimalloc we link) and calibrates
//! the model's allocator costs; GC pauses stay in the model.

#[cfg(feature = "allocators")]
pub mod allocators;
mod parent;
pub mod workload;

use serde::{Deserialize, Serialize};

pub use workload::{AllocCounter, ChildArgs, Counting, child_main};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport};

/// The `[real]` table of a gc scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// Times every configuration is repeated (a fresh process each time).
    pub trials: u32,
    /// Seconds of load per configuration and variant.
    pub duration_s: f64,
    /// Worker threads (0: the machine's cores). Default 1: the load generator and the
    /// machine's other processes share the cores.
    pub workers: u32,
    /// Offered load per worker, from the system allocator's single-threaded service time.
    pub utilization: f64,
    /// Request body size, bytes (the article: 50 KB).
    pub body_bytes: u32,
    /// Allocate-free pairs in each child's microbenchmark.
    pub micro_ops: u32,
    /// Where the children are; empty: beside the running `lab` (or one level up).
    pub children_dir: String,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            trials: 4,
            duration_s: 1.5,
            workers: 1,
            utilization: 0.4,
            body_bytes: 50_000,
            micro_ops: 2_000_000,
            children_dir: String::new(),
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        params::require_count("trials", p.trials, 1..=50, "trials")?;
        if !(0.05..=600.0).contains(&p.duration_s) {
            return Err(ParamsError::out_of_range(
                "duration_s",
                p.duration_s,
                "0.05 to 600 s",
            ));
        }
        params::require_count("workers", p.workers, 0..=256, "workers")?;
        if !(0.05..=0.95).contains(&p.utilization) {
            return Err(ParamsError::out_of_range(
                "utilization",
                p.utilization,
                "0.05 to 0.95",
            ));
        }
        params::require_count("body_bytes", p.body_bytes, 1_000..=10_000_000, "bytes")?;
        params::require_count("micro_ops", p.micro_ops, 1_000..=100_000_000, "pairs")?;
        Ok(p)
    }

    /// The smaller run `--quick` asks for: a few seconds in all.
    fn quick(mut self) -> RealParams {
        self.trials = self.trials.min(3);
        self.duration_s = self.duration_s.min(0.2);
        self.micro_ops = self.micro_ops.min(200_000);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct GcAllocators;

impl Kernel for GcAllocators {
    fn name(&self) -> &'static str {
        "gc_allocators"
    }

    fn description(&self) -> &'static str {
        "an allocation-heavy JSON handler (serde_json::Value vs a borrowed parse with reused \
         buffers) under an open-loop load with the system allocator, mimalloc (with and without \
         the article's variables) and jemalloc, in child processes; latency, allocations, \
         allocator cost and the options mimalloc read"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        let p = RealParams::from_table(real).map_err(|e| e.to_string())?;
        parent::children(&p).map(|c| format!("allocator children in {}", c.dir.display()))
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        let p = if ctx.quick { p.quick() } else { p };
        parent::run(&p, ctx)
    }
}
