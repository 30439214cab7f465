//! The built-in hardware profiles and the measured data behind them.
//!
//! Measured profiles read `datasets/speculative/*.jsonl` (compiled in, so a run never touches
//! the file system); `datasets/speculative/README.md` says where each figure comes from.
//! V(K) follows llama.cpp's batching: verifying K drafts is one target pass over K + 1 tokens
//! (the last accepted token plus the drafts), so V(K) = t(K + 1) / t(1).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const H100_JSONL: &str = include_str!("../../../datasets/speculative/h100-llm-calibration.jsonl");
const CPU_JSONL: &str = include_str!("../../../datasets/speculative/cpu-2core-research.jsonl");

/// The article's baseline on its phone: "8B Q4_K_M (baseline) 6.2 tok/s" (OnePlus 12).
pub(super) const ARTICLE_BASELINE_TOK_S: f64 = 6.2;
/// The article's memory table: target 8B Q4_K_M "~4.5 GB", draft 0.5B Q8_0 "~0.5 GB".
pub(super) const ARTICLE_TARGET_MB: f64 = 4500.0;
/// See [`ARTICLE_TARGET_MB`].
pub(super) const ARTICLE_DRAFT_MB: f64 = 500.0;
/// The phone's draft pass relative to a target step (assumed; the article gives no draft
/// timing). Between the draft's share of the bytes, 0.5 / 4.5 = 0.11 (a purely memory-bound
/// decode), and the ratios measured where per-pass overheads count: 0.22 on an H100
/// (`datasets/speculative/h100-llm-calibration.jsonl`), 0.26 on a 2-core CPU (research §3).
pub(super) const PHONE_DRAFT_COST_RATIO: f64 = 0.2;
/// The phone's verify cost per verified token, V(K) = 1 + v·K (assumed; the article's "about
/// the same as generating one" is v = 0, one of its claims). llama.cpp on Qualcomm ARM CPUs
/// generates at about a fifth of its batched prompt rate (Snapdragon 8cx Gen 3, 1B Q4_K_M:
/// tg128 38.8 vs pp512 194 tok/s, geerlingguy/ai-benchmarks#54), so each extra token in a pass
/// adds ~0.2 of a decode step; the H100 measures 0.035, the 2-core CPU ~0.3.
pub(super) const PHONE_VERIFY_COST_PER_TOKEN: f64 = 0.2;

/// The built-in hardware profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// The article's phone: its 6.2 tok/s baseline and model sizes, with an assumed draft cost
    /// c = 0.2 and verify cost V(K) = 1 + 0.2·K (the article gives neither; its V = 1 is a claim).
    #[serde(rename = "article-phone")]
    ArticlePhone,
    /// One H100: Llama-8B shape as target, Qwen-0.5B shape as draft, bf16 (measured).
    #[serde(rename = "h100-8b-0.5b")]
    H100,
    /// The 2-core CPU of research §3: llama.cpp with 197 M / 62 M random-weight GGUF models.
    #[serde(rename = "cpu-2core-research")]
    Cpu2CoreResearch,
    /// Everything from the scenario.
    #[serde(rename = "custom")]
    Custom,
}

/// Resolved cost figures and model sizes for one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    /// One single-token target decode step, ms.
    pub target_decode_ms: f64,
    /// c: one draft pass / one target decode step.
    pub draft_cost_ratio: f64,
    /// V(1), V(2), ...: verifying K drafts / one target decode step.
    pub verify: Vec<f64>,
    /// Target weights, MB.
    pub target_model_mb: f64,
    /// Draft weights, MB.
    pub draft_model_mb: f64,
}

impl Costs {
    /// V(n): the target pass that verifies `n` drafts; V(0) = 1 is a plain decode step.
    pub fn verify_ratio(&self, n: u32) -> f64 {
        if n == 0 {
            1.0
        } else {
            self.verify[n as usize - 1]
        }
    }
}

/// The profile's figures with V(1)..V(`k_needed`), or `None` for `custom`.
pub(super) fn builtin(profile: Profile, k_needed: usize) -> Option<Costs> {
    match profile {
        Profile::Custom => None,
        Profile::ArticlePhone => Some(Costs {
            target_decode_ms: 1000.0 / ARTICLE_BASELINE_TOK_S,
            draft_cost_ratio: PHONE_DRAFT_COST_RATIO,
            verify: linear_verify(PHONE_VERIFY_COST_PER_TOKEN, k_needed),
            target_model_mb: ARTICLE_TARGET_MB,
            draft_model_mb: ARTICLE_DRAFT_MB,
        }),
        Profile::H100 => Some(measured().h100.costs(k_needed)),
        Profile::Cpu2CoreResearch => Some(measured().cpu.costs(k_needed)),
    }
}

/// V(1)..V(`k_needed`) of a linear verify cost: V(K) = 1 + `per_token` · K.
pub(super) fn linear_verify(per_token: f64, k_needed: usize) -> Vec<f64> {
    (1..=k_needed).map(|k| 1.0 + per_token * k as f64).collect()
}

/// A profile read from a measurement file.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MeasuredProfile {
    /// One single-token target decode step, ms.
    pub target_decode_ms: f64,
    /// c.
    pub draft_cost_ratio: f64,
    /// (tokens in the pass, ms), sorted by tokens, starting at 1.
    pub target_pass_ms: Vec<(u32, f64)>,
    /// Target weights, MB.
    pub target_model_mb: f64,
    /// Draft weights, MB.
    pub draft_model_mb: f64,
}

impl MeasuredProfile {
    /// A pass over `tokens` tokens relative to one decode step: measured, interpolated
    /// linearly between measured sizes, or extended along the least-squares line beyond them.
    pub(super) fn pass_ratio(&self, tokens: u32) -> f64 {
        let pts = &self.target_pass_ms;
        let ms = if let Some(&(_, ms)) = pts.iter().find(|(k, _)| *k == tokens) {
            ms
        } else if let Some(w) = pts.windows(2).find(|w| w[0].0 < tokens && tokens < w[1].0) {
            let ((k0, t0), (k1, t1)) = (w[0], w[1]);
            t0 + (t1 - t0) * (tokens - k0) as f64 / (k1 - k0) as f64
        } else {
            let n = pts.len() as f64;
            let mx = pts.iter().map(|p| p.0 as f64).sum::<f64>() / n;
            let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
            let sxy: f64 = pts.iter().map(|p| (p.0 as f64 - mx) * (p.1 - my)).sum();
            let sxx: f64 = pts.iter().map(|p| (p.0 as f64 - mx).powi(2)).sum();
            my + sxy / sxx * (tokens as f64 - mx)
        };
        ms / self.target_decode_ms
    }

    fn costs(&self, k_needed: usize) -> Costs {
        Costs {
            target_decode_ms: self.target_decode_ms,
            draft_cost_ratio: self.draft_cost_ratio,
            verify: (1..=k_needed as u32)
                .map(|k| self.pass_ratio(k + 1))
                .collect(),
            target_model_mb: self.target_model_mb,
            draft_model_mb: self.draft_model_mb,
        }
    }
}

/// Both measured profiles.
#[derive(Debug)]
pub(super) struct Measured {
    /// `h100-8b-0.5b`.
    pub h100: MeasuredProfile,
    /// `cpu-2core-research`.
    pub cpu: MeasuredProfile,
}

/// The measured profiles, parsed once. The files are compiled in and a unit test parses them,
/// so a failure here is a build defect, not bad input.
pub(super) fn measured() -> &'static Measured {
    static CELL: OnceLock<Measured> = OnceLock::new();
    CELL.get_or_init(|| Measured {
        h100: parse_h100(H100_JSONL).expect("datasets/speculative/h100-llm-calibration.jsonl"),
        cpu: parse_cpu(CPU_JSONL).expect("datasets/speculative/cpu-2core-research.jsonl"),
    })
}

fn rows(text: &str) -> Result<Vec<serde_json::Value>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

fn find<'a>(
    rows: &'a [serde_json::Value],
    kind: &str,
    model: &str,
) -> impl Iterator<Item = &'a serde_json::Value> {
    rows.iter()
        .filter(move |r| r["kind"] == kind && r["model"] == model)
}

fn num(r: &serde_json::Value, key: &str) -> Result<f64, String> {
    r[key]
        .as_f64()
        .ok_or_else(|| format!("no number `{key}` in {r}"))
}

fn decode_ms_batch1(rows: &[serde_json::Value], model: &str) -> Result<f64, String> {
    let r = find(rows, "decode", model)
        .find(|r| r["batch"] == 1)
        .ok_or_else(|| format!("no batch-1 decode row for {model}"))?;
    num(r, "ms")
}

fn weight_mb(rows: &[serde_json::Value], model: &str) -> Result<f64, String> {
    let r = find(rows, "params", model)
        .next()
        .ok_or_else(|| format!("no params row for {model}"))?;
    Ok(num(r, "weight_gb")? * 1000.0)
}

/// The H100 file: Llama-8B shape as target, Qwen-0.5B shape as draft.
pub(super) fn parse_h100(text: &str) -> Result<MeasuredProfile, String> {
    let rows = rows(text)?;
    let target_decode_ms = decode_ms_batch1(&rows, "llama8b")?;
    let draft_ms = decode_ms_batch1(&rows, "qwen0.5b")?;
    let mut pass: Vec<(u32, f64)> = vec![(1, target_decode_ms)];
    for r in find(&rows, "verify", "llama8b").filter(|r| r["batch"] == 1) {
        let k = num(r, "k")? as u32;
        // The k = 1 verify row times the same single-token step as the decode row; the decode
        // row is "one target decode" by definition.
        if k > 1 {
            pass.push((k, num(r, "ms")?));
        }
    }
    pass.sort_by_key(|p| p.0);
    Ok(MeasuredProfile {
        target_decode_ms,
        draft_cost_ratio: draft_ms / target_decode_ms,
        target_pass_ms: pass,
        target_model_mb: weight_mb(&rows, "llama8b")?,
        draft_model_mb: weight_mb(&rows, "qwen0.5b")?,
    })
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn runs(r: &serde_json::Value) -> Result<Vec<f64>, String> {
    r["ms_runs"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("no `ms_runs` in {r}"))?
        .iter()
        .map(|v| v.as_f64().ok_or_else(|| format!("bad `ms_runs` in {r}")))
        .collect()
}

/// The research CPU file: medians over runs for the target; c from run 3, the only run that
/// timed the draft, against the target's run-3 time.
pub(super) fn parse_cpu(text: &str) -> Result<MeasuredProfile, String> {
    let rows = rows(text)?;
    let mut pass = Vec::new();
    let mut target_run3_k1 = None;
    for r in find(&rows, "verify", "target-197m") {
        let k = num(r, "k")? as u32;
        let ms = runs(r)?;
        if k == 1 {
            target_run3_k1 = ms.get(2).copied();
        }
        pass.push((k, median(&ms)));
    }
    pass.sort_by_key(|p| p.0);
    let target_decode_ms = pass
        .first()
        .filter(|p| p.0 == 1)
        .map(|p| p.1)
        .ok_or("no k = 1 target row")?;
    let draft_k1 = find(&rows, "verify", "draft-62m")
        .find(|r| r["k"] == 1)
        .ok_or("no k = 1 draft row")?;
    let draft_ms = runs(draft_k1)?[0];
    let target_run3 = target_run3_k1.ok_or("the k = 1 target row has no run 3")?;
    let file_mb = |model: &str| -> Result<f64, String> {
        num(
            find(&rows, "params", model)
                .next()
                .ok_or_else(|| format!("no params row for {model}"))?,
            "file_mb",
        )
    };
    Ok(MeasuredProfile {
        target_decode_ms,
        draft_cost_ratio: draft_ms / target_run3,
        target_pass_ms: pass,
        target_model_mb: file_mb("target-197m")?,
        draft_model_mb: file_mb("draft-62m")?,
    })
}
