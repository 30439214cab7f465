//! The metrics the `build_cache` room emits. Names are a contract other tools read.

use crate::simulation::{Better, MetricDef};

const fn time(name: &'static str, description: &'static str) -> MetricDef {
    MetricDef::new(name, "s", description, Better::Lower).non_negative()
}

const fn share(name: &'static str, description: &'static str) -> MetricDef {
    MetricDef::new(name, "fraction", description, Better::Higher).proportion()
}

pub(super) const METRICS: &[MetricDef] = &[
    share(
        "hit_rate_ci",
        "clean CI builds: cacheable tasks loaded from a cache over tasks loaded or executed (after the first day)",
    ),
    share(
        "hit_rate_ci_incremental",
        "incremental CI builds (persistent workspace): loaded over loaded or executed; up-to-date tasks are neither",
    ),
    share(
        "hit_rate_local",
        "developer builds (git pull, then build): loaded over loaded or executed; up-to-date tasks are neither",
    ),
    time("build_time_clean_s", "clean CI build (fresh workspace and local cache, remote cache read): mean wall time"),
    time("build_time_incremental_s", "incremental CI build (workspace at the previous commit): mean wall time"),
    time("build_time_ci_s", "every CI build simulated, clean and incremental: mean wall time"),
    time("build_time_local_s", "developer build after a pull: mean wall time"),
    time(
        "build_time_cold_s",
        "the first build: empty caches and workspace, every lookup misses, every task executes",
    ),
    time("build_time_clean_s_impl_edit", "clean CI build of a commit editing module bodies only"),
    time("build_time_clean_s_abi_edit", "clean CI build of a commit changing a module's ABI"),
    time("build_time_clean_s_dep_bump", "clean CI build of a version-catalog bump"),
    time("build_time_clean_s_build_logic", "clean CI build of a build-logic commit"),
    time("build_time_clean_s_docs", "clean CI build of a commit the build does not read"),
    time("build_time_incremental_s_impl_edit", "incremental CI build of a commit editing bodies only"),
    time("build_time_incremental_s_abi_edit", "incremental CI build of a commit changing an ABI"),
    time("build_time_incremental_s_dep_bump", "incremental CI build of a version-catalog bump"),
    time("build_time_incremental_s_build_logic", "incremental CI build of a build-logic commit"),
    time("build_time_incremental_s_docs", "incremental CI build of a commit the build does not read"),
    MetricDef::new(
        "cache_storage_gb",
        "GB",
        "remote cache: entries stored over the simulated days (no eviction)",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "cache_storage_gb_30d",
        "GB",
        "remote cache: entries stored per 30 days (the growth after the first day, scaled to 30 days, plus the first day's fill)",
        Better::Lower,
    )
    .non_negative(),
    MetricDef::new(
        "key_survives_move_fraction",
        "fraction",
        "share of tasks whose cache key is the same with the checkout at another path",
        Better::Higher,
    )
    .fraction(),
    MetricDef::new(
        "cache_key_bits",
        "bits",
        "width of the cache key's hash function (key_hash)",
        Better::Neither,
    )
    .non_negative()
    .from_inputs(),
    share("hit_rate_ci_all_killers", "attribution: hit_rate_ci with all four killers present"),
    share("hit_rate_local_all_killers", "attribution: hit_rate_local with all four killers present"),
    time("build_time_clean_s_all_killers", "attribution: build_time_clean_s with all four killers present"),
    time(
        "build_time_incremental_s_all_killers",
        "attribution: build_time_incremental_s with all four killers present",
    ),
    MetricDef::new(
        "build_time_clean_reduction_fraction",
        "fraction",
        "attribution: 1 - build_time_clean_s / build_time_clean_s_all_killers",
        Better::Higher,
    )
    .bounded(f64::NEG_INFINITY, 1.0),
    MetricDef::new(
        "build_time_incremental_reduction_fraction",
        "fraction",
        "attribution: 1 - build_time_incremental_s / build_time_incremental_s_all_killers",
        Better::Higher,
    )
    .bounded(f64::NEG_INFINITY, 1.0),
    share("hit_rate_ci_fix_alone_ide_flags", "attribution: hit_rate_ci with only the IDE-flag drift fixed"),
    share("hit_rate_ci_fix_alone_timestamp", "attribution: hit_rate_ci with only the BuildConfig timestamp fixed"),
    share("hit_rate_ci_fix_alone_codegen_order", "attribution: hit_rate_ci with only the generators made deterministic"),
    share("hit_rate_ci_fix_alone_absolute_paths", "attribution: hit_rate_ci with only the absolute paths fixed"),
    share("hit_rate_local_fix_alone_ide_flags", "attribution: hit_rate_local with only the IDE-flag drift fixed"),
    share("hit_rate_local_fix_alone_timestamp", "attribution: hit_rate_local with only the BuildConfig timestamp fixed"),
    share(
        "hit_rate_local_fix_alone_codegen_order",
        "attribution: hit_rate_local with only the generators made deterministic",
    ),
    share("hit_rate_local_fix_alone_absolute_paths", "attribution: hit_rate_local with only the absolute paths fixed"),
];

/// Suffixes of the fix-alone metrics, in the order of [`super::params::KILLERS`].
pub(super) const KILLER_SUFFIX: [&str; 4] =
    ["ide_flags", "timestamp", "codegen_order", "absolute_paths"];
