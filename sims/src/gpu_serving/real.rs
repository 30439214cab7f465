//! The `llama_batch` kernel: llama.cpp's decode step time t(B) for B = 1..max_batch parallel
//! sequences on the machine at hand (a CPU here; llama.cpp's GPU backend where one is built in),
//! written as a `profile = "custom"` curve the serving model can run on. Without the user's
//! GGUF file (`real.target`) it measures the generated tiny target. The whole curve is measured
//! `trials` times (each trial its own prompts and fed tokens, seed + trial); every value is the
//! mean over trials of each trial's median step, with a t interval.

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
    /// Timed repetitions per batch size within a trial (the trial's value is their median).
    pub reps: u32,
    /// Tokens in each sequence's cache before the timed steps.
    pub context_tokens: u32,
    /// Repeated trials of the whole curve: values are the mean over trials with a t interval.
    pub trials: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            models: ModelChoice::default(),
            max_batch: 16,
            reps: 7,
            context_tokens: 32,
            trials: 5,
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
        require_count("trials", p.trials, 1..=100, "repeated trials")?;
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
                // `--quick`: fewer repetitions and trials, still an interval.
                let (reps, trials) = if ctx.quick {
                    (p.reps.min(3), p.trials.min(3))
                } else {
                    (p.reps, p.trials)
                };
                measure(&RealParams { reps, trials, ..p }, ctx)
            },
        )
    }
}

fn measure(p: &RealParams, ctx: &KernelContext) -> Result<KernelReport, String> {
    let mut r = KernelReport::default();
    (ctx.progress)("preparing the model");
    let models = p.models.models()?;
    let mut curves = Vec::with_capacity(p.trials as usize);
    for trial in 0..p.trials {
        (ctx.progress)(&format!(
            "trial {}/{}: timing decode steps of 1..{} sequences",
            trial + 1,
            p.trials,
            p.max_batch
        ));
        let curve = llama_kernel::measure_batch_curve(
            &models.target,
            &llama_kernel::BatchOptions {
                run: p.models.run_config(),
                max_batch: p.max_batch,
                reps: p.reps,
                context_tokens: p.context_tokens,
                seed: ctx.seed.wrapping_add(u64::from(trial)),
            },
        )
        .map_err(|e| e.to_string())?;
        if curve.points.is_empty() {
            return Err("llama.cpp returned no batch timings".into());
        }
        curves.push(curve);
    }
    // Per trial: each batch size's median step (ms); batch sizes every trial measured.
    let batches: Vec<u32> = curves[0].points.iter().map(|b| b.batch).collect();
    let step = |c: &llama_kernel::BatchCurve, batch: u32| {
        c.points
            .iter()
            .find(|b| b.batch == batch)
            .map(|b| b.step.median_ms.max(1e-9))
    };
    let first = batches[0];
    let mut mean_curve: Vec<(f64, f64)> = Vec::new();
    for &batch in &batches {
        let per_trial: Vec<(f64, f64)> = curves
            .iter()
            .filter_map(|c| Some((step(c, batch)?, step(c, first)?)))
            .collect();
        if per_trial.len() != curves.len() {
            continue;
        }
        let ms: Vec<f64> = per_trial.iter().map(|t| t.0).collect();
        let ratio: Vec<f64> = per_trial.iter().map(|(ms, one)| ms / one).collect();
        let tps: Vec<f64> = ms.iter().map(|ms| f64::from(batch) * 1e3 / ms).collect();
        r.set_samples(format!("step_ms_b{batch}"), &ms, "ms");
        r.set_samples(format!("step_ratio_b{batch}"), &ratio, "ratio");
        r.set_samples(format!("tokens_per_s_b{batch}"), &tps, "tokens/s");
        mean_curve.push((f64::from(batch), mean(&ms)));
    }
    let last = *batches.last().expect("a curve has points");
    let gains: Vec<f64> = curves
        .iter()
        .filter_map(|c| Some(f64::from(last) * step(c, first)? / step(c, last)?))
        .collect();
    if gains.len() == curves.len() {
        r.set_samples("batch_throughput_gain", &gains, "x");
        let ratio = r
            .metrics
            .get(&format!("step_ratio_b{last}"))
            .map_or(f64::NAN, |m| m.value);
        r.findings.push(format!(
            "A step of {last} sequences takes {ratio:.2} one-sequence steps here (mean of {} \
             trials): batching multiplies throughput by {:.1}x on this machine.",
            curves.len(),
            mean(&gains)
        ));
    }
    r.calibration
        .insert("profile".into(), toml::Value::String("custom".into()));
    r.calibration.insert(
        "step_ms_by_batch".into(),
        toml::Value::Array(
            mean_curve
                .iter()
                .map(|&(b, ms)| {
                    toml::Value::Array(vec![
                        toml::Value::Float(b),
                        toml::Value::Float((ms * 1e4).round() / 1e4),
                    ])
                })
                .collect(),
        ),
    );
    r.series.push(RealSeries {
        id: "real-step-time-by-batch".into(),
        title: "Measured decode step time by batch size (llama.cpp, this machine)".into(),
        x_label: "sequences decoded together (B)".into(),
        y_label: "step time [ms], mean over trials".into(),
        lines: vec![("t(B) measured".into(), mean_curve)],
        log_y: false,
    });
    let model = &curves[0];
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
        format!("{} ({} layers)", model.model.n_params, model.model.n_layer),
    );
    env.insert("threads".into(), model.threads.to_string());
    env.insert(
        "trials".into(),
        format!("{} x {} timed steps per batch size", curves.len(), p.reps),
    );
    env.insert("llama.cpp".into(), model.system_info.trim().to_string());
    Ok(r)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_name_the_field() {
        let t = LlamaBatch.check(&toml::Table::new()).unwrap();
        assert_eq!(t["max_batch"].as_integer(), Some(16));
        assert_eq!(t["trials"].as_integer(), Some(5));
        for (src, field) in [
            ("max_batch = 0", "max_batch"),
            ("draft = \"d.gguf\"", "draft"),
            ("reps = 0", "reps"),
            ("trials = 0", "trials"),
            ("max_btch = 4", "max_btch"),
        ] {
            let e = LlamaBatch.check(&src.parse().unwrap()).unwrap_err();
            assert_eq!(e.path(), field, "{src}: {e}");
        }
    }
}
