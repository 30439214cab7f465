//! One replication: every image built once on the default branch at hour 0 (the cold start, not
//! counted), then Poisson builds per image over `days`, each a commit drawn from the mix, on the
//! default branch or a pull request. At each counted default-branch build, a probe prices a
//! commit of every class from the same cache state (the per-class metrics), without building it.

use super::dockerfile::Op;
use super::model::{CLASSES, Class, Cost, World};
use super::params::LayerCacheParams;
use crate::des::{RngStreams, uniform};
use crate::simulation::Outcome;

/// Per-class running sums of probe costs.
#[derive(Default, Clone)]
struct Sums {
    n: u64,
    total: f64,
    phase: [f64; 4],
    deps_ran: u64,
}

impl Sums {
    fn add(&mut self, c: &Cost) {
        self.n += 1;
        self.total += c.total();
        for k in 0..4 {
            self.phase[k] += c.phase[k];
        }
        self.deps_ran += u64::from(c.deps_ran);
    }

    fn mean(&self, x: f64) -> f64 {
        if self.n == 0 { 0.0 } else { x / self.n as f64 }
    }
}

fn draw_class(p: &LayerCacheParams, u: f64) -> Class {
    let mut acc = 0.0;
    for (c, share) in [
        (Class::Deps, p.mix_deps),
        (Class::Base, p.mix_base),
        (Class::Dockerfile, p.mix_dockerfile),
        (Class::Docs, p.mix_docs),
    ] {
        acc += share;
        if u < acc {
            return c;
        }
    }
    Class::Source
}

/// The step whose instruction a Dockerfile commit edits: any step but a `FROM`, uniformly.
fn draw_step(w: &World<'_>, u: f64) -> usize {
    let editable: Vec<usize> = (0..w.df.steps.len())
        .filter(|&i| w.df.steps[i].op != Op::From)
        .collect();
    editable[((u * editable.len() as f64) as usize).min(editable.len() - 1)]
}

/// The build RUN (the step the real kernel's Dockerfile edit changes, and the probes').
pub(super) fn build_step(w: &World<'_>) -> usize {
    (0..w.df.steps.len())
        .rev()
        .find(|&i| matches!(w.df.steps[i].op, Op::Run { cache_mount: false }))
        .unwrap_or(w.df.steps.len() - 1)
}

/// Runs one replication and fills the room's metrics.
pub(super) fn run(p: &LayerCacheParams, streams: &RngStreams) -> Outcome {
    let mut w = World::new(p);
    let horizon_h = p.days * 24.0;
    // Arrivals per image (one stream each, so adding an image does not move another's).
    let mut builds: Vec<(f64, u32)> = Vec::new();
    for m in 0..p.images {
        let mut rng = streams.stream(&format!("arrivals{m}"));
        let rate_h = p.builds_per_day / 24.0;
        let mut t = 0.0;
        loop {
            t += -(1.0 - uniform(&mut rng)).ln() / rate_h;
            if t >= horizon_h {
                break;
            }
            builds.push((t, m));
        }
    }
    builds.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut commits = streams.stream("commits");
    let cap_mb = p.gha_cap_gb * 1000.0;

    for m in 0..p.images {
        let inputs = w.main[m as usize].clone();
        w.build(m, &inputs, 0, 0.0);
    }
    let mut next_check = p.gha_eviction_interval_h;
    let mut mix = Sums::default();
    let mut probes = vec![Sums::default(); CLASSES.len()];
    let (mut lookups, mut hits, mut evicted_misses) = (0u64, 0u64, 0u64);
    let (mut import_s, mut export_s) = (0.0, 0.0);
    let (mut intermediate, mut counted) = (0u64, 0u64);
    let mut pr_scope = 0u64;
    let probe_step = build_step(&w);
    for (h, m) in builds {
        while next_check <= h {
            w.gha.evict(next_check, cap_mb, p.gha_idle_days);
            next_check += p.gha_eviction_interval_h;
        }
        let pr = uniform(&mut commits) < p.pr_build_fraction;
        let class = draw_class(p, uniform(&mut commits));
        let step = draw_step(&w, uniform(&mut commits));
        let base = w.main[m as usize].clone();
        if !pr {
            for (k, c) in CLASSES.iter().enumerate() {
                let next = w.after(&base, *c, probe_step);
                let cost = w.probe(m, &next, 0);
                probes[k].add(&cost);
            }
        }
        let next = w.after(&base, class, step);
        let scope = if pr {
            pr_scope += 1;
            pr_scope
        } else {
            0
        };
        let cost = w.build(m, &next, scope, h);
        if !pr {
            w.main[m as usize] = next;
        }
        mix.add(&cost);
        counted += 1;
        lookups += cost.lookups;
        hits += cost.hits;
        evicted_misses += cost.evicted_misses;
        import_s += cost.import_s;
        export_s += cost.export_s;
        intermediate += u64::from(cost.intermediate_ran);
    }
    while next_check <= horizon_h {
        w.gha.evict(next_check, cap_mb, p.gha_idle_days);
        next_check += p.gha_eviction_interval_h;
    }

    let mut out = Outcome::default();
    out.set("build_time_s", mix.mean(mix.total));
    for (k, c) in CLASSES.iter().enumerate() {
        out.set(
            format!("build_time_{}_s", c.name()),
            probes[k].mean(probes[k].total),
        );
    }
    let phases = ["pull", "deps", "compile", "assembly"];
    for (j, ph) in phases.iter().enumerate() {
        out.set(format!("phase_{ph}_s"), mix.mean(mix.phase[j]));
        for (k, c) in [(0usize, "source"), (1, "deps")] {
            out.set(
                format!("phase_{ph}_{c}_s"),
                probes[k].mean(probes[k].phase[j]),
            );
        }
    }
    out.set_proportion("layer_hit_rate", hits, lookups);
    out.set_proportion("eviction_miss_fraction", evicted_misses, lookups);
    out.set_proportion("intermediate_rebuild_fraction", intermediate, counted);
    out.set_proportion("deps_rebuild_fraction", mix.deps_ran, counted);
    out.set_proportion(
        "deps_rebuild_source_fraction",
        probes[0].deps_ran,
        probes[0].n,
    );
    out.set("cache_import_s", mix.mean(import_s));
    out.set("cache_export_s", mix.mean(export_s));
    out.set_rate("evictions_per_day", w.gha.evicted, p.days, 1.0);
    out.set_rate("expired_per_day", w.gha.expired, p.days, 1.0);
    out.set(
        "first_eviction_day",
        w.gha.first_eviction_h.map_or(p.days, |h| h / 24.0),
    );
    out.set("cache_size_gb", w.stored_mb() / 1000.0);
    out.set_count("builds", counted);
    let (pack, _, _) = p.codec();
    out.set(
        "context_layer_cpu_s",
        p.context_mb / p.tar_mb_per_s + p.context_mb / p.checksum_mb_per_s + p.context_mb / pack,
    );
    super::cascade_metrics(&w, &mut out);
    out
}
