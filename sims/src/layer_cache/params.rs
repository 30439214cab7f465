//! `LayerCacheParams`: the scenario's `[params]` for `sim = "layer_cache"`.
//!
//! The rate and size names are also what the real kernel (`layer_tar`) calibrates, so they are a
//! contract.

use serde::{Deserialize, Serialize};

use super::dockerfile::Shape;
use crate::params::{
    ParamsError, require_count, require_non_negative, require_positive, require_probability,
};
use crate::room::Validate;

/// Where the builder runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builder {
    /// A hosted runner: every job starts with an empty builder (no layers, no cache-mount
    /// contents, no base image).
    Ephemeral,
    /// A self-hosted runner or remote builder: its store, base image and cache mounts persist.
    Persistent,
}

/// Where `--cache-to` exports and `--cache-from` imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// No remote cache.
    None,
    /// `type=registry`: one cache manifest per image ref, no size cap.
    Registry,
    /// `type=gha`: the GitHub Actions cache, branch-scoped, with the repository's size cap.
    Gha,
    /// `type=local`: a directory on the runner (lost with an ephemeral runner).
    Local,
}

/// Which records `--cache-to` exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The final image's layers only (BuildKit's default).
    Min,
    /// Every step of every stage.
    Max,
}

/// How layers are compressed for export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip at its default level (6).
    Gzip,
    /// zstd at its default level (3).
    Zstd,
}

/// A monorepo's images built in CI, their Dockerfile, builder, cache backend and commit mix.
/// Defaults are the article's setting (its "with full strategy": multi-stage, cache mounts,
/// registry cache with `mode=max`, hosted runners) for one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayerCacheParams {
    /// The Dockerfile. Default `multi_stage` (article, step 3).
    pub shape: Shape,
    /// Where builds run. Default `ephemeral` (article: GitHub-hosted runners).
    pub builder: Builder,
    /// The cache backend. Default `registry` (article, step 2).
    pub backend: Backend,
    /// The export mode. Default `max` (article).
    pub mode: Mode,
    /// The `npm ci` step has `--mount=type=cache`. Default true (article, step 1).
    pub cache_mounts: bool,
    /// `.dockerignore` drops the docs from the context. Default false (the article shows none).
    pub dockerignore_docs: bool,
    /// `.dockerignore` drops the Dockerfile from the context. Default false.
    pub dockerignore_dockerfile: bool,
    /// Layer compression. Default `gzip` (BuildKit's default).
    pub compression: Compression,

    /// Pulling and unpacking the base image, s. Default 45 (article, "without caching").
    pub base_pull_s: f64,
    /// `npm ci` with an empty npm cache, s. Default 360 (article).
    pub deps_install_s: f64,
    /// `npm run build`, s. Default 240 (article).
    pub compile_s: f64,
    /// Final image assembly when every layer of the image is new, s. Default 60 (article).
    pub assembly_s: f64,
    /// Share of `assembly_s` that does not depend on how many image layers are new (manifest,
    /// config, attestations, the exporter's fixed work). Default 0.25 (assumed).
    pub assembly_fixed_fraction: f64,
    /// `npm ci` with a warm npm cache mount, as a share of `deps_install_s`. Default 0.3
    /// (assumed: downloads avoided, extraction and linking remain).
    pub deps_warm_fraction: f64,

    /// The installed dependencies (`node_modules`), MB uncompressed. Default 300 (assumed).
    pub deps_mb: f64,
    /// The build context `COPY . .` copies, MB. Default 30 (assumed).
    pub context_mb: f64,
    /// What `npm run build` writes into the stage, MB. Default 100 (assumed).
    pub build_output_mb: f64,
    /// The built artefact the runtime stage copies, MB. Default 20 (assumed).
    pub dist_mb: f64,

    /// Download rate from the cache backend to the runner, MB/s. Default 60 (assumed).
    pub cache_download_mb_per_s: f64,
    /// Upload rate from the runner to the cache backend and registry, MB/s. Default 30 (assumed).
    pub cache_upload_mb_per_s: f64,
    /// Fetching or writing a cache manifest (one round of requests), s. Default 1 (assumed).
    pub cache_manifest_s: f64,

    /// Writing or extracting a layer's tar, MB/s (measured by the kernel).
    pub tar_mb_per_s: f64,
    /// The content checksum of files a `COPY` selects, MB/s (measured).
    pub checksum_mb_per_s: f64,
    /// gzip level 6 compression, MB/s of input (measured).
    pub gzip_mb_per_s: f64,
    /// gzip decompression, MB/s of output (measured).
    pub gunzip_mb_per_s: f64,
    /// Uncompressed over gzip-compressed size (measured).
    pub gzip_ratio: f64,
    /// zstd level 3 compression, MB/s of input (measured).
    pub zstd_mb_per_s: f64,
    /// zstd decompression, MB/s of output (measured).
    pub unzstd_mb_per_s: f64,
    /// Uncompressed over zstd-compressed size (measured).
    pub zstd_ratio: f64,

    /// Share of commits that change the dependency manifests. Default 0.2 (assumed).
    pub mix_deps: f64,
    /// Share of commits that move the base image's digest. Default 0.02 (assumed).
    pub mix_base: f64,
    /// Share of commits that edit the Dockerfile (one instruction). Default 0.02 (assumed).
    pub mix_dockerfile: f64,
    /// Share of commits that change only docs. Default 0.1 (assumed). Application source
    /// commits are the rest.
    pub mix_docs: f64,

    /// Images in the repository, each built from its own Dockerfile and cache ref or scope.
    /// Default 1.
    pub images: u32,
    /// Builds per image per day (pushes to the default branch and to pull requests). Default 10.
    pub builds_per_day: f64,
    /// Share of builds that run for a pull request. Default 0.5 (assumed).
    pub pr_build_fraction: f64,
    /// Pull-request builds export to the image's registry ref too, replacing the default
    /// branch's records (last writer wins). Default false (assumed: cache pushed from the default
    /// branch only). With the Actions cache a pull request always writes to its own scope.
    pub pr_registry_export: bool,
    /// The Actions cache's size cap per repository, GB. Default 10 (GitHub's default).
    pub gha_cap_gb: f64,
    /// Actions cache entries not accessed for this long are removed, days. Default 7.
    pub gha_idle_days: f64,
    /// How often the Actions cache evicts over the cap, hours. Default 1 (GitHub, since
    /// late 2025; daily before).
    pub gha_eviction_interval_h: f64,
    /// Days simulated. Default 14.
    pub days: f64,
}

impl Default for LayerCacheParams {
    fn default() -> Self {
        LayerCacheParams {
            shape: Shape::MultiStage,
            builder: Builder::Ephemeral,
            backend: Backend::Registry,
            mode: Mode::Max,
            cache_mounts: true,
            dockerignore_docs: false,
            dockerignore_dockerfile: false,
            compression: Compression::Gzip,
            base_pull_s: 45.0,
            deps_install_s: 360.0,
            compile_s: 240.0,
            assembly_s: 60.0,
            assembly_fixed_fraction: 0.25,
            deps_warm_fraction: 0.3,
            deps_mb: 300.0,
            context_mb: 30.0,
            build_output_mb: 100.0,
            dist_mb: 20.0,
            cache_download_mb_per_s: 60.0,
            cache_upload_mb_per_s: 30.0,
            cache_manifest_s: 1.0,
            tar_mb_per_s: 800.0,
            checksum_mb_per_s: 400.0,
            gzip_mb_per_s: 40.0,
            gunzip_mb_per_s: 250.0,
            gzip_ratio: 3.0,
            zstd_mb_per_s: 250.0,
            unzstd_mb_per_s: 800.0,
            zstd_ratio: 3.2,
            mix_deps: 0.2,
            mix_base: 0.02,
            mix_dockerfile: 0.02,
            mix_docs: 0.1,
            images: 1,
            builds_per_day: 10.0,
            pr_build_fraction: 0.5,
            pr_registry_export: false,
            gha_cap_gb: 10.0,
            gha_idle_days: 7.0,
            gha_eviction_interval_h: 1.0,
            days: 14.0,
        }
    }
}

impl LayerCacheParams {
    /// Share of commits that change application source only.
    pub fn mix_source(&self) -> f64 {
        1.0 - self.mix_deps - self.mix_base - self.mix_dockerfile - self.mix_docs
    }

    /// (compress MB/s, decompress MB/s, ratio) of the chosen compression.
    pub(super) fn codec(&self) -> (f64, f64, f64) {
        match self.compression {
            Compression::Gzip => (self.gzip_mb_per_s, self.gunzip_mb_per_s, self.gzip_ratio),
            Compression::Zstd => (self.zstd_mb_per_s, self.unzstd_mb_per_s, self.zstd_ratio),
        }
    }
}

impl Validate for LayerCacheParams {
    fn validate(&self) -> Result<(), ParamsError> {
        for (name, v) in [
            ("base_pull_s", self.base_pull_s),
            ("deps_install_s", self.deps_install_s),
            ("compile_s", self.compile_s),
            ("assembly_s", self.assembly_s),
            ("deps_mb", self.deps_mb),
            ("context_mb", self.context_mb),
            ("build_output_mb", self.build_output_mb),
            ("dist_mb", self.dist_mb),
            ("cache_manifest_s", self.cache_manifest_s),
        ] {
            require_non_negative(name, v)?;
        }
        for (name, v) in [
            ("cache_download_mb_per_s", self.cache_download_mb_per_s),
            ("cache_upload_mb_per_s", self.cache_upload_mb_per_s),
            ("tar_mb_per_s", self.tar_mb_per_s),
            ("checksum_mb_per_s", self.checksum_mb_per_s),
            ("gzip_mb_per_s", self.gzip_mb_per_s),
            ("gunzip_mb_per_s", self.gunzip_mb_per_s),
            ("zstd_mb_per_s", self.zstd_mb_per_s),
            ("unzstd_mb_per_s", self.unzstd_mb_per_s),
            ("gha_cap_gb", self.gha_cap_gb),
            ("gha_idle_days", self.gha_idle_days),
            ("gha_eviction_interval_h", self.gha_eviction_interval_h),
        ] {
            require_positive(name, v)?;
        }
        for (name, v) in [
            ("gzip_ratio", self.gzip_ratio),
            ("zstd_ratio", self.zstd_ratio),
        ] {
            if !(1.0..=100.0).contains(&v) {
                return Err(ParamsError::out_of_range(name, v, "a ratio from 1 to 100"));
            }
        }
        for (name, v) in [
            ("assembly_fixed_fraction", self.assembly_fixed_fraction),
            ("deps_warm_fraction", self.deps_warm_fraction),
            ("mix_deps", self.mix_deps),
            ("mix_base", self.mix_base),
            ("mix_dockerfile", self.mix_dockerfile),
            ("mix_docs", self.mix_docs),
            ("pr_build_fraction", self.pr_build_fraction),
        ] {
            require_probability(name, v)?;
        }
        if self.mix_source() < -1e-9 {
            return Err(ParamsError::out_of_range(
                "mix_docs",
                self.mix_docs,
                "mix_deps + mix_base + mix_dockerfile + mix_docs ≤ 1 (source commits are the rest)",
            ));
        }
        require_count("images", self.images, 1..=200, "images")?;
        if !(self.builds_per_day > 0.0 && self.builds_per_day <= 1000.0) {
            return Err(ParamsError::out_of_range(
                "builds_per_day",
                self.builds_per_day,
                "> 0 and at most 1,000 builds per image per day",
            ));
        }
        if !(0.5..=365.0).contains(&self.days) {
            return Err(ParamsError::out_of_range(
                "days",
                self.days,
                "0.5 to 365 days",
            ));
        }
        if self.images as f64 * self.builds_per_day * self.days > 2_000_000.0 {
            return Err(ParamsError::out_of_range(
                "days",
                self.days,
                "at most 2 million builds in all (images x builds_per_day x days)",
            ));
        }
        Ok(())
    }
}
