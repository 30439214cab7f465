//! The `llama_batch` kernel: llama.cpp's decode step time t(B) for B = 1..max_batch parallel
//! sequences on the machine at hand (a CPU here; llama.cpp's GPU backend where one is built in),
//! written as a `profile = "custom"` curve the serving model can run on. Without the user's
//! GGUF file (`real.target`) it measures the generated tiny target.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_count};
use crate::real::llama::{ModelChoice, parse_real, real_table, run_measured};
use crate::real::{Kernel, KernelContext, KernelReport, RealSeries};

/// The `[real]` keys of `llama_batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// `target`, `draft`, `models_dir`, `threads`, `layer_scale` (parsed apart).
    #[serde(skip)]
    pub models: ModelChoice,
    /// Batches of 1..=max_batch sequences are timed.
    pub max_batch: u32,
    /// Timed repetitions per batch size (medians are reported).
    pub reps: u32,
    /// Tokens in each sequence's cache before the timed steps.
    pub context_tokens: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            models: ModelChoice::default(),
            max_batch: 16,
            reps: 7,
            context_tokens: 32,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let (models, p) = parse_real::<RealParams>(t)?;
        let p = RealParams { models, ..p };
        p.models.validate(false)?;
        require_count("max_batch", p.max_batch, 1..=256, "sequences")?;
        require_count("reps", p.reps, 1..=1000, "repetitions")?;
        require_count("context_tokens", p.context_tokens, 1..=4096, "tokens")?;
        Ok(p)
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct LlamaBatch;

impl Kernel for LlamaBatch {
    fn name(&self) -> &'static str {
        "llama_batch"
    }

    fn description(&self) -> &'static str {
        "llama.cpp on this machine: decode step time t(B) for 1..max_batch parallel sequences \
         (needs the `llama` build; real.target or the generated tiny model)"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        let p = RealParams::from_table(real)?;
        Ok(real_table(&p.models, &p))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        let p = RealParams::from_table(real).map_err(|e| e.to_string())?;
        p.models.available()
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        run_measured(
            RealParams::from_table(real),
            |p| &p.models,
            |p| {
                let reps = if ctx.quick { p.reps.min(3) } else { p.reps };
                measure(&RealParams { reps, ..p }, ctx)
            },
        )
    }
}

fn measure(p: &RealParams, ctx: &KernelContext) -> Result<KernelReport, String> {
    let mut r = KernelReport::default();
    (ctx.progress)("preparing the model");
    let models = p.models.models()?;
    (ctx.progress)(&format!(
        "timing decode steps of 1..{} sequences",
        p.max_batch
    ));
    let curve = llama_kernel::measure_batch_curve(
        &models.target,
        &llama_kernel::BatchOptions {
            run: p.models.run_config(),
            max_batch: p.max_batch,
            reps: p.reps,
            context_tokens: p.context_tokens,
            seed: ctx.seed,
        },
    )
    .map_err(|e| e.to_string())?;
    let Some(first) = curve.points.first().map(|b| b.step.median_ms) else {
        return Err("llama.cpp returned no batch timings".into());
    };
    for b in &curve.points {
        let ms = b.step.median_ms;
        r.set(format!("step_ms_b{}", b.batch), ms, "ms");
        r.set(
            format!("step_ratio_b{}", b.batch),
            ms / first.max(1e-9),
            "ratio",
        );
        r.set(
            format!("tokens_per_s_b{}", b.batch),
            b.batch as f64 * 1e3 / ms.max(1e-9),
            "tokens/s",
        );
    }
    if let Some(last) = curve.points.last() {
        let gain = last.batch as f64 * first / last.step.median_ms.max(1e-9);
        r.set("batch_throughput_gain", gain, "x");
        r.findings.push(format!(
            "A step of {} sequences takes {:.2} one-sequence steps here: batching multiplies \
             throughput by {gain:.1}x on this machine.",
            last.batch,
            last.step.median_ms / first.max(1e-9)
        ));
    }
    r.calibration
        .insert("profile".into(), toml::Value::String("custom".into()));
    r.calibration.insert(
        "step_ms_by_batch".into(),
        toml::Value::Array(
            curve
                .points
                .iter()
                .map(|b| {
                    toml::Value::Array(vec![
                        toml::Value::Float(b.batch as f64),
                        toml::Value::Float((b.step.median_ms * 1e4).round() / 1e4),
                    ])
                })
                .collect(),
        ),
    );
    r.series.push(RealSeries {
        id: "real-step-time-by-batch".into(),
        title: "Measured decode step time by batch size (llama.cpp, this machine)".into(),
        x_label: "sequences decoded together (B)".into(),
        y_label: "step time [ms]".into(),
        lines: vec![(
            "t(B) measured".into(),
            curve
                .points
                .iter()
                .map(|b| (b.batch as f64, b.step.median_ms))
                .collect(),
        )],
        log_y: false,
    });
    let env = &mut r.environment;
    env.insert(
        "model".into(),
        if models.generated {
            format!("generated tiny target in {}", p.models.models_dir)
        } else {
            models.target.display().to_string()
        },
    );
    env.insert(
        "parameters".into(),
        format!("{} ({} layers)", curve.model.n_params, curve.model.n_layer),
    );
    env.insert("threads".into(), curve.threads.to_string());
    env.insert("llama.cpp".into(), curve.system_info.trim().to_string());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_name_the_field() {
        let t = LlamaBatch.check(&toml::Table::new()).unwrap();
        assert_eq!(t["max_batch"].as_integer(), Some(16));
        for (src, field) in [
            ("max_batch = 0", "max_batch"),
            ("draft = \"d.gguf\"", "draft"),
            ("reps = 0", "reps"),
            ("max_btch = 4", "max_btch"),
        ] {
            let e = LlamaBatch.check(&src.parse().unwrap()).unwrap_err();
            assert_eq!(e.path(), field, "{src}: {e}");
        }
    }
}
