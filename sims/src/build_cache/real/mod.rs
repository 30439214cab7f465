//! The `build_cache` kernel: file fingerprints and a remote build cache, for real.
//!
//! - Fingerprints: a generated tree of Kotlin-like files is written to disk, fingerprinted the
//!   way the build tool does (each file's content hash, paths normalized as `absolute`,
//!   `relative`, `name_only`, `none`, and as runtime and compile (ABI) classpaths), with MD5 and
//!   with SHA-256; then the checkout is moved to another path, a body and a signature are edited,
//!   a file is renamed, and each mode's fingerprint is compared. Which modes survive a move is
//!   a fact the kernel checks (exact). The model's own source fingerprints are checked against
//!   the same files read back from disk.
//! - Hash cost: MD5 and SHA-256 throughput on an in-memory buffer against a memory copy of the
//!   same buffer (the machine's memory bandwidth), and the whole tree's fingerprint time.
//! - Remote cache: an HTTP/1.1 cache server on loopback (`GET`/`PUT /cache/<key>`) with the
//!   injected latency and download bandwidth, driven by the room's own task graph (generated
//!   as the model generates it): each task's key hashes its real source files and its upstream
//!   outputs with MD5, a miss spins for the task's duration and uploads its output, a hit
//!   downloads and writes it. Builds: cold (empty cache), warm (everything cached, clean
//!   workspace) and after a one-module body edit; wall times per trial.
//!
//! Calibration for the model: `hash_mb_per_s` (MD5), `http_overhead_ms` and
//! `remote_bandwidth_mb_per_s` (fitted from single downloads of several sizes), and
//! `unpack_mb_per_s` (writing an entry into the workspace). The build wall times are what the
//! model then predicts, not what it is calibrated on.

#[cfg_attr(feature = "hashing", path = "enabled.rs")]
#[cfg_attr(not(feature = "hashing"), path = "disabled.rs")]
mod imp;

#[cfg(feature = "hashing")]
mod remote;
#[cfg(feature = "hashing")]
mod server;

use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport};

/// Why the kernel cannot run in this build.
pub const HASHING_NOT_BUILT: &str =
    "lab was built without the `hashing` feature (cargo build -p harness --features hashing)";

/// The `[real]` table of a build-cache scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// Repetitions of every experiment (fresh trees, fresh server, a fresh graph each).
    pub trials: u32,
    /// Files in the fingerprinted tree.
    pub tree_files: u32,
    /// Buffer hashed for the throughput figures, MB.
    pub hash_buffer_mb: f64,
    /// Modules of the synthetic build (the room's generator). Match the calibrated point's.
    pub modules: u32,
    /// Task slots of the synthetic build.
    pub workers: u32,
    /// Median compile time of the synthetic build, s (spun, not slept).
    pub compile_median_s: f64,
    /// Its 95th percentile, s.
    pub compile_p95_s: f64,
    /// Median test-task time, s.
    pub test_median_s: f64,
    /// Median generator time, s.
    pub gen_median_s: f64,
    /// The app's link and packaging, s.
    pub link_s: f64,
    /// Packaging, s.
    pub package_s: f64,
    /// Median compile output, MB.
    pub compile_output_mb: f64,
    /// Link output, MB.
    pub link_output_mb: f64,
    /// Package output, MB.
    pub package_output_mb: f64,
    /// Latency the server adds to every request, ms.
    pub latency_ms: f64,
    /// Download bandwidth the server paces responses to, MB/s.
    pub bandwidth_mb_per_s: f64,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            trials: 5,
            tree_files: 2000,
            hash_buffer_mb: 64.0,
            modules: 10,
            workers: 2,
            compile_median_s: 0.03,
            compile_p95_s: 0.15,
            test_median_s: 0.03,
            gen_median_s: 0.02,
            link_s: 0.3,
            package_s: 0.15,
            compile_output_mb: 0.2,
            link_output_mb: 4.0,
            package_output_mb: 2.5,
            latency_ms: 5.0,
            bandwidth_mb_per_s: 100.0,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        params::require_count("trials", p.trials, 1..=50, "trials")?;
        params::require_count("tree_files", p.tree_files, 10..=200_000, "files")?;
        params::require_count("modules", p.modules, 3..=200, "modules")?;
        params::require_count("workers", p.workers, 1..=64, "task slots")?;
        for (name, x, hi) in [
            ("hash_buffer_mb", p.hash_buffer_mb, 4096.0),
            ("compile_median_s", p.compile_median_s, 10.0),
            ("compile_p95_s", p.compile_p95_s, 60.0),
            ("test_median_s", p.test_median_s, 10.0),
            ("gen_median_s", p.gen_median_s, 10.0),
            ("link_s", p.link_s, 60.0),
            ("package_s", p.package_s, 60.0),
            ("compile_output_mb", p.compile_output_mb, 256.0),
            ("link_output_mb", p.link_output_mb, 1024.0),
            ("package_output_mb", p.package_output_mb, 1024.0),
            ("bandwidth_mb_per_s", p.bandwidth_mb_per_s, 100_000.0),
        ] {
            if !(x.is_finite() && x > 0.0 && x <= hi) {
                return Err(ParamsError::out_of_range(
                    name,
                    x,
                    &format!("> 0 and at most {hi}"),
                ));
            }
        }
        if p.compile_p95_s < p.compile_median_s {
            return Err(ParamsError::out_of_range(
                "compile_p95_s",
                p.compile_p95_s,
                "≥ compile_median_s",
            ));
        }
        if !(0.0..=5000.0).contains(&p.latency_ms) {
            return Err(ParamsError::out_of_range(
                "latency_ms",
                p.latency_ms,
                "0 to 5000 ms",
            ));
        }
        Ok(p)
    }

    /// The smaller run `--quick` asks for: fewer trials and a smaller tree; the synthetic
    /// build stays the calibrated point's.
    fn quick(mut self) -> RealParams {
        self.trials = self.trials.min(3);
        self.tree_files = self.tree_files.min(300);
        self.hash_buffer_mb = self.hash_buffer_mb.min(16.0);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct BuildCacheKernel;

impl Kernel for BuildCacheKernel {
    fn name(&self) -> &'static str {
        "build_cache_fingerprints"
    }

    fn description(&self) -> &'static str {
        "file-tree fingerprints with each path normalization (MD5 and SHA-256) across a moved \
         checkout, hash cost against memory bandwidth, and an HTTP remote cache on loopback \
         driving the room's task graph"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        RealParams::from_table(real).map_err(|e| e.to_string())?;
        imp::available()
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
