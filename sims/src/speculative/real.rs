//! The `llama_speculative` kernel: llama.cpp on the machine at hand. It measures a target's
//! one-token decode, the batched verify pass V(K) for K = 1..k_max and the draft's decode (a
//! hardware profile the model takes as `profile = "custom"`), resident memory with the target
//! mmap'd and read in, and real draft-then-verify decoding between the two models (greedy and
//! stochastic verification, KV-cache rollback) for a few K, beside the model's prediction.
//! Timings, acceptance and speedups are repeated over `trials` trials (each with its own prompt)
//! and reported as the mean over trials with a t interval; resident memory is read on the first
//! load (a page count, exact); whether greedy speculative output equals the target's own greedy
//! output is checked run by run (a fact per run).
//!
//! Without the user's GGUF files (`real.target`, `real.draft`) it measures a generated tiny
//! llama-architecture pair that shares embedding and output weights.

use std::collections::BTreeMap;

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
    /// Repeated trials (each with its own prompt): timings, acceptance and speedups are
    /// reported as the mean over trials with a t interval.
    pub trials: u32,
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
            trials: 5,
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
        require_count("trials", p.trials, 1..=100, "repeated trials")?;
        if !(p.temperature > 0.0 && p.temperature <= 10.0) {
            return Err(ParamsError::out_of_range(
                "temperature",
                p.temperature,
                "> 0 and at most 10",
            ));
        }
        Ok(p)
    }

    /// `--quick`: fewer repetitions and trials (still an interval), two draft lengths, shorter
    /// runs (the curve stays whole).
    fn quick(mut self) -> RealParams {
        self.reps = self.reps.min(3);
        self.trials = self.trials.min(3);
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
    // Each trial: its own prompt and fed tokens (seed + trial), one timed profile, then every
    // speculative run. Trials interleave, so a slow stretch of the machine spreads over all.
    let mut profiles = Vec::with_capacity(p.trials as usize);
    let mut runs: BTreeMap<(&str, u32), Vec<llama_kernel::SpecRun>> = BTreeMap::new();
    let modes = [
        ("greedy", Verification::Greedy),
        (
            "stochastic",
            Verification::Stochastic {
                temperature: p.temperature as f32,
            },
        ),
    ];
    for trial in 0..p.trials {
        let seed = ctx.seed.wrapping_add(u64::from(trial));
        (ctx.progress)(&format!(
            "trial {}/{}: timing decode, verify and draft passes",
            trial + 1,
            p.trials
        ));
        profiles.push(
            llama_kernel::measure_profile(
                &models.target,
                &models.draft,
                &ProfileOptions {
                    run,
                    // A pass verifying K drafts carries K + 1 tokens (the last accepted one first).
                    k_max: p.verify_k_max + 1,
                    reps: p.reps,
                    context_tokens: p.context_tokens,
                    seed,
                },
            )
            .map_err(|e| e.to_string())?,
        );
        for (label, verification) in modes {
            for &k in &p.k {
                (ctx.progress)(&format!(
                    "trial {}/{}: speculative decoding, {label}, K = {k}",
                    trial + 1,
                    p.trials
                ));
                let s = llama_kernel::run_speculative(
                    &models.target,
                    &models.draft,
                    &SpecOptions {
                        run,
                        k,
                        verification,
                        n_tokens: p.tokens,
                        prompt_tokens: p.context_tokens,
                        seed,
                        p_min: 0.0,
                    },
                )
                .map_err(|e| e.to_string())?;
                runs.entry((label, k)).or_default().push(s);
            }
        }
    }

    // Timings: the mean over trials of each trial's median, with a t interval.
    let over = |f: &dyn Fn(&llama_kernel::Profile) -> f64| -> Vec<f64> {
        profiles.iter().map(f).collect()
    };
    let target_ms = over(&|q| q.target_decode.median_ms);
    let draft_ratio = over(&|q| q.draft_cost_ratio);
    r.set_samples("target_decode_ms", &target_ms, "ms");
    r.set_samples(
        "draft_decode_ms",
        &over(&|q| q.draft_decode.median_ms),
        "ms",
    );
    r.set_samples("draft_cost_ratio", &draft_ratio, "ratio");
    // The model's V(K): a pass over K + 1 tokens against a one-token decode.
    let mut verify: Vec<(u32, f64)> = Vec::new();
    for k in 1..=p.verify_k_max {
        let ratios: Vec<f64> = profiles
            .iter()
            .filter_map(|q| q.verify.iter().find(|v| v.k == k + 1).map(|v| v.ratio))
            .collect();
        if ratios.len() == profiles.len() {
            r.set_samples(format!("verify_cost_ratio_k{k}"), &ratios, "ratio");
            verify.push((k, mean(&ratios)));
        }
    }
    let target_mb = file_mb(&models.target);
    let draft_mb = file_mb(&models.draft);
    r.set_exact("target_file_mb", target_mb, "MB");
    r.set_exact("draft_file_mb", draft_mb, "MB");
    // Resident memory from the first trial only: it is the first load of the target in this
    // process, and later loads reuse memory the allocator kept from it (their growth reads ~0),
    // so they are not repeats. RSS growth is a count of resident pages, not a noisy timing: a
    // checked fact.
    let rss = |mmap: bool| {
        profiles[0]
            .memory
            .iter()
            .find(|m| m.mmap == mmap)
            .map(|m| m.after_decode.rss_mib - m.before_load.rss_mib)
    };
    if let (Some(with), Some(without)) = (rss(true), rss(false)) {
        r.set_exact("target_rss_mib_mmap", with, "MiB");
        r.set_exact("target_rss_mib_read_in", without, "MiB");
        r.set_exact("mmap_rss_ratio", with / without.max(1e-9), "ratio");
    }

    // Speculative runs: per-trial values (tokens within one run are not independent, so the
    // interval comes from the spread between trials, not from pooled token counts).
    let mut series_tps: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut baseline: Vec<(f64, f64)> = Vec::new();
    let (mut identical, mut compared_runs) = (0u64, 0u64);
    let mut diverged: Vec<String> = Vec::new();
    for (label, _) in modes {
        let mut line = Vec::new();
        for &k in &p.k {
            let rs = &runs[&(label, k)];
            let of = |f: &dyn Fn(&llama_kernel::SpecRun) -> f64| -> Vec<f64> {
                rs.iter().map(f).collect()
            };
            let name = |m: &str| format!("{label}_k{k}_{m}");
            let accept = of(&|s| s.acceptance_rate);
            let tps = of(&|s| s.spec_tokens_per_s);
            let base = of(&|s| s.baseline_tokens_per_s);
            r.set_samples(name("accept_rate_drafted"), &accept, "fraction");
            r.set_samples(
                name("tokens_per_cycle"),
                &of(&|s| s.tokens_per_cycle),
                "tokens",
            );
            r.set_samples(name("tokens_per_s"), &tps, "tokens/s");
            r.set_samples(name("speedup"), &of(&|s| s.speedup), "x");
            r.set_samples(name("baseline_tokens_per_s"), &base, "tokens/s");
            line.push((f64::from(k), mean(&tps)));
            if label != "greedy" {
                continue;
            }
            baseline.push((f64::from(k), mean(&base)));
            if k == 1 {
                // With one drafted token, accepted / drafted is the per-token acceptance.
                r.calibration
                    .insert("alpha".into(), toml::Value::Float(round(mean(&accept))));
            }
            for (trial, s) in rs.iter().enumerate() {
                // The plain run generated `tokens` tokens after the first; the speculative
                // output (which may overshoot) is compared over the same length.
                let want = s.options.n_tokens + 1;
                compared_runs += 1;
                match s.baseline_match_prefix {
                    Some(m) if m >= want => identical += 1,
                    m => diverged.push(format!(
                        "K = {k}, trial {}: first difference at token {}",
                        trial + 1,
                        m.unwrap_or(0)
                    )),
                }
                if s.distinct_tokens < 8 {
                    r.findings.push(format!(
                        "Greedy K = {k}, trial {}: the output fell into a loop ({} distinct \
                         tokens), where acceptance repeats one pattern.",
                        trial + 1,
                        s.distinct_tokens
                    ));
                }
            }
        }
        series_tps.push((format!("{label} verification"), line));
    }
    series_tps.push(("plain decoding (target only)".into(), baseline));
    // Greedy verification must reproduce the target's own greedy tokens exactly; each run is
    // deterministic for its models, seed and thread count, so a differing run is a fact.
    r.set_exact(
        "greedy_output_mismatched_runs",
        (compared_runs - identical) as f64,
        "runs",
    );
    r.set_proportion("greedy_output_identical_runs", identical, compared_runs);
    if diverged.is_empty() {
        r.findings.push(format!(
            "Greedy speculative decoding reproduced the target's own greedy output token for \
             token in all {compared_runs} runs ({} tokens each).",
            p.tokens + 1
        ));
    } else {
        r.findings.push(format!(
            "Greedy speculative decoding differed from the target's own greedy output in {} of \
             {compared_runs} runs ({}): batched and one-token passes round differently, and a \
             near-tie of the top two logits can flip.",
            diverged.len(),
            diverged.join("; ")
        ));
    }

    r.calibration
        .insert("profile".into(), toml::Value::String("custom".into()));
    r.calibration.insert(
        "target_decode_ms".into(),
        toml::Value::Float(round(mean(&target_ms))),
    );
    r.calibration.insert(
        "draft_cost_ratio".into(),
        toml::Value::Float(round(mean(&draft_ratio))),
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
            "Verifying 6 drafted tokens (a 7-token pass) costs {v6:.2} one-token decodes here \
             (mean of {} trials): this machine's decode is not memory-bound enough for \
             verification to be nearly free.",
            p.trials
        ));
    }

    r.series.push(RealSeries {
        id: "real-verify-cost".into(),
        title: "Measured verify cost V(K): a pass over K + 1 tokens / one-token decode".into(),
        x_label: "K (drafted tokens verified in one pass)".into(),
        y_label: "V(K), mean over trials".into(),
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
        y_label: "tokens/s, mean over trials".into(),
        lines: series_tps,
        log_y: false,
    });

    let first = &profiles[0];
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
            first.target.n_params,
            first.target.n_layer,
            round(target_mb)
        ),
    );
    env.insert(
        "draft".into(),
        format!(
            "{} parameters, {} layers, {} MB",
            first.draft.n_params,
            first.draft.n_layer,
            round(draft_mb)
        ),
    );
    env.insert("threads".into(), first.threads.to_string());
    env.insert(
        "trials".into(),
        format!(
            "{} (seeds {}..{}), each: {} timed repetitions per pass, {} tokens per run",
            p.trials,
            ctx.seed,
            ctx.seed.wrapping_add(u64::from(p.trials) - 1),
            p.reps,
            p.tokens
        ),
    );
    env.insert("llama.cpp".into(), first.system_info.trim().to_string());
    Ok(r)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
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
            ("trials = 0", "trials"),
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
        // Still repeated: a single trial is never more than inconclusive.
        assert_eq!(p.trials, 3);
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
