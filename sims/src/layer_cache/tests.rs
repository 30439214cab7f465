//! The room's tests: the cascade against BuildKit's rule worked by hand, the cold build against
//! the article's phase sum, the solver's hits and misses per backend and mode, the Actions
//! cache's eviction order, and determinism.

use super::dockerfile::{Dockerfile, Edit, Group, Inputs, Shape, cascade};
use super::gha::ActionsCache;
use super::{LayerCache, predicted_cascades};
use crate::room::testing::replicate;
use crate::simulation::RunContext;

/// Tolerance for sums of seconds the model adds up exactly.
const ABS_TOL_S: f64 = 1e-6;

fn edits(shape: Shape, ignored: Vec<Group>) -> Vec<Vec<usize>> {
    let df = Dockerfile::of(shape);
    let first = Inputs::new(&df, ignored);
    let build = (0..df.steps.len())
        .rev()
        .find(|&i| df.steps[i].text.contains("npm run build"))
        .unwrap();
    [
        Edit::Group(Group::Source),
        Edit::Group(Group::Manifest),
        Edit::Base,
        Edit::Instruction(build),
        Edit::Group(Group::Docs),
    ]
    .into_iter()
    .map(|e| cascade(&df, &first, e))
    .collect()
}

#[test]
fn cascade_follows_buildkits_rule() {
    // Multi-stage: 0 FROM, 1 WORKDIR, 2 COPY manifests, 3 npm ci | 4 COPY . ., 5 build |
    // 6 FROM, 7 WORKDIR, 8 COPY --from=builder, 9 COPY --from=deps.
    let e = edits(Shape::MultiStage, vec![]);
    // The runtime stage copies dist before node_modules: the node_modules copy's parent
    // changes with dist, so it is invalidated too (same bytes, new key).
    assert_eq!(
        e[0],
        vec![4, 5, 8, 9],
        "source: the builder stage and both runtime copies"
    );
    assert_eq!(
        e[1],
        vec![2, 3, 4, 5, 8, 9],
        "lockfile: everything after the manifests"
    );
    assert_eq!(
        e[2],
        (0..10).collect::<Vec<_>>(),
        "base: every step of both images"
    );
    assert_eq!(
        e[3],
        vec![4, 5, 8, 9],
        "the Dockerfile is in the context: COPY . . changes too"
    );
    assert_eq!(
        e[4],
        vec![4, 5, 8, 9],
        "docs in the context invalidate COPY . ."
    );
    let ignored = edits(Shape::MultiStage, vec![Group::Docs, Group::Dockerfile]);
    assert!(
        ignored[4].is_empty(),
        "docs dropped by .dockerignore: nothing changes"
    );
    assert_eq!(
        ignored[3],
        vec![5, 8, 9],
        "only the edited step and what follows from it"
    );
    // Coupled: 0 FROM, 1 WORKDIR, 2 COPY . ., 3 npm ci, 4 build: every source commit reinstalls.
    let c = edits(Shape::Coupled, vec![]);
    assert_eq!(c[0], vec![2, 3, 4]);
    // The model's predictions for the kernel are these cascades.
    let p = predicted_cascades();
    assert_eq!(p[0], ("source", vec![4, 5, 8, 9]));
    assert_eq!(p[5], ("docs_ignored", vec![]));
}

#[test]
fn descendants_match_the_cascade_of_a_step_edit() {
    let df = Dockerfile::of(Shape::MultiStage);
    let ignored = vec![Group::Docs, Group::Dockerfile];
    for i in 1..df.steps.len() {
        let got = cascade(
            &df,
            &Inputs::new(&df, ignored.clone()),
            Edit::Instruction(i),
        );
        assert_eq!(got, df.descendants(i), "step {i}");
    }
}

fn one(params: &str) -> std::collections::BTreeMap<String, f64> {
    let r = replicate::<LayerCache>(params, 1, 7);
    r.into_iter().map(|(k, e)| (k, e.mean)).collect()
}

#[test]
fn without_a_cache_every_build_is_the_article_cold_build() {
    let m = one("backend = \"none\"\ndays = 3");
    // 45 + 360 + 240 + 60 s, plus checksumming and sending the 30 MB context (400 and 800 MB/s).
    let cold = 705.0 + 30.0 / 400.0 + 30.0 / 800.0;
    for c in ["source", "deps", "base", "dockerfile", "docs"] {
        let t = m[&format!("build_time_{c}_s")];
        assert!((t - cold).abs() < ABS_TOL_S, "{c}: {t}");
    }
    assert_eq!(m["layer_hit_rate"], 0.0);
    assert_eq!(m["deps_rebuild_fraction"], 1.0);
}

#[test]
fn registry_max_keeps_the_deps_stage_and_min_loses_it() {
    // Pull-request builds write to the same registry ref: a lockfile PR's export replaces the
    // default branch's deps records until the next default-branch build.
    let shared = one("days = 5\npr_registry_export = true");
    assert!(shared["deps_rebuild_source_fraction"] > 0.0);
    let max = one("days = 5");
    assert_eq!(max["deps_rebuild_source_fraction"], 0.0);
    // A source commit: pull the base (the build runs on deps' files), download node_modules,
    // run the build, push dist. No npm ci.
    assert!(max["phase_pull_source_s"] >= 45.0);
    assert!(max["phase_compile_source_s"] >= 240.0);
    assert!(
        max["phase_deps_source_s"] < 20.0,
        "{}",
        max["phase_deps_source_s"]
    );
    let min = one("mode = \"min\"\ndays = 5");
    assert_eq!(min["deps_rebuild_source_fraction"], 1.0);
    assert!(min["build_time_source_s"] > max["build_time_source_s"] + 300.0);
    // A docs-only commit with the docs ignored changes no key: even min hits at the image.
    let ignored = one("mode = \"min\"\ndockerignore_docs = true\ndays = 5");
    assert!(
        ignored["build_time_docs_s"] < 60.0,
        "{}",
        ignored["build_time_docs_s"]
    );
}

#[test]
fn cache_mounts_help_only_a_persistent_builder() {
    let hosted = one("days = 5");
    let cold = 360.0;
    assert!(
        hosted["phase_deps_deps_s"] >= cold,
        "an empty mount on every hosted job"
    );
    let own = one("builder = \"persistent\"\ndays = 5");
    let warm = 0.3 * cold;
    assert!(
        (own["phase_deps_deps_s"] - warm).abs() < 1.0,
        "{}",
        own["phase_deps_deps_s"]
    );
    // Only the cache manifest fetch (1 s) is left of the pull phase.
    assert!(
        own["phase_pull_source_s"] <= 1.0 + ABS_TOL_S,
        "the base image stays on the builder"
    );
}

#[test]
fn the_actions_cache_evicts_least_recently_used_over_its_cap() {
    let mut c = ActionsCache::default();
    c.save((0, 1), 600.0, 0.0);
    c.save((0, 2), 600.0, 1.0);
    c.touch((0, 1), 2.0);
    c.save((0, 3), 600.0, 3.0);
    c.evict(4.0, 1500.0, 7.0);
    assert_eq!(c.evicted, 1);
    assert!(c.visible(0, 2).is_none(), "2 was least recently used");
    assert!(
        c.visible(5, 1).is_some(),
        "a PR scope sees the default branch"
    );
    c.evict(24.0 * 7.0 + 2.5, 1500.0, 7.0);
    assert_eq!(
        c.expired, 1,
        "1 (touched at 2 h) idles out; 3 (saved at 3 h) is kept"
    );
    assert!(c.visible(0, 3).is_some());
}

#[test]
fn a_monorepo_fills_the_actions_cache_and_a_registry_never_evicts() {
    let gha = one("backend = \"gha\"\nimages = 8\ndays = 7");
    assert!(gha["evictions_per_day"] > 0.0);
    assert!(gha["first_eviction_day"] < 7.0);
    assert!(gha["cache_size_gb"] <= 10.0 + 1e-9);
    let reg = one("images = 8\ndays = 7");
    assert_eq!(reg["evictions_per_day"], 0.0);
    assert!(reg["cache_size_gb"] > 10.0);
}

#[test]
fn same_seed_same_outcome() {
    let p: toml::Table = "backend = \"gha\"\nimages = 4\ndays = 4".parse().unwrap();
    let ctx = RunContext::for_replication(3, 1);
    let a = crate::room::testing::run_once::<LayerCache>(&p, &ctx).unwrap();
    let b = crate::room::testing::run_once::<LayerCache>(&p, &ctx).unwrap();
    assert_eq!(a, b);
}
