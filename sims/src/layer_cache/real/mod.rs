//! The `layer_tar` kernel: real layer work on real source trees, timed and repeated.
//!
//! - Trees: the repository `lab` runs in (or `real.tree`), and a generated Node.js-like project
//!   of `generated_mb` (manifests, source, docs, and a `node_modules` standing for what
//!   `npm ci` writes), in memory.
//! - Layers: each `COPY` of the article's multi-stage Dockerfile (the manifests; `COPY . .`
//!   minus `.dockerignore`) and, for the generated tree, the dependency layer. Each is written as
//!   a deterministic tar (sorted paths, zero times and owners), checksummed the way a builder
//!   keys a `COPY` (per-file SHA-256 of path, mode, size and content, then of the list; no
//!   times), and compressed and decompressed with gzip (level 6) and zstd (level 3), each
//!   round trip checked byte for byte.
//! - Cascade: the Dockerfile's real cache keys (SHA-256 of instruction, parent key and the
//!   selected files' checksum) before and after each edit a commit class makes, on the real
//!   files, compared step by step with the model's cascade.
//!
//! The rates on the generated tree calibrate the model's tar, checksum and codec parameters;
//! the repository's context layer is a prediction check.

/// The measurements with the `layers` feature; without it, a `not_run` report.
#[cfg_attr(feature = "layers", path = "enabled.rs")]
#[cfg_attr(not(feature = "layers"), path = "disabled.rs")]
mod imp;

use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport};

/// Why the kernel cannot run in this build.
pub const LAYERS_NOT_BUILT: &str =
    "lab was built without the `layers` feature (cargo build -p harness --features layers)";

/// The `[real]` table of a layer-cache scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// The source tree to measure; empty: the git repository the current directory is in.
    pub tree: String,
    /// Size of the generated tree, MB (10^6 bytes).
    pub generated_mb: f64,
    /// Share of the generated tree's bytes that are incompressible (binaries, images, wasm).
    pub binary_fraction: f64,
    /// Share of the generated tree that is the build context (the rest is `node_modules`).
    pub context_fraction: f64,
    /// gzip level (BuildKit's default, Go's `gzip.DefaultCompression`, is 6).
    pub gzip_level: u32,
    /// zstd level (BuildKit's default is 3).
    pub zstd_level: i32,
    /// Times every measurement is repeated.
    pub trials: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            tree: String::new(),
            generated_mb: 64.0,
            binary_fraction: 0.1,
            context_fraction: 0.1,
            gzip_level: 6,
            zstd_level: 3,
            trials: 5,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        if !(1.0..=4000.0).contains(&p.generated_mb) {
            return Err(ParamsError::out_of_range(
                "generated_mb",
                p.generated_mb,
                "1 to 4,000 MB",
            ));
        }
        params::require_probability("binary_fraction", p.binary_fraction)?;
        if !(0.01..=1.0).contains(&p.context_fraction) {
            return Err(ParamsError::out_of_range(
                "context_fraction",
                p.context_fraction,
                "0.01 to 1",
            ));
        }
        if !(1..=9).contains(&p.gzip_level) {
            return Err(ParamsError::out_of_range(
                "gzip_level",
                p.gzip_level,
                "1 to 9",
            ));
        }
        if !(1..=19).contains(&p.zstd_level) {
            return Err(ParamsError::out_of_range(
                "zstd_level",
                p.zstd_level,
                "1 to 19",
            ));
        }
        params::require_count("trials", p.trials, 1..=50, "trials")?;
        Ok(p)
    }

    /// The smaller run `--quick` asks for.
    fn quick(mut self) -> RealParams {
        self.generated_mb = self.generated_mb.min(8.0);
        self.trials = self.trials.min(3);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct LayerTar;

impl Kernel for LayerTar {
    fn name(&self) -> &'static str {
        "layer_tar"
    }

    fn description(&self) -> &'static str {
        "deterministic layer tars, COPY checksums, gzip/zstd compression and decompression on \
         this repository and a generated tree, timed and repeated; the real invalidation cascade"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        let p = RealParams::from_table(real).map_err(|e| e.to_string())?;
        imp::available(&p)
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        let p = if ctx.quick { p.quick() } else { p };
        imp::run(&p, ctx)
    }
}
