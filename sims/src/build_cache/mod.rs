//! The `build_cache` room: a Gradle/KMP build cache over a module graph and a commit stream
//! (article 10).
//!
//! The article claims a remote cache plus three fixes (locked compiler flags, no BuildConfig
//! timestamp, deterministic annotation processors) took a 48-module KMP build from 14m32s to
//! 4m18s clean and 8m45s to 2m12s incremental, CI hits from 23% to 87%, local hits from 0% to
//! 72%, with 4.2 GB stored in 30 days; that keys are SHA-256, that the default path sensitivity
//! is RELATIVE and not relocatable, and that only CI should push.
//!
//! ```text
//!  commits (source impl/ABI edits, dependency bumps, build logic, docs) ──► main
//!     │ each commit: incremental CI build (persistent agent) then clean CI build (pushes)
//!     │ developers: git pull (+ an uncommitted edit) ──► build (IDE flags?, other checkout)
//!     ▼
//!  per task, in graph order: key = H(implementation, values, file fingerprints)
//!     up-to-date in this workspace? ─► local cache? ─► remote cache? ─► execute (+ push)
//!  wall time = overhead + list schedule of the tasks' costs on `workers` slots
//! ```
//!
//! Keys follow Gradle's structure (research §1.1): implementation, value inputs, file inputs
//! normalized by path sensitivity; JVM-family compile classpaths by ABI, klibs, tests and
//! packaging by content. Outputs are a function of input contents, except a nondeterministic
//! generator's, which differ on re-execution. Left out: configuration cache, remote errors,
//! local-cache eviction, PR branches, upload bandwidth.

mod graph;
mod metrics;
mod model;
mod params;
pub mod real;
mod sources;
#[cfg(test)]
mod tests;
mod world;

pub use params::{BuildCacheParams, KILLERS, KeyHash, Sensitivity};
pub use real::BuildCacheKernel;
pub use sources::{abi_view, source_dir, source_files, source_fingerprint};

use crate::params::ParamsError;
use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};
use model::{Totals, mean};
use world::{CLASS_NAMES, World};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct BuildCache;

fn storage_30d_gb(t: &Totals) -> f64 {
    let d = &t.storage_mb_by_day;
    let gb = match d.as_slice() {
        [] => 0.0,
        [only] => *only,
        [first, .., last] => first + (last - first) * 29.0 / (d.len() - 1) as f64,
    };
    gb / 1000.0
}

fn emit(o: &mut Outcome, t: &Totals) {
    o.set_proportion("hit_rate_ci", t.ci.hits, t.ci.hits + t.ci.misses);
    let inc = t.ci_incremental;
    o.set_proportion("hit_rate_ci_incremental", inc.hits, inc.hits + inc.misses);
    o.set_proportion(
        "hit_rate_local",
        t.local.hits,
        t.local.hits + t.local.misses,
    );
    o.set("build_time_clean_s", mean(&t.clean_s));
    o.set("build_time_incremental_s", mean(&t.incremental_s));
    let all: Vec<f64> = t.clean_s.iter().chain(&t.incremental_s).copied().collect();
    o.set("build_time_ci_s", mean(&all));
    o.set("build_time_local_s", mean(&t.local_s));
    o.set("build_time_cold_s", t.cold_s);
    for (i, name) in CLASS_NAMES.iter().enumerate() {
        let (clean, inc) = &t.by_class[i];
        if !clean.is_empty() {
            o.set(format!("build_time_clean_s_{name}"), mean(clean));
            o.set(format!("build_time_incremental_s_{name}"), mean(inc));
        }
    }
    let stored = t.storage_mb_by_day.last().copied().unwrap_or(0.0);
    o.set("cache_storage_gb", stored / 1000.0);
    o.set("cache_storage_gb_30d", storage_30d_gb(t));
    o.set("key_survives_move_fraction", t.survives_move);
}

/// Runs one replication: the configuration asked for, and with `attribution` the stream again
/// with all four killers present and with each fix alone (same world: common random numbers).
pub(crate) fn run_replication(p: &BuildCacheParams, ctx: &RunContext) -> Outcome {
    let world = World::new(p, p.graph_edges.clone(), &ctx.streams);
    let stream = || ctx.streams.stream("outputs");
    let totals = model::run(p, &world, stream());
    let mut o = Outcome::default();
    emit(&mut o, &totals);
    o.set(
        "cache_key_bits",
        match p.key_hash {
            KeyHash::Md5 => 128.0,
            KeyHash::Sha256 => 256.0,
        },
    );
    if p.attribution {
        let present = BuildCacheParams {
            ide_flag_drift: true,
            buildconfig_timestamp: true,
            nondeterministic_codegen: true,
            absolute_paths: true,
            fixes_applied: 0,
            attribution: false,
            ..p.clone()
        };
        let base = model::run(&present, &world, stream());
        let pc = |c: model::Counts| (c.hits, c.hits + c.misses);
        let (h, n) = pc(base.ci);
        o.set_proportion("hit_rate_ci_all_killers", h, n);
        let (h, n) = pc(base.local);
        o.set_proportion("hit_rate_local_all_killers", h, n);
        let (clean0, inc0) = (mean(&base.clean_s), mean(&base.incremental_s));
        o.set("build_time_clean_s_all_killers", clean0);
        o.set("build_time_incremental_s_all_killers", inc0);
        o.set(
            "build_time_clean_reduction_fraction",
            1.0 - mean(&totals.clean_s) / clean0,
        );
        o.set(
            "build_time_incremental_reduction_fraction",
            1.0 - mean(&totals.incremental_s) / inc0,
        );
        for (i, suffix) in metrics::KILLER_SUFFIX.iter().enumerate() {
            let mut alone = present.clone();
            match i {
                0 => alone.ide_flag_drift = false,
                1 => alone.buildconfig_timestamp = false,
                2 => alone.nondeterministic_codegen = false,
                _ => alone.absolute_paths = false,
            }
            let t = model::run(&alone, &world, stream());
            let (h, n) = pc(t.ci);
            o.set_proportion(format!("hit_rate_ci_fix_alone_{suffix}"), h, n);
            let (h, n) = pc(t.local);
            o.set_proportion(format!("hit_rate_local_fix_alone_{suffix}"), h, n);
        }
    }
    o
}

impl Room for BuildCache {
    const NAME: &'static str = "build_cache";
    const DESCRIPTION: &'static str = "Gradle/KMP build cache: task keys over a module graph and a commit stream, cache killers, local and remote caches, build times";
    type Params = BuildCacheParams;

    // How much is simulated, not what: `--quick` may shrink these.
    const HORIZON: &'static [&'static str] = &["days"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&BuildCacheKernel]
    }

    fn work(p: &BuildCacheParams) -> Option<Work> {
        // Measured: 30 days of the defaults (600 CI and 1,440 developer builds of 48 modules)
        // in about 0.6 s of one core.
        let builds = f64::from(p.days)
            * (p.commits_per_day + f64::from(p.developers) * p.dev_builds_per_day);
        Some(Work {
            units: builds * f64::from(p.modules),
            unit: "module builds",
            per_second: 1.7e5,
        })
    }

    fn prepare(p: &mut BuildCacheParams) -> Result<(), ParamsError> {
        if p.module_graph_file.is_empty() {
            p.graph_edges = None;
            return Ok(());
        }
        let text = std::fs::read_to_string(&p.module_graph_file).map_err(|e| {
            ParamsError::out_of_range(
                "module_graph_file",
                &p.module_graph_file,
                &format!("a readable edge-list file ({e})"),
            )
        })?;
        p.graph_edges = Some(graph::read_edges(&text, &p.module_graph_file)?);
        Ok(())
    }

    fn run(p: &BuildCacheParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        Ok(run_replication(p, ctx))
    }
}
