//! The `layer_cache` room: container image builds in CI with BuildKit's layer cache (article 12).
//! The article claims cache mounts, a registry-backed layer cache with `mode=max` and a
//! multi-stage Dockerfile take a GitHub Actions build from 12 minutes to 90 seconds (its phase
//! table: 45 s / 6 min / 4 min / 1 min → 5 / 15 / 50 / 20 s), that `mode=max` is needed for
//! intermediate stages, that cache mounts keep npm's cache warm across runs, and that the Actions
//! cache's 10 GB cap makes a monorepo evict "within days".
//!
//! ```text
//!  commit (source | deps | base | dockerfile | docs)          per image, Poisson; PR or main
//!     │ step keys: instruction text ⊕ parent key ⊕ checksum of COPY'd groups / source step
//!     ▼
//!  solver: final image's steps ── hit (builder store | remote records) ── files needed? download
//!                               └─ miss ── parent's files ── run (npm ci: cold or warm mount)
//!     ▼
//!  image push (new layers) ── --cache-to (min: image steps | max: every step)
//!     ▼
//!  registry ref (last export wins) | Actions cache (scoped entries, 10 GB cap, LRU, 7-day idle)
//! ```
//!
//! Assumptions: a rebuilt step produces different bytes (no reproducible builds), so a
//! `COPY --from` of it misses; each image has its own Dockerfile keys (nothing shared between
//! images); the base image is pulled from its own registry whenever a step must run on it; the
//! cold phase times are the article's; a pull-request build reads the default branch's cache and
//! writes to its own scope (Actions cache) or, when `pr_registry_export`, over the image's ref
//! (registry); a pull request's content never reaches the default branch (merges are not
//! modelled); the registry keeps every layer (no garbage collection). The keys follow `dockerfile.rs`; the real kernel
//! (`layer_tar`) computes them for real on a source tree and checks the cascade.

pub mod dockerfile;
mod gha;
mod metrics;
mod model;
mod params;
pub mod real;
mod stream;
#[cfg(test)]
mod tests;

pub use params::{Backend, Builder, Compression, LayerCacheParams, Mode};
pub use real::LayerTar;

use self::dockerfile::{Dockerfile, Inputs};
use self::model::{CLASSES, World};
use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct LayerCache;

impl Room for LayerCache {
    const NAME: &'static str = "layer_cache";
    const DESCRIPTION: &'static str = "container layer caching in CI: BuildKit cache keys, invalidation, cache backends (registry, Actions cache with its cap), export modes, cache mounts";
    type Params = LayerCacheParams;

    // How much is simulated, not what: `--quick` may shorten it.
    const HORIZON: &'static [&'static str] = &["days"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&LayerTar]
    }

    fn work(p: &LayerCacheParams) -> Option<Work> {
        // Measured: 30 days of 6 images at 20 builds a day in about 0.03 s of one core.
        Some(Work {
            units: p.days * p.builds_per_day * f64::from(p.images),
            unit: "image builds",
            per_second: 1.3e5,
        })
    }

    fn run(params: &LayerCacheParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        Ok(stream::run(params, &ctx.streams))
    }
}

/// The steps whose keys a commit of each class changes, from a first build's inputs.
fn cascade_metrics(w: &World<'_>, out: &mut Outcome) {
    let step = stream::build_step(w);
    let first = Inputs::new(&w.df, w.main[0].ignored.clone());
    for c in CLASSES {
        let n = dockerfile::cascade(&w.df, &first, c.edit(step)).len();
        out.set(format!("invalidated_steps_{}", c.name()), n as f64);
    }
}

/// The invalidation cascade the model predicts for the real kernel's edits: for each class
/// name, the steps of the article's multi-stage Dockerfile whose key changes (`docs_ignored`:
/// a docs edit with `.dockerignore` dropping the docs).
pub fn predicted_cascades() -> Vec<(&'static str, Vec<usize>)> {
    use self::dockerfile::{Group, Shape};
    let df = Dockerfile::of(Shape::MultiStage);
    let p = LayerCacheParams::default();
    let w = World::new(&p);
    let step = stream::build_step(&w);
    let mut out = Vec::new();
    for c in CLASSES {
        let first = Inputs::new(&df, vec![]);
        out.push((c.name(), dockerfile::cascade(&df, &first, c.edit(step))));
    }
    let ignored = Inputs::new(&df, vec![Group::Docs]);
    out.push((
        "docs_ignored",
        dockerfile::cascade(&df, &ignored, model::Class::Docs.edit(step)),
    ));
    out
}
