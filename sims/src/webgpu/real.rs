//! The `webgpu_int4` kernel: the `webgpu-kernel` crate's WGSL INT4 products on the first wgpu
//! adapter found (lavapipe on a CPU-only box), each checked against a CPU reference on fresh
//! random inputs, swept over workgroup shapes and mappings, and a 12-layer chain run as one
//! command buffer with one readback, as a submit per layer, and as a submit + readback + upload
//! per layer, and storage-only vs mapped intermediates (`real/extra.rs`). Without the `gpu`
//! build, or without an adapter, it reports `not_run` with why.

pub use crate::real::adapters::{AdapterDesc, adapter_lines, adapters};
use serde::{Deserialize, Serialize};
use webgpu_kernel::{Mapping, Options, Report};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport, RealSeries};

mod extra;

/// The `[real]` table of the webgpu scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// Timed repeats per sweep configuration (quick: 3).
    pub trials: u32,
    /// Matvec (decode) `N = K` (quick: 1024).
    pub matvec_dim: u32,
    /// Matmul (prefill) `M, N, K` (quick: 16, 256, 512).
    pub matmul_mnk: [u32; 3],
    /// Layer chain sizes (quick: the same 64 and 1024).
    pub chain_dims: Vec<u32>,
    /// Layers in the chain.
    pub chain_layers: u32,
    /// Timed repeats of each dispatch structure (quick: 5).
    pub chain_trials: u32,
    /// Outputs compared with the CPU reference per configuration.
    pub checked_outputs: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            trials: 7,
            matvec_dim: 4096,
            matmul_mnk: [32, 512, 2048],
            chain_dims: vec![64, 1024],
            chain_layers: 12,
            chain_trials: 10,
            checked_outputs: 258,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        params::require_count("trials", p.trials, 3..=100, "trials")?;
        params::require_count("chain_trials", p.chain_trials, 3..=100, "trials")?;
        params::require_count("chain_layers", p.chain_layers, 2..=128, "layers")?;
        params::require_count("checked_outputs", p.checked_outputs, 4..=100_000, "outputs")?;
        let mult32 = |name: &str, v: u32| {
            if v == 0 || v % 32 != 0 || v > 16_384 {
                Err(ParamsError::out_of_range(
                    name,
                    v,
                    "a multiple of 32 up to 16,384",
                ))
            } else {
                Ok(())
            }
        };
        mult32("matvec_dim", p.matvec_dim)?;
        mult32("matmul_mnk[1]", p.matmul_mnk[1])?;
        mult32("matmul_mnk[2]", p.matmul_mnk[2])?;
        params::require_count("matmul_mnk[0]", p.matmul_mnk[0], 1..=4096, "tokens")?;
        if p.chain_dims.is_empty() {
            return Err(ParamsError::out_of_range(
                "chain_dims",
                "[]",
                "at least one size",
            ));
        }
        for (i, d) in p.chain_dims.iter().enumerate() {
            mult32(&format!("chain_dims[{i}]"), *d)?;
        }
        Ok(p)
    }

    fn quick(self) -> RealParams {
        RealParams {
            trials: 3,
            matvec_dim: self.matvec_dim.min(1024),
            matmul_mnk: [16, 256, 512],
            chain_dims: vec![64, 1024],
            chain_trials: 5,
            checked_outputs: self.checked_outputs.min(64),
            ..self
        }
    }

    fn options(&self, seed: u64) -> Options {
        Options {
            seed,
            trials: self.trials,
            matvec_nk: (self.matvec_dim, self.matvec_dim),
            matmul_mnk: (self.matmul_mnk[0], self.matmul_mnk[1], self.matmul_mnk[2]),
            shapes: super::model::SHAPES.to_vec(),
            subgroup_shapes: true,
            mappings: Mapping::ALL.to_vec(),
            chain_dims: self.chain_dims.clone(),
            chain_layers: self.chain_layers,
            chain_trials: self.chain_trials,
            checked_outputs: self.checked_outputs,
        }
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct WebgpuInt4;

impl Kernel for WebgpuInt4 {
    fn name(&self) -> &'static str {
        "webgpu_int4"
    }

    fn description(&self) -> &'static str {
        "WGSL INT4 x f32/f16 matvec and matmul through wgpu on the first adapter (lavapipe \
         without a GPU), checked against a CPU reference on fresh inputs; workgroup and mapping \
         sweep incl. subgroup-sized shapes and a subgroupAdd matvec; a 12-layer chain as one \
         submit vs a submit (and readback) per layer; storage-only vs mapped intermediates"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        RealParams::from_table(real).map_err(|e| e.to_string())?;
        adapter_lines().map(|v| v.join("; "))
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        let p = if ctx.quick { p.quick() } else { p };
        if let Err(e) = adapter_lines() {
            return KernelReport::not_run(e);
        }
        // Fresh inputs every run: the scenario's seed mixed with the clock.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seed = ctx.seed ^ nanos;
        let opts = p.options(seed);
        let progress = |m: &str| (ctx.progress)(m);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            webgpu_kernel::measure(&opts, &progress)
        }));
        match result {
            Ok(Ok(r)) => {
                let mut k = report(&p, &r);
                k.environment.insert("input_seed".into(), seed.to_string());
                k
            }
            Ok(Err(e)) => KernelReport::not_run(e.to_string()),
            Err(_) => KernelReport::not_run("wgpu panicked during the measurement"),
        }
    }
}

/// `1=(4,4) 2=(8,8) ...`: the x axis of the shape charts, in the sweep's order.
fn shape_label(r: &Report) -> String {
    let mut seen: Vec<(u32, u32)> = Vec::new();
    for s in &r.sweep {
        if !seen.contains(&s.shape) {
            seen.push(s.shape);
        }
    }
    seen.iter()
        .enumerate()
        .map(|(i, (x, y))| format!("{}=({x},{y})", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An adapter name without its parenthesised details (`llvmpipe`).
pub(crate) fn short(name: &str) -> &str {
    name.split(" (").next().unwrap_or(name)
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The kernel's report from a measurement.
pub(crate) fn report(p: &RealParams, r: &Report) -> KernelReport {
    let mut k = KernelReport::default();
    let a = &r.adapter;
    k.environment.insert("adapter".into(), a.line());
    k.environment
        .insert("subgroup_min".into(), a.subgroup_sizes.0.to_string());
    let max_err = r.checks.iter().map(|c| c.max_rel_error).fold(0.0, f64::max);
    let passed = r.checks.iter().filter(|c| c.max_rel_error < 1e-4).count() as u64;
    k.set_exact("max_rel_error", max_err, "fraction");
    k.set_proportion("checks_passed_fraction", passed, r.checks.len() as u64);
    k.set_exact("f16_ran", f64::from(u8::from(r.f16_ran)), "bool");
    k.set_exact(
        "article_wgsl_compiles",
        f64::from(u8::from(r.article_verbatim_compiles)),
        "bool",
    );
    k.set_exact(
        "article_completed_max_rel_error",
        r.article_completed_max_rel_error,
        "fraction",
    );
    if !r.article_verbatim_compiles {
        k.findings.push(format!(
            "The article's WGSL as printed does not compile ({}): `vec3` lacks its element type, and K, N, weights, activations, output and dequantDotProduct are never declared.",
            r.article_verbatim_error
        ));
    }
    k.findings.push(format!(
        "The article's kernel body with only its missing declarations added reads one activation per 8 weights (`activations[k * 8u]`), passes no scale, ignores `col` and has no bounds check: its largest error against the true product is {:.3} of the sum of |terms| (the checked kernels: {:.1e}).",
        r.article_completed_max_rel_error, max_err
    ));
    for row in &r.sweep {
        let name = format!(
            "{}_{}_{}_wg{}x{}_ms",
            row.op,
            row.act.name(),
            row.mapping.name(),
            row.shape.0,
            row.shape.1
        );
        k.set_samples(name, &row.samples_ms, "ms");
    }
    // Spread over shapes per trial: slowest over fastest shape at the same trial index.
    let shapes = shape_label(r);
    let mut series = Vec::new();
    for op in ["matvec", "matmul"] {
        for act in ["f32", "f16"] {
            let mut lines = Vec::new();
            for mapping in ["article2d", "flat", "row_wg", "subgroup"] {
                let rows: Vec<_> = r
                    .sweep
                    .iter()
                    .filter(|s| s.op == op && s.act.name() == act && s.mapping.name() == mapping)
                    .collect();
                if rows.is_empty() {
                    continue;
                }
                // The spread is over the five named shapes (the claims' definition); the
                // subgroup-sized ones are charted beside them.
                let named: Vec<_> = rows
                    .iter()
                    .filter(|s| !r.subgroup_shapes.contains(&s.shape))
                    .collect();
                let trials = named.iter().map(|s| s.samples_ms.len()).min().unwrap_or(0);
                let spread: Vec<f64> = (0..trials)
                    .map(|i| {
                        let v: Vec<f64> = named.iter().map(|s| s.samples_ms[i]).collect();
                        v.iter().copied().fold(0.0, f64::max)
                            / v.iter().copied().fold(f64::INFINITY, f64::min)
                    })
                    .collect();
                k.set_samples(
                    format!("{op}_{act}_{mapping}_workgroup_spread"),
                    &spread,
                    "ratio",
                );
                lines.push((
                    mapping.to_string(),
                    rows.iter()
                        .enumerate()
                        .map(|(i, s)| ((i + 1) as f64, mean(&s.samples_ms)))
                        .collect(),
                ));
            }
            if !lines.is_empty() {
                series.push(RealSeries {
                    id: format!("{op}-{act}-shapes"),
                    title: format!("{op} {act} by workgroup shape ({})", short(&a.name)),
                    x_label: format!("shape: {shapes}"),
                    y_label: "ms per run (mean)".into(),
                    lines,
                    log_y: true,
                });
            }
        }
    }
    extra::subgroups(r, &mut k);
    if let Some(best) = r
        .sweep
        .iter()
        .filter(|s| s.op == "matvec")
        .min_by(|x, y| mean(&x.samples_ms).total_cmp(&mean(&y.samples_ms)))
    {
        let gbps: Vec<f64> = best
            .samples_ms
            .iter()
            .map(|t| best.bytes / t / 1e6)
            .collect();
        let gflops: Vec<f64> = best
            .samples_ms
            .iter()
            .map(|t| best.flops / t / 1e6)
            .collect();
        k.set_samples("matvec_best_gbps", &gbps, "GB/s");
        k.set_samples("matvec_best_gflops", &gflops, "GFLOP/s");
        k.environment.insert(
            "matvec_best".into(),
            format!(
                "{} {} ({},{})",
                best.act.name(),
                best.mapping.name(),
                best.shape.0,
                best.shape.1
            ),
        );
    }
    if let Some(flat) = r.sweep.iter().find(|s| {
        s.op == "matvec"
            && s.act.name() == "f32"
            && s.mapping.name() == "flat"
            && s.shape == (64, 1)
    }) {
        let gbps: Vec<f64> = flat
            .samples_ms
            .iter()
            .map(|t| flat.bytes / t / 1e6)
            .collect();
        k.set_samples("matvec_flat64_gbps", &gbps, "GB/s");
        k.calibration
            .insert("mem_bw_gbps".into(), toml::Value::Float(mean(&gbps)));
    }
    if let Some(best) = r
        .sweep
        .iter()
        .filter(|s| s.op == "matmul")
        .min_by(|x, y| mean(&x.samples_ms).total_cmp(&mean(&y.samples_ms)))
    {
        let gflops: Vec<f64> = best
            .samples_ms
            .iter()
            .map(|t| best.flops / t / 1e6)
            .collect();
        k.set_samples("matmul_best_gflops", &gflops, "GFLOP/s");
    }
    k.series.extend(series);
    chains(p, r, &mut k);
    extra::intermediates(p, r, &mut k);
    k.calibration.insert(
        "wave_width".into(),
        toml::Value::Integer(i64::from(a.subgroup_sizes.0.max(1))),
    );
    k
}

fn chains(p: &RealParams, r: &Report, k: &mut KernelReport) {
    let mut agree = true;
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for structure in ["batched", "per_layer_submit", "per_layer_readback"] {
        let pts: Vec<(f64, f64)> = r
            .chains
            .iter()
            .filter(|c| c.structure == structure)
            .map(|c| (f64::from(c.dim), mean(&c.samples_ms)))
            .collect();
        lines.push((structure.to_string(), pts));
    }
    let layers = f64::from(p.chain_layers);
    for (i, &d) in p.chain_dims.iter().enumerate() {
        let get = |s: &str| r.chains.iter().find(|c| c.dim == d && c.structure == s);
        let (Some(b), Some(ps), Some(pr)) = (
            get("batched"),
            get("per_layer_submit"),
            get("per_layer_readback"),
        ) else {
            continue;
        };
        agree &= b.agrees && ps.agrees && pr.agrees;
        for c in [b, ps, pr] {
            k.set_samples(format!("chain{d}_{}_ms", c.structure), &c.samples_ms, "ms");
        }
        let n = b
            .samples_ms
            .len()
            .min(pr.samples_ms.len())
            .min(ps.samples_ms.len());
        let saving: Vec<f64> = (0..n)
            .map(|j| 1.0 - b.samples_ms[j] / pr.samples_ms[j])
            .collect();
        let per_crossing: Vec<f64> = (0..n)
            .map(|j| (pr.samples_ms[j] - b.samples_ms[j]) / (layers - 1.0))
            .collect();
        let submit_saving: Vec<f64> = (0..n)
            .map(|j| 1.0 - b.samples_ms[j] / ps.samples_ms[j])
            .collect();
        k.set_samples_in(
            format!("chain{d}_batched_saving_fraction"),
            &saving,
            "fraction",
            (-1.0, 1.0),
        );
        k.set_samples_in(
            format!("chain{d}_submit_saving_fraction"),
            &submit_saving,
            "fraction",
            (-1.0, 1.0),
        );
        k.set_samples_in(
            format!("chain{d}_per_crossing_ms"),
            &per_crossing,
            "ms",
            (f64::NEG_INFINITY, f64::INFINITY),
        );
        if i == 0 {
            k.calibration.insert(
                "readback_ms".into(),
                toml::Value::Float(mean(&per_crossing).max(0.0)),
            );
        }
    }
    k.set_exact("chain_outputs_agree", f64::from(u8::from(agree)), "bool");
    k.series.push(RealSeries {
        id: "chain-structures".into(),
        title: format!(
            "{}-layer INT4 matvec chain: one submit vs per-layer submits/readbacks on {}",
            p.chain_layers, r.adapter.name
        ),
        x_label: "matrix side (dim)".into(),
        y_label: "ms per chain (mean)".into(),
        lines,
        log_y: true,
    });
}
