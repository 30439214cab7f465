//! The `gc` room: a multi-core server with a Kotlin/Native-style tracing collector at a fixed
//! arrival rate (article 06, "Kotlin/Native GC tuning that cut P99 latency by 60%"). The article
//! claims a 512 MB `targetHeapBytes`, three mimalloc environment variables and object pooling
//! take a 5,000 RPS server's P99 from 85 to 34 ms and its longest GC pause from 120 to 45 ms.
//!
//! ```text
//!  Poisson arrivals ─► FIFO ─► c cores ─► response (latency = finish − arrival)
//!                                 │ each start allocates a·(1 − pool) bytes
//!                                 ▼
//!  heap = alive after last GC + allocated since the last GC started
//!     heap ≥ 0.9·target ─► epoch: STW (safepoint, roots, [parallel mark]) freezes every core
//!                                 [cms: concurrent mark on gc_threads, STW #2]
//!                                 concurrent sweep on gc_threads (fewer cores serve)
//!     heap ≥ target during an epoch (assists on) ─► every core stalls until the epoch ends
//!     epoch end: alive = live set drawn; autotune: target = clamp(live / 0.5, min, max)
//! ```
//!
//! Assumptions: a request allocates all its bytes when it starts; the live set is stationary
//! around its mean; a frozen request resumes where it stopped; concurrent GC threads take whole
//! cores from the workers (no time slicing); allocation cost is a per-object CPU time added to
//! the request's work, lower with huge pages; pooling cuts bytes and objects alike. Runtime
//! facts (phases, deprecated settings, the default allocator) are read from the sources cited
//! in `research/domain-models.md` §2.1, as functions of `kn_version`.
//!
//! The real kernel (`gc_allocators`) runs an allocation-heavy JSON handler under an open-loop
//! load in child processes, one per allocator (system, mimalloc, jemalloc), and calibrates the
//! allocator costs and the pooling cut.

mod metrics;
mod model;
mod params;
pub mod real;
#[cfg(test)]
mod tests;

pub use params::{Allocator, BudgetVia, Collector, GcParams, ServiceShape};
pub use real::GcAllocators;

use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Gc;

impl Room for Gc {
    const NAME: &'static str = "gc";
    const DESCRIPTION: &'static str = "a c-core server under a Kotlin/Native-style tracing GC: trigger rule, autotune, STW pauses, concurrent phases, allocator cost, pooling";
    type Params = GcParams;

    // How much is simulated, not what: `--quick` may shorten it. The maximum pause grows with
    // the run's length, so claims on it are judged at the full length.
    const HORIZON: &'static [&'static str] = &["duration_s", "warmup_s"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&GcAllocators]
    }

    fn work(p: &GcParams) -> Option<Work> {
        Some(Work {
            // Rows after the first also run the default row (their gain over it).
            units: p.arrival_rate
                * (p.duration_s + p.warmup_s)
                * if p.gc && p.tuning_step > 0 { 2.0 } else { 1.0 },
            unit: "requests",
            per_second: 3e6,
        })
    }

    fn run(params: &GcParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        let mut out = model::run(params, &ctx.streams)?;
        if params.gc && params.tuning_step > 0 {
            // The default row on the same random numbers: what this row gained over it.
            let base = GcParams {
                tuning_step: 0,
                ..params.clone()
            };
            let b = model::run(&base, &ctx.streams)?;
            for (gain, metric) in [
                ("latency_p99_gain_ms", "latency_p99_ms"),
                ("gc_pause_max_gain_ms", "gc_pause_max_ms"),
            ] {
                if let (Some(x0), Some(x)) = (b.metrics.get(metric), out.metrics.get(metric)) {
                    let g = x0 - x;
                    out.set(gain, g);
                }
            }
        }
        facts(params, &mut out);
        Ok(out)
    }
}

/// The runtime facts the article states, read from the sources (research §2.1) for the
/// version `kn_version`.
fn facts(p: &GcParams, out: &mut Outcome) {
    let v = p.version().unwrap_or((2, 1, 0));
    // The new memory manager (default from 1.7.20) has no cycle collector: mark and sweep.
    let new_mm = v >= (1, 7, 20);
    out.set("gc_phase_count", if new_mm { 2.0 } else { 3.0 });
    // `cyclicCollectorEnabled` is a deprecated no-op of the legacy memory manager.
    out.set(
        "cyclic_collector_setting_effective",
        if new_mm { 0.0 } else { 1.0 },
    );
    // The custom paged allocator is the default from 1.9.20 (what's new in 1.9.20).
    out.set(
        "default_allocator_is_mimalloc",
        if v < (1, 9, 20) { 1.0 } else { 0.0 },
    );
    // The runtime's own allocator reads no MIMALLOC_* variable; its bundled mimalloc 1.7.1
    // reads the older names (MIMALLOC_EAGER_REGION_COMMIT, MIMALLOC_RESET_DELAY,
    // MIMALLOC_LARGE_OS_PAGES), not the article's (renamed upstream in April 2023).
    out.set("article_env_vars_read_fraction", 0.0);
    out.set("pooling_gc_frequency_ratio", 1.0 - p.pool_alloc_cut);
}
