//! The metrics the `layer_cache` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

macro_rules! seconds {
    ($name:literal, $what:literal) => {
        MetricDef::new($name, "s", $what, Better::Lower).non_negative()
    };
}

pub(super) const METRICS: &[MetricDef] = &[
    seconds!("build_time_s", "mean build time over the commit mix (default-branch and pull-request builds)"),
    seconds!("build_time_source_s", "build time of an application-source commit on the default branch"),
    seconds!("build_time_deps_s", "build time of a dependency-manifest commit on the default branch"),
    seconds!("build_time_base_s", "build time of a base-image bump on the default branch"),
    seconds!("build_time_dockerfile_s", "build time of an edit to the build step's instruction on the default branch"),
    seconds!("build_time_docs_s", "build time of a docs-only commit on the default branch"),
    seconds!("phase_pull_s", "base image pull (and cache manifest fetch), mean over the commit mix"),
    seconds!("phase_deps_s", "dependency install phase, mean over the commit mix"),
    seconds!("phase_compile_s", "compilation phase (context checksum, COPY . ., build), mean over the commit mix"),
    seconds!("phase_assembly_s", "final image assembly (image push, cache export), mean over the commit mix"),
    seconds!("phase_pull_source_s", "base image pull phase of a source commit"),
    seconds!("phase_deps_source_s", "dependency install phase of a source commit"),
    seconds!("phase_compile_source_s", "compilation phase of a source commit"),
    seconds!("phase_assembly_source_s", "final image assembly phase of a source commit"),
    seconds!("phase_pull_deps_s", "base image pull phase of a dependency-manifest commit"),
    seconds!("phase_deps_deps_s", "dependency install phase of a dependency-manifest commit"),
    seconds!("phase_compile_deps_s", "compilation phase of a dependency-manifest commit"),
    seconds!("phase_assembly_deps_s", "final image assembly phase of a dependency-manifest commit"),
    seconds!("cache_import_s", "cache manifest fetch plus downloading and unpacking hit layers a build needed, mean per build"),
    seconds!("cache_export_s", "compressing and uploading new cache layers plus the manifest, mean per build"),
    MetricDef::new(
        "layer_hit_rate",
        "fraction",
        "share of step lookups found in the builder's store or the remote cache",
        Better::Higher,
    )
    .proportion(),
    MetricDef::new(
        "eviction_miss_fraction",
        "fraction",
        "share of step lookups that missed because the cache manifest listed a layer the Actions cache had evicted",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "intermediate_rebuild_fraction",
        "fraction",
        "share of builds in which a step of a stage other than the final image's ran",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "deps_rebuild_fraction",
        "fraction",
        "share of builds (commit mix) in which the dependency install ran",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "deps_rebuild_source_fraction",
        "fraction",
        "share of source-only commits whose build ran the dependency install",
        Better::Lower,
    )
    .proportion(),
    MetricDef::new(
        "evictions_per_day",
        "entries/day",
        "Actions cache entries evicted to get back under the size cap, per day",
        Better::Lower,
    )
    .rate(1.0),
    MetricDef::new(
        "expired_per_day",
        "entries/day",
        "Actions cache entries removed after `gha_idle_days` without access, per day",
        Better::Neither,
    )
    .rate(1.0),
    MetricDef::new(
        "first_eviction_day",
        "days",
        "day of the first eviction over the cap (`days` when none happened: then a lower bound)",
        Better::Higher,
    )
    .non_negative(),
    MetricDef::new(
        "cache_size_gb",
        "GB",
        "stored cache at the end: the Actions cache's entries, or every layer uploaded to a registry (no garbage collection)",
        Better::Neither,
    )
    .non_negative(),
    MetricDef::new(
        "context_layer_cpu_s",
        "s",
        "tar, content checksum and compression of the COPY . . layer on one core (context_mb at the measured rates)",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new("builds", "builds", "builds counted (after each image's cold start)", Better::Neither).count(),
    MetricDef::new(
        "invalidated_steps_source",
        "steps",
        "steps whose cache key a one-line application-source edit changes",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "invalidated_steps_deps",
        "steps",
        "steps whose cache key a lockfile edit changes",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "invalidated_steps_base",
        "steps",
        "steps whose cache key a base-image digest change changes",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "invalidated_steps_dockerfile",
        "steps",
        "steps whose cache key an edit of the build step's instruction changes",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
    MetricDef::new(
        "invalidated_steps_docs",
        "steps",
        "steps whose cache key a docs edit changes",
        Better::Lower,
    )
    .non_negative()
    .from_inputs(),
];
