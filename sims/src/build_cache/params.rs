//! `BuildCacheParams`: the scenario's `[params]` for `sim = "build_cache"`.
//!
//! Defaults are the article's setting where it states one (48 KMP modules, a remote cache only
//! CI pushes to, all four cache killers present) and the research file's measured or assumed
//! figures elsewhere (`shared/research/build-caches.md` §4). The names the real kernel
//! calibrates (`hash_mb_per_s`, `http_overhead_ms`, `remote_bandwidth_mb_per_s`,
//! `unpack_mb_per_s`) are a contract.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_non_negative, require_positive, require_probability};
use crate::room::Validate;

/// How a file input's path counts in its fingerprint (Gradle's `PathSensitivity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// The absolute path: not relocatable.
    Absolute,
    /// The path below the collection's root: relocatable.
    Relative,
}

/// The hash function of the cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyHash {
    /// 128-bit MD5 (Gradle's `Hashing.DEFAULT`).
    Md5,
    /// 256-bit SHA-256.
    Sha256,
}

/// A module graph, a commit stream, the machines that build it and the caches between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildCacheParams {
    /// Modules in the build. Default 48 (article).
    pub modules: u32,
    /// Mean direct project dependencies per module. Default 3.7 (measured: 2.8 nowinandroid,
    /// 4.6 tivi).
    pub fan_out_mean: f64,
    /// Share of the modules that depend directly on the hub (`:core:base`). Default 0.65
    /// (measured: tivi 42 of 64).
    pub hub_fan_in_fraction: f64,
    /// Share of the modules the app module depends on directly. Default 0.45 (measured 0.4-0.5).
    pub app_fan_out_fraction: f64,
    /// A module graph exported from a build: one `consumer dependency` pair of module names per
    /// line (`#` comments); empty: generate one. Default empty.
    pub module_graph_file: String,
    /// Share of modules running a code generator (KSP/kapt, BuildConfig). Default 0.25 (assumed).
    pub generated_fraction: f64,
    /// Parallel task slots of a build (`--max-workers`). Default 4.
    pub workers: u32,
    /// Median JVM/Android compile time of a module, s. Default 12 (assumed, research §4.3).
    pub compile_median_s: f64,
    /// 95th percentile of a compile, s. Default 60 (assumed, research §4.3).
    pub compile_p95_s: f64,
    /// iOS (Kotlin/Native) compile time against the JVM one. Default 2 (assumed 1.5-3).
    pub ios_compile_factor: f64,
    /// Common (metadata) compile time against the JVM one. Default 0.5 (assumed).
    pub common_compile_factor: f64,
    /// Median unit-test task time of a module and target, s. Default 20 (assumed).
    pub test_median_s: f64,
    /// Lognormal σ of test task times. Default 1.0 (assumed: 5 s to 3 min).
    pub test_sigma: f64,
    /// Median code-generation task time, s. Default 10 (assumed 5-30).
    pub gen_median_s: f64,
    /// iOS framework link of the app, s. Default 150 (assumed 1-5 min).
    pub link_s: f64,
    /// Android packaging (dex, resources, APK) of the app, s. Default 60 (assumed).
    pub package_s: f64,
    /// Lognormal σ of module sizes (all of a module's tasks scale with it). Default 0.5.
    pub module_size_sigma: f64,
    /// Fixed per-build overhead (daemon, configuration, dependency resolution, tasks that are
    /// not cacheable), s. Default 45 (assumed 20-90).
    pub overhead_s: f64,
    /// Median compile output (classes, klib), MB. Default 2 (assumed 0.1-20).
    pub compile_output_mb: f64,
    /// Test results per test task, MB. Default 0.05 (assumed).
    pub test_output_mb: f64,
    /// Generated sources per generator task, MB. Default 0.2 (assumed).
    pub gen_output_mb: f64,
    /// iOS framework, MB. Default 40 (assumed 10-100).
    pub link_output_mb: f64,
    /// Android APK and dex, MB. Default 25 (assumed).
    pub package_output_mb: f64,
    /// Input files hashed per task when its inputs are snapshotted, MB. Default 1 (assumed).
    pub input_mb_per_task: f64,
    /// Hashing throughput of the cache key's function, MB/s. Default 500 (the kernel measures).
    pub hash_mb_per_s: f64,
    /// Round trip to the remote cache, ms (every lookup pays it, hit or miss). Default 20
    /// (assumed 5-80).
    pub remote_rtt_ms: f64,
    /// Per-request cost of the cache server and client beyond the round trip, ms. Default 1
    /// (the kernel measures).
    pub http_overhead_ms: f64,
    /// Download bandwidth from the remote cache, MB/s. Default 50 (assumed).
    pub remote_bandwidth_mb_per_s: f64,
    /// Unpacking a cache entry into the workspace, MB/s. Default 200 (the kernel measures).
    pub unpack_mb_per_s: f64,
    /// A remote cache exists. Default true (article).
    pub remote_cache: bool,
    /// Developer machines push to the remote cache too. Default false (article: CI only).
    pub dev_push: bool,
    /// Days of commits simulated. Default 30 (article: 30-day storage).
    pub days: u32,
    /// Commits to the main branch per day (Poisson). Default 20 (assumed).
    pub commits_per_day: f64,
    /// Share of commits that edit module sources. Default 0.40 (assumed between tivi and
    /// nowinandroid, research §4.2).
    pub mix_source: f64,
    /// Share of commits that bump a dependency in the version catalog. Default 0.33.
    pub mix_dep_bump: f64,
    /// Share of commits that change build logic (convention plugins, root build files).
    /// Default 0.12. The rest of the commits (0.15 by default) change nothing the build reads
    /// (docs, CI config).
    pub mix_build_logic: f64,
    /// Of source commits: share touching 1, 2, 3-5 and 6+ modules. Default [0.55, 0.13, 0.12,
    /// 0.20] (between the two repositories measured, research §4.2).
    pub modules_touched: [f64; 4],
    /// Probability that an edit of a module changes its ABI (signatures, constants, public
    /// inline bodies). Default 0.3 (assumed).
    pub abi_edit_prob: f64,
    /// Share of dependency bumps that are the toolchain (Kotlin, AGP, Gradle): every task's
    /// implementation changes. Default 0.15 (assumed).
    pub toolchain_bump_fraction: f64,
    /// Mean share of modules using a bumped library. Default 0.2 (assumed).
    pub library_usage_mean: f64,
    /// Share of modules a build-logic commit reaches (those applying the changed convention
    /// plugin). Default 0.5 (assumed).
    pub build_logic_scope: f64,
    /// Developers building locally. Default 8 (assumed).
    pub developers: u32,
    /// Builds per developer per day (`git pull && ./gradlew build`). Default 6 (assumed).
    pub dev_builds_per_day: f64,
    /// Probability that a developer's build includes an uncommitted edit of one module.
    /// Default 0.5 (assumed).
    pub dev_edit_prob: f64,
    /// Killer: tasks with an undeclared path sensitivity or an absolute path in a value input
    /// (test system properties, rule maps, paths in compiler arguments). Default true.
    pub absolute_paths: bool,
    /// Share of cacheable tasks carrying such an input. Default 0.3 (assumed).
    pub absolute_path_task_fraction: f64,
    /// Killer: a `BuildConfig` field with the build's timestamp. Default true (article).
    pub buildconfig_timestamp: bool,
    /// Where the BuildConfig module sits: 0 the hub (most dependents), 1 the app (a leaf).
    /// Default 0 (assumed).
    pub buildconfig_module_rank: f64,
    /// Killer: the IDE adds compiler flags the build script does not declare. Default true.
    pub ide_flag_drift: bool,
    /// Share of developer builds run through the IDE with drifted flags. Default 0.8 (assumed).
    pub ide_build_fraction: f64,
    /// Killer: code generators whose output order changes between runs. Default true.
    pub nondeterministic_codegen: bool,
    /// Probability a generator's re-execution gives different bytes. Default 0.5 (assumed).
    pub nondeterminism_prob: f64,
    /// How many killers are fixed, in the article's order: IDE flags, BuildConfig timestamp,
    /// code-generator order, absolute paths. Default 0.
    pub fixes_applied: u32,
    /// The sensitivity an input gets when none is declared. Default `absolute` (Gradle's
    /// `@PathSensitive` javadoc).
    pub undeclared_path_sensitivity: Sensitivity,
    /// The cache key's hash function. Default `md5` (Gradle's `Hashing.DEFAULT`).
    pub key_hash: KeyHash,
    /// Also simulate each fix alone and all four killers present (five more runs of the
    /// commit stream). Default false.
    pub attribution: bool,
    /// The graph read from `module_graph_file` by `prepare` (names, direct dependencies).
    #[serde(skip)]
    pub graph_edges: Option<(Vec<String>, Vec<Vec<usize>>)>,
}

impl Default for BuildCacheParams {
    fn default() -> Self {
        BuildCacheParams {
            modules: 48,
            fan_out_mean: 3.7,
            hub_fan_in_fraction: 0.65,
            app_fan_out_fraction: 0.45,
            module_graph_file: String::new(),
            generated_fraction: 0.25,
            workers: 4,
            compile_median_s: 12.0,
            compile_p95_s: 60.0,
            ios_compile_factor: 2.0,
            common_compile_factor: 0.5,
            test_median_s: 20.0,
            test_sigma: 1.0,
            gen_median_s: 10.0,
            link_s: 150.0,
            package_s: 60.0,
            module_size_sigma: 0.5,
            overhead_s: 45.0,
            compile_output_mb: 2.0,
            test_output_mb: 0.05,
            gen_output_mb: 0.2,
            link_output_mb: 40.0,
            package_output_mb: 25.0,
            input_mb_per_task: 1.0,
            hash_mb_per_s: 500.0,
            remote_rtt_ms: 20.0,
            http_overhead_ms: 1.0,
            remote_bandwidth_mb_per_s: 50.0,
            unpack_mb_per_s: 200.0,
            remote_cache: true,
            dev_push: false,
            days: 30,
            commits_per_day: 20.0,
            mix_source: 0.40,
            mix_dep_bump: 0.33,
            mix_build_logic: 0.12,
            modules_touched: [0.55, 0.13, 0.12, 0.20],
            abi_edit_prob: 0.3,
            toolchain_bump_fraction: 0.15,
            library_usage_mean: 0.2,
            build_logic_scope: 0.5,
            developers: 8,
            dev_builds_per_day: 6.0,
            dev_edit_prob: 0.5,
            absolute_paths: true,
            absolute_path_task_fraction: 0.3,
            buildconfig_timestamp: true,
            buildconfig_module_rank: 0.0,
            ide_flag_drift: true,
            ide_build_fraction: 0.8,
            nondeterministic_codegen: true,
            nondeterminism_prob: 0.5,
            fixes_applied: 0,
            undeclared_path_sensitivity: Sensitivity::Absolute,
            key_hash: KeyHash::Md5,
            attribution: false,
            graph_edges: None,
        }
    }
}

/// The four cache killers, in the order the article fixes them.
pub const KILLERS: [&str; 4] = [
    "ide_flag_drift",
    "buildconfig_timestamp",
    "nondeterministic_codegen",
    "absolute_paths",
];

impl BuildCacheParams {
    /// Whether killer `i` (an index into [`KILLERS`]) is present and not yet fixed.
    pub fn killer_active(&self, i: usize) -> bool {
        let present = match i {
            0 => self.ide_flag_drift,
            1 => self.buildconfig_timestamp,
            2 => self.nondeterministic_codegen,
            _ => self.absolute_paths,
        };
        present && i as u32 >= self.fixes_applied
    }
}

fn require_in(path: &str, x: f64, lo: f64, hi: f64, expected: &str) -> Result<(), ParamsError> {
    if x.is_finite() && (lo..=hi).contains(&x) {
        Ok(())
    } else {
        Err(ParamsError::out_of_range(path, x, expected))
    }
}

impl Validate for BuildCacheParams {
    fn validate(&self) -> Result<(), ParamsError> {
        if !(3..=2000).contains(&self.modules) {
            return Err(ParamsError::out_of_range(
                "modules",
                self.modules,
                "3 to 2000 modules",
            ));
        }
        require_in("fan_out_mean", self.fan_out_mean, 0.5, 50.0, "0.5 to 50")?;
        for (name, x) in [
            ("hub_fan_in_fraction", self.hub_fan_in_fraction),
            ("app_fan_out_fraction", self.app_fan_out_fraction),
            ("generated_fraction", self.generated_fraction),
            ("abi_edit_prob", self.abi_edit_prob),
            ("toolchain_bump_fraction", self.toolchain_bump_fraction),
            ("dev_edit_prob", self.dev_edit_prob),
            (
                "absolute_path_task_fraction",
                self.absolute_path_task_fraction,
            ),
            ("buildconfig_module_rank", self.buildconfig_module_rank),
            ("ide_build_fraction", self.ide_build_fraction),
            ("nondeterminism_prob", self.nondeterminism_prob),
            ("mix_source", self.mix_source),
            ("mix_dep_bump", self.mix_dep_bump),
            ("mix_build_logic", self.mix_build_logic),
            ("build_logic_scope", self.build_logic_scope),
        ] {
            require_probability(name, x)?;
        }
        require_in(
            "library_usage_mean",
            self.library_usage_mean,
            0.01,
            1.0,
            "0.01 to 1",
        )?;
        let mix = self.mix_source + self.mix_dep_bump + self.mix_build_logic;
        if mix > 1.0 + 1e-9 {
            return Err(ParamsError::out_of_range(
                "mix_build_logic",
                mix,
                "mix_source + mix_dep_bump + mix_build_logic ≤ 1 (the rest: commits the build does not read)",
            ));
        }
        let touched: f64 = self.modules_touched.iter().sum();
        if self
            .modules_touched
            .iter()
            .any(|x| !(0.0..=1.0).contains(x))
            || (touched - 1.0).abs() > 1e-6
        {
            return Err(ParamsError::out_of_range(
                "modules_touched",
                format!("{:?}", self.modules_touched),
                "four shares (1, 2, 3-5, 6+ modules) in [0, 1] summing to 1",
            ));
        }
        if !(1..=256).contains(&self.workers) {
            return Err(ParamsError::out_of_range(
                "workers",
                self.workers,
                "1 to 256 task slots",
            ));
        }
        require_positive("compile_median_s", self.compile_median_s)?;
        if !(self.compile_p95_s >= self.compile_median_s && self.compile_p95_s.is_finite()) {
            return Err(ParamsError::out_of_range(
                "compile_p95_s",
                self.compile_p95_s,
                "a finite time ≥ compile_median_s",
            ));
        }
        for (name, x) in [
            ("ios_compile_factor", self.ios_compile_factor),
            ("common_compile_factor", self.common_compile_factor),
            ("test_median_s", self.test_median_s),
            ("gen_median_s", self.gen_median_s),
            ("link_s", self.link_s),
            ("package_s", self.package_s),
            ("compile_output_mb", self.compile_output_mb),
            ("test_output_mb", self.test_output_mb),
            ("gen_output_mb", self.gen_output_mb),
            ("link_output_mb", self.link_output_mb),
            ("package_output_mb", self.package_output_mb),
            ("hash_mb_per_s", self.hash_mb_per_s),
            ("remote_bandwidth_mb_per_s", self.remote_bandwidth_mb_per_s),
            ("unpack_mb_per_s", self.unpack_mb_per_s),
        ] {
            require_positive(name, x)?;
        }
        for (name, x) in [
            ("test_sigma", self.test_sigma),
            ("module_size_sigma", self.module_size_sigma),
            ("overhead_s", self.overhead_s),
            ("input_mb_per_task", self.input_mb_per_task),
            ("remote_rtt_ms", self.remote_rtt_ms),
            ("http_overhead_ms", self.http_overhead_ms),
        ] {
            require_non_negative(name, x)?;
        }
        require_in("test_sigma", self.test_sigma, 0.0, 3.0, "0 to 3")?;
        require_in(
            "module_size_sigma",
            self.module_size_sigma,
            0.0,
            3.0,
            "0 to 3",
        )?;
        if !(1..=365).contains(&self.days) {
            return Err(ParamsError::out_of_range(
                "days",
                self.days,
                "1 to 365 days",
            ));
        }
        require_in(
            "commits_per_day",
            self.commits_per_day,
            0.1,
            500.0,
            "0.1 to 500 commits a day",
        )?;
        if self.developers > 500 {
            return Err(ParamsError::out_of_range(
                "developers",
                self.developers,
                "0 to 500 developers",
            ));
        }
        require_in(
            "dev_builds_per_day",
            self.dev_builds_per_day,
            0.0,
            100.0,
            "0 to 100 builds a day",
        )?;
        if self.fixes_applied > 4 {
            return Err(ParamsError::out_of_range(
                "fixes_applied",
                self.fixes_applied,
                "0 to 4 (ide_flag_drift, buildconfig_timestamp, nondeterministic_codegen, absolute_paths)",
            ));
        }
        Ok(())
    }
}
