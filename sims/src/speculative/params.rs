//! `SpeculativeParams`: the scenario's `[params]` for `sim = "speculative"`.
//!
//! Three cost figures drive the model: `target_decode_ms`, `draft_cost_ratio` and the verify
//! cost V(K) (`verify_cost_ratios`, one per K, or `verify_cost_per_token`, a line). A named
//! `profile` fills in whichever of them the scenario leaves out; `profile = "custom"` takes all
//! three from the scenario (a real kernel measuring "this machine" supplies exactly these).

use serde::{Deserialize, Serialize};

use super::profiles::{self, Costs, Profile};
use crate::params::{ParamsError, require_non_negative, require_positive, require_probability};
use crate::room::Validate;

/// Largest draft length the room accepts (llama.cpp's `--draft-max` defaults are 3 to 16).
pub const MAX_K: u32 = 64;

/// Draft-then-verify decoding: costs, acceptance, draft-side cutoff, memory and threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeculativeParams {
    /// Where the cost figures come from. Default `article-phone`.
    pub profile: Profile,
    /// Milliseconds for one single-token target decode step. From the profile unless given.
    pub target_decode_ms: Option<f64>,
    /// c: one draft forward pass relative to one target decode step. From the profile unless given.
    pub draft_cost_ratio: Option<f64>,
    /// V(1), V(2), ...: one target pass verifying K drafted tokens (K + 1 tokens in the batch)
    /// relative to one target decode step. From the profile unless given.
    pub verify_cost_ratios: Option<Vec<f64>>,
    /// v: a linear verify cost V(K) = 1 + v·K, each verified token adding v of a decode step
    /// (0 is the article's "verifying N tokens costs about the same as generating one").
    /// Replaces the profile's V(K); cannot be given with `verify_cost_ratios`.
    pub verify_cost_per_token: Option<f64>,
    /// K: tokens the draft proposes per cycle at most; 0 is plain decoding. Default 6 (article).
    pub k: u32,
    /// `optimal_k` searches K in 1..=k_max. Default 12.
    pub k_max: u32,
    /// Per-token acceptance probability of drafted position i: one number for every position,
    /// or a list for positions 1, 2, ... (the last entry repeats). Default 0.8 (assumed).
    pub alpha: Alpha,
    /// With a single `alpha`, position i accepts with alpha · alpha_decay^(i−1). Default 1.
    pub alpha_decay: f64,
    /// Share of cycles in a "hard" stretch of text (per-cycle state). Default 0.
    pub hard_cycle_share: f64,
    /// In a hard cycle every position's acceptance is multiplied by this. Default 0.5 (assumed).
    pub hard_alpha_factor: f64,
    /// llama.cpp's draft-side cutoff: drafting stops at the first position whose top-1 draft
    /// probability is below it. Default 0 (llama.cpp's default in its 2026 tree).
    pub p_min: f64,
    /// κ of the draft's top-1 probability at a position, Beta with mean α_i and a + b = κ; a
    /// drafted token is accepted with that probability (a calibrated draft). Default 2 (assumed).
    pub draft_confidence_concentration: f64,
    /// Tokens generated per replication. Default 100,000.
    pub tokens: u64,
    /// Target model weights, MB (10^6 bytes). From the profile unless given.
    pub target_model_mb: Option<f64>,
    /// Draft model weights, MB. From the profile unless given.
    pub draft_model_mb: Option<f64>,
    /// Target KV cache, MB. Default 256 (article, 2048-token context).
    pub target_kv_mb: f64,
    /// Draft KV cache, MB. Default 32 (article).
    pub draft_kv_mb: f64,
    /// The target is memory-mapped. Default true (article).
    pub target_mmap: bool,
    /// The draft is memory-mapped. Default false (article).
    pub draft_mmap: bool,
    /// Share of a memory-mapped model's pages a warm decode loop keeps resident: every decode
    /// step reads every weight of a dense model. Default 1 (research §3: RSS equal with and
    /// without mmap).
    pub mmap_touched_fraction: f64,
    /// Inference threads pinned to performance cores. Default true.
    pub pinned: bool,
    /// Inference threads (one barrier-synchronised pool). Default 4 (assumed).
    pub threads: u32,
    /// An efficiency core's speed relative to a performance core. Default 0.5 (assumed).
    pub little_core_speed: f64,
    /// Unpinned: probability that a thread sits on an efficiency core during an operation.
    /// Default 0 (assumed: nothing measured; a busy thread is moved to a big core).
    pub unpinned_little_core_share: f64,
}

impl Default for SpeculativeParams {
    fn default() -> Self {
        SpeculativeParams {
            profile: Profile::ArticlePhone,
            target_decode_ms: None,
            draft_cost_ratio: None,
            verify_cost_ratios: None,
            verify_cost_per_token: None,
            k: 6,
            k_max: 12,
            alpha: Alpha::Constant(0.8),
            alpha_decay: 1.0,
            hard_cycle_share: 0.0,
            hard_alpha_factor: 0.5,
            p_min: 0.0,
            draft_confidence_concentration: 2.0,
            tokens: 100_000,
            target_model_mb: None,
            draft_model_mb: None,
            target_kv_mb: 256.0,
            draft_kv_mb: 32.0,
            target_mmap: true,
            draft_mmap: false,
            mmap_touched_fraction: 1.0,
            pinned: true,
            threads: 4,
            little_core_speed: 0.5,
            unpinned_little_core_share: 0.0,
        }
    }
}

/// Acceptance per drafted position: one value for all, or one per position.
#[derive(Debug, Clone, PartialEq)]
pub enum Alpha {
    /// The same α at every position (before `alpha_decay`).
    Constant(f64),
    /// α for positions 1, 2, ...; the last entry repeats.
    ByPosition(Vec<f64>),
}

impl Serialize for Alpha {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Alpha::Constant(a) => s.serialize_f64(*a),
            Alpha::ByPosition(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Alpha {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Alpha, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Alpha;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a probability or a list of probabilities, one per drafted position")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Alpha, E> {
                Ok(Alpha::Constant(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Alpha, E> {
                Ok(Alpha::Constant(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Alpha, E> {
                Ok(Alpha::Constant(v as f64))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Alpha, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<f64>()? {
                    out.push(x);
                }
                Ok(Alpha::ByPosition(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl SpeculativeParams {
    /// The K values the cost figures must cover: 1..=max(k, k_max).
    pub fn k_needed(&self) -> u32 {
        self.k.max(self.k_max)
    }

    /// The cost figures and model sizes: the scenario's values where given, the profile's
    /// otherwise. Errors name the missing or bad field.
    pub fn costs(&self) -> Result<Costs, ParamsError> {
        let need = self.k_needed() as usize;
        let base = profiles::builtin(self.profile, need);
        let pick = |given: Option<f64>, from_profile: Option<f64>, name: &str, what: &str| {
            given.or(from_profile).ok_or_else(|| ParamsError::Invalid {
                path: name.to_string(),
                message: format!("missing: profile = \"custom\" needs {name} ({what})"),
            })
        };
        let target_decode_ms = pick(
            self.target_decode_ms,
            base.as_ref().map(|b| b.target_decode_ms),
            "target_decode_ms",
            "milliseconds for one single-token target decode step",
        )?;
        require_positive("target_decode_ms", target_decode_ms)?;
        let draft_cost_ratio = pick(
            self.draft_cost_ratio,
            base.as_ref().map(|b| b.draft_cost_ratio),
            "draft_cost_ratio",
            "one draft pass relative to one target decode step",
        )?;
        require_non_negative("draft_cost_ratio", draft_cost_ratio)?;
        if let Some(v) = self.verify_cost_per_token {
            require_non_negative("verify_cost_per_token", v)?;
            if v > 10.0 {
                return Err(ParamsError::out_of_range(
                    "verify_cost_per_token",
                    v,
                    "at most 10 decode steps per verified token",
                ));
            }
            if self.verify_cost_ratios.is_some() {
                return Err(ParamsError::out_of_range(
                    "verify_cost_per_token",
                    v,
                    "either verify_cost_per_token (V(K) = 1 + v·K) or verify_cost_ratios \
                     (one V per K), not both",
                ));
            }
        }
        let verify = match (&self.verify_cost_ratios, self.verify_cost_per_token, &base) {
            (Some(v), _, _) => v.clone(),
            (None, Some(v), _) => profiles::linear_verify(v, need),
            (None, None, Some(b)) => b.verify.clone(),
            (None, None, None) => {
                return Err(ParamsError::Invalid {
                    path: "verify_cost_ratios".into(),
                    message: "missing: profile = \"custom\" needs verify_cost_ratios \
                              (V(1), V(2), ...: verifying K drafts relative to one decode step) \
                              or verify_cost_per_token (V(K) = 1 + v·K)"
                        .into(),
                });
            }
        };
        for (i, v) in verify.iter().enumerate() {
            require_positive(&format!("verify_cost_ratios[{i}]"), *v)?;
        }
        if verify.len() < need {
            return Err(ParamsError::out_of_range(
                "verify_cost_ratios",
                format!("{} entries", verify.len()),
                &format!(
                    "at least max(k, k_max) = {need} entries, V(1)..V({need}) (or lower k_max)"
                ),
            ));
        }
        let target_model_mb = pick(
            self.target_model_mb,
            base.as_ref().map(|b| b.target_model_mb),
            "target_model_mb",
            "the target's weights in MB",
        )?;
        require_non_negative("target_model_mb", target_model_mb)?;
        let draft_model_mb = pick(
            self.draft_model_mb,
            base.as_ref().map(|b| b.draft_model_mb),
            "draft_model_mb",
            "the draft's weights in MB",
        )?;
        require_non_negative("draft_model_mb", draft_model_mb)?;
        Ok(Costs {
            target_decode_ms,
            draft_cost_ratio,
            verify,
            target_model_mb,
            draft_model_mb,
        })
    }

    /// Acceptance probability of drafted position `i` (1-based) in an easy cycle.
    pub fn alpha_at(&self, i: u32) -> f64 {
        match &self.alpha {
            Alpha::Constant(a) => a * self.alpha_decay.powi(i as i32 - 1),
            Alpha::ByPosition(v) => v[(i as usize - 1).min(v.len() - 1)],
        }
    }
}

impl Validate for SpeculativeParams {
    /// Range checks (the cost figures are checked by [`SpeculativeParams::costs`]).
    fn validate(&self) -> Result<(), ParamsError> {
        if self.k > MAX_K {
            return Err(ParamsError::out_of_range(
                "k",
                self.k,
                "0 to 64 drafted tokens",
            ));
        }
        if self.k_max == 0 || self.k_max > MAX_K {
            return Err(ParamsError::out_of_range("k_max", self.k_max, "1 to 64"));
        }
        match &self.alpha {
            Alpha::Constant(a) => require_probability("alpha", *a)?,
            Alpha::ByPosition(v) => {
                if v.is_empty() {
                    return Err(ParamsError::out_of_range(
                        "alpha",
                        "[]",
                        "a probability or a non-empty list of probabilities",
                    ));
                }
                for (i, a) in v.iter().enumerate() {
                    require_probability(&format!("alpha[{i}]"), *a)?;
                }
                if self.alpha_decay != 1.0 {
                    return Err(ParamsError::out_of_range(
                        "alpha_decay",
                        self.alpha_decay,
                        "1 when alpha is a list per position (give the decay in the list)",
                    ));
                }
            }
        }
        if !(self.alpha_decay > 0.0 && self.alpha_decay <= 1.0) {
            return Err(ParamsError::out_of_range(
                "alpha_decay",
                self.alpha_decay,
                "0 < x ≤ 1",
            ));
        }
        require_probability("hard_cycle_share", self.hard_cycle_share)?;
        require_probability("hard_alpha_factor", self.hard_alpha_factor)?;
        require_probability("p_min", self.p_min)?;
        require_positive(
            "draft_confidence_concentration",
            self.draft_confidence_concentration,
        )?;
        if self.draft_confidence_concentration > 1e6 {
            return Err(ParamsError::out_of_range(
                "draft_confidence_concentration",
                self.draft_confidence_concentration,
                "at most 1e6",
            ));
        }
        if self.tokens == 0 || self.tokens > 1_000_000_000 {
            return Err(ParamsError::out_of_range(
                "tokens",
                self.tokens,
                "1 to 1e9 tokens per replication",
            ));
        }
        for (n, v) in [
            ("target_kv_mb", self.target_kv_mb),
            ("draft_kv_mb", self.draft_kv_mb),
        ] {
            require_non_negative(n, v)?;
        }
        require_probability("mmap_touched_fraction", self.mmap_touched_fraction)?;
        if self.threads == 0 || self.threads > 1024 {
            return Err(ParamsError::out_of_range(
                "threads",
                self.threads,
                "1 to 1024",
            ));
        }
        if !(self.little_core_speed > 0.0 && self.little_core_speed <= 1.0) {
            return Err(ParamsError::out_of_range(
                "little_core_speed",
                self.little_core_speed,
                "0 < x ≤ 1 (relative to a performance core)",
            ));
        }
        require_probability(
            "unpinned_little_core_share",
            self.unpinned_little_core_share,
        )?;
        self.costs().map(|_| ())
    }
}
