//! The `llama_speculative` kernel: llama.cpp on the machine at hand. It measures a target's
//! one-token decode, the batched verify pass V(K) for K = 1..k_max and the draft's decode (a
//! hardware profile the model takes as `profile = "custom"`), resident memory with the target
//! mmap'd and read in, and real draft-then-verify decoding between the two models (greedy and
//! stochastic verification, KV-cache rollback) for a few K, beside the model's prediction.
//!
//! Without the user's GGUF files (`real.target`, `real.draft`) it measures a generated tiny
//! llama-architecture pair that shares embedding and output weights.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_count};
use crate::real::llama::{ModelChoice, file_mb, parse_real, real_table, run_measured};
use crate::real::{Kernel, KernelContext, KernelReport, RealSeries};

/// The `[real]` keys of `llama_speculative`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// `target`, `draft`, `models_dir`, `threads`, `layer_scale` (parsed apart).
    #[serde(skip)]
    pub models: ModelChoice,
    /// Verify passes of K = 1..verify_k_max drafted tokens (K + 1 tokens per pass) are timed.
    pub verify_k_max: u32,
    /// Timed repetitions of each decode (medians are reported).
    pub reps: u32,
    /// Tokens in the cache before timed decodes.
    pub context_tokens: u32,
    /// Draft lengths of the real speculative runs.
    pub k: Vec<u32>,
    /// Tokens each speculative run (and its plain baseline) generates.
    pub tokens: u32,
    /// Sampling temperature of the stochastic runs (greedy runs take the argmax).
    pub temperature: f64,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            models: ModelChoice::default(),
            verify_k_max: 16,
            reps: 9,
            context_tokens: 64,
            k: vec![1, 2, 4, 6, 8],
            tokens: 192,
            temperature: 1.0,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let (models, p) = parse_real::<RealParams>(t)?;
        let p = RealParams { models, ..p };
        p.models.validate(true)?;
        require_count("verify_k_max", p.verify_k_max, 1..=64, "drafted tokens")?;
        require_count("reps", p.reps, 1..=1000, "repetitions")?;
        require_count("context_tokens", p.context_tokens, 1..=4096, "tokens")?;
        if p.k.is_empty() || p.k.iter().any(|&k| !(1..=p.verify_k_max).contains(&k)) {
            return Err(ParamsError::out_of_range(
                "k",
                format!("{:?}", p.k),
                &format!(
                    "a non-empty list of draft lengths from 1 to verify_k_max = {}",
                    p.verify_k_max
                ),
            ));
        }
        require_count("tokens", p.tokens, 8..=100_000, "tokens")?;
        if !(p.temperature > 0.0 && p.temperature <= 10.0) {
            return Err(ParamsError::out_of_range(
                "temperature",
                p.temperature,
                "> 0 and at most 10",
            ));
        }
        Ok(p)
    }

    /// `--quick`: fewer repetitions, two draft lengths, shorter runs (the curve stays whole).
    fn quick(mut self) -> RealParams {
        self.reps = self.reps.min(3);
        self.tokens = self.tokens.min(64);
        let keep: Vec<u32> = [1, 4].into_iter().filter(|k| self.k.contains(k)).collect();
        if !keep.is_empty() {
            self.k = keep;
        }
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct LlamaSpeculative;

impl Kernel for LlamaSpeculative {
    fn name(&self) -> &'static str {
        "llama_speculative"
    }

    fn description(&self) -> &'static str {
        "llama.cpp on this machine: decode, verify V(K) and draft costs, resident memory, and real \
         draft-then-verify decoding (needs the `llama` build; real.target/real.draft or a generated tiny pair)"
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
            |p| measure(&if ctx.quick { p.quick() } else { p }, ctx),
        )
    }
}

fn measure(p: &RealParams, ctx: &KernelContext) -> Result<KernelReport, String> {
    use llama_kernel::{ProfileOptions, SpecOptions, Verification};

    let mut r = KernelReport::default();
    (ctx.progress)("preparing the models");
    let models = p.models.models()?;
    let run = p.models.run_config();
    (ctx.progress)("timing decode, verify and draft passes");
    let profile = llama_kernel::measure_profile(
        &models.target,
        &models.draft,
        &ProfileOptions {
            run,
            // A pass verifying K drafts carries K + 1 tokens (the last accepted one first).
            k_max: p.verify_k_max + 1,
            reps: p.reps,
            context_tokens: p.context_tokens,
            seed: ctx.seed,
        },
    )
    .map_err(|e| e.to_string())?;

    r.set("target_decode_ms", profile.target_decode.median_ms, "ms");
    r.set("draft_decode_ms", profile.draft_decode.median_ms, "ms");
    r.set("draft_cost_ratio", profile.draft_cost_ratio, "ratio");
    // The model's V(K): a pass over K + 1 tokens against a one-token decode.
    let verify: Vec<(u32, f64)> = profile
        .verify
        .iter()
        .filter(|v| v.k >= 2)
        .map(|v| (v.k - 1, v.ratio))
        .collect();
    for (k, ratio) in &verify {
        r.set(format!("verify_cost_ratio_k{k}"), *ratio, "ratio");
    }
    let target_mb = file_mb(&models.target);
    let draft_mb = file_mb(&models.draft);
    r.set("target_file_mb", target_mb, "MB");
    r.set("draft_file_mb", draft_mb, "MB");
    let rss = |mmap: bool| {
        profile
            .memory
            .iter()
            .find(|m| m.mmap == mmap)
            .map(|m| m.after_decode.rss_mib - m.before_load.rss_mib)
    };
    if let (Some(with), Some(without)) = (rss(true), rss(false)) {
        r.set("target_rss_mib_mmap", with, "MiB");
        r.set("target_rss_mib_read_in", without, "MiB");
        r.set("mmap_rss_ratio", with / without.max(1e-9), "ratio");
    }

    let mut series_tps: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut baseline: Vec<(f64, f64)> = Vec::new();
    for (label, verification) in [
        ("greedy", Verification::Greedy),
        (
            "stochastic",
            Verification::Stochastic {
                temperature: p.temperature as f32,
            },
        ),
    ] {
        let mut line = Vec::new();
        for &k in &p.k {
            (ctx.progress)(&format!("speculative decoding, {label}, K = {k}"));
            let s = llama_kernel::run_speculative(
                &models.target,
                &models.draft,
                &SpecOptions {
                    run,
                    k,
                    verification,
                    n_tokens: p.tokens,
                    prompt_tokens: p.context_tokens,
                    seed: ctx.seed,
                    p_min: 0.0,
                },
            )
            .map_err(|e| e.to_string())?;
            let name = |m: &str| format!("{label}_k{k}_{m}");
            r.set(name("accept_rate_drafted"), s.acceptance_rate, "fraction");
            r.set(name("tokens_per_cycle"), s.tokens_per_cycle, "tokens");
            r.set(name("tokens_per_s"), s.spec_tokens_per_s, "tokens/s");
            r.set(name("speedup"), s.speedup, "x");
            r.set(
                name("baseline_tokens_per_s"),
                s.baseline_tokens_per_s,
                "tokens/s",
            );
            line.push((k as f64, s.spec_tokens_per_s));
            if label == "greedy" {
                baseline.push((k as f64, s.baseline_tokens_per_s));
                if k == 1 {
                    // With one drafted token, accepted / drafted is the per-token acceptance.
                    r.calibration
                        .insert("alpha".into(), toml::Value::Float(round(s.acceptance_rate)));
                }
                if s.distinct_tokens < 8 {
                    r.findings.push(format!(
                        "Greedy K = {k}: the output fell into a loop ({} distinct tokens), where \
                         acceptance repeats one pattern.",
                        s.distinct_tokens
                    ));
                }
            }
        }
        series_tps.push((format!("{label} verification"), line));
    }
    series_tps.push(("plain decoding (target only)".into(), baseline));

    r.calibration
        .insert("profile".into(), toml::Value::String("custom".into()));
    r.calibration.insert(
        "target_decode_ms".into(),
        toml::Value::Float(round(profile.target_decode.median_ms)),
    );
    r.calibration.insert(
        "draft_cost_ratio".into(),
        toml::Value::Float(round(profile.draft_cost_ratio)),
    );
    r.calibration.insert(
        "verify_cost_ratios".into(),
        toml::Value::Array(
            verify
                .iter()
                .map(|(_, ratio)| toml::Value::Float(round(*ratio)))
                .collect(),
        ),
    );
    r.calibration.insert(
        "target_model_mb".into(),
        toml::Value::Float(round(target_mb)),
    );
    r.calibration
        .insert("draft_model_mb".into(), toml::Value::Float(round(draft_mb)));

    let v6 = verify
        .iter()
        .find(|(k, _)| *k == 6)
        .map(|(_, ratio)| *ratio);
    if let Some(v6) = v6.filter(|v| *v > 1.5) {
        r.findings.push(format!(
            "Verifying 6 drafted tokens (a 7-token pass) costs {v6:.2} one-token decodes here: \
             this machine's decode is not memory-bound enough for verification to be nearly free."
        ));
    }

    r.series.push(RealSeries {
        id: "real-verify-cost".into(),
        title: "Measured verify cost V(K): a pass over K + 1 tokens / one-token decode".into(),
        x_label: "K (drafted tokens verified in one pass)".into(),
        y_label: "V(K)".into(),
        lines: vec![(
            "this machine (llama.cpp)".into(),
            verify
                .iter()
                .map(|(k, ratio)| (*k as f64, *ratio))
                .collect(),
        )],
        log_y: false,
    });
    r.series.push(RealSeries {
        id: "real-speculative-tokens-per-s".into(),
        title: "Real speculative decoding on this machine: tokens/s by draft length".into(),
        x_label: "K (drafted tokens per cycle)".into(),
        y_label: "tokens/s".into(),
        lines: series_tps,
        log_y: false,
    });

    let env = &mut r.environment;
    env.insert(
        "models".into(),
        if models.generated {
            format!("generated tiny pair in {}", p.models.models_dir)
        } else {
            format!("{} / {}", models.target.display(), models.draft.display())
        },
    );
    env.insert(
        "target".into(),
        format!(
            "{} parameters, {} layers, {} MB",
            profile.target.n_params,
            profile.target.n_layer,
            round(target_mb)
        ),
    );
    env.insert(
        "draft".into(),
        format!(
            "{} parameters, {} layers, {} MB",
            profile.draft.n_params,
            profile.draft.n_layer,
            round(draft_mb)
        ),
    );
    env.insert("threads".into(), profile.threads.to_string());
    env.insert("llama.cpp".into(), profile.system_info.trim().to_string());
    Ok(r)
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_check_and_bad_keys_name_the_field() {
        let t = LlamaSpeculative.check(&toml::Table::new()).unwrap();
        assert_eq!(t["verify_k_max"].as_integer(), Some(16));
        for (src, field) in [
            ("k = [0]", "k"),
            ("k = [20]", "k"),
            ("target = \"a.gguf\"", "draft"),
            ("draft = \"b.gguf\"", "target"),
            ("temperature = 0.0", "temperature"),
            ("tokens = 2", "tokens"),
            ("threds = 2", "threds"),
            ("layer_scale = 0.0", "layer_scale"),
        ] {
            let e = LlamaSpeculative.check(&table(src)).unwrap_err();
            assert_eq!(e.path(), field, "{src}: {e}");
        }
    }

    #[test]
    fn quick_keeps_the_verify_curve_whole() {
        let p = RealParams::default().quick();
        assert_eq!(p.verify_k_max, 16);
        assert_eq!(p.k, vec![1, 4]);
        assert!(p.reps <= 3 && p.tokens <= 64);
    }

    #[test]
    fn a_missing_model_file_is_not_available() {
        let t = table("target = \"/nonexistent/t.gguf\"\ndraft = \"/nonexistent/d.gguf\"");
        let why = LlamaSpeculative.available(&t).unwrap_err();
        assert!(
            why.contains("llama") || why.contains("no such file"),
            "{why}"
        );
    }
}
