//! claimlab's llama.cpp kernel: real measurements of decode, batched verification and
//! two-model speculative decoding, on tiny llama-architecture models it writes itself.
//!
//! Two layers:
//! * Always built (pure Rust): the GGUF writer ([`gguf`]), the tiny target/draft pair
//!   ([`tiny`], [`ensure_tiny_models`]), the verification math ([`sampling`]), resident-memory
//!   reading ([`mem`]), and every option and result type.
//! * With the `llama` feature (compiles llama.cpp through `llama-cpp-2`): [`measure_profile`],
//!   [`measure_batch_curve`] and [`run_speculative`]. Without the feature they return
//!   [`KernelError::NotBuilt`], so callers can report why a measurement is missing.
//!
//! The measuring functions take a process-wide lock, so concurrent callers (say, rayon
//! workers) measure one at a time instead of disturbing each other's timings. Timings are
//! wall-clock medians and vary run to run; the counts of a greedy speculative run are
//! deterministic for a fixed model, seed and thread count.

#![warn(missing_docs)]

pub mod gguf;
pub mod mem;
mod rng;
pub mod sampling;
pub mod tiny;

/// The measuring functions: on llama.cpp with the `llama` feature, else `NotBuilt`.
#[cfg_attr(feature = "llama", path = "llama.rs")]
#[cfg_attr(not(feature = "llama"), path = "disabled.rs")]
mod imp;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use mem::Resident;
pub use tiny::{
    CI_AGREEING_LAYER_SCALE, CI_DISAGREEING_LAYER_SCALE, FULL_AGREEING_LAYER_SCALE, ModelSpec,
    PairPaths, TinyPair, ensure_pair, ensure_tiny_models,
};

/// Whether this build can measure (the `llama` feature was on).
pub const LLAMA_BUILT: bool = cfg!(feature = "llama");

/// Why a kernel call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    /// This build lacks the `llama` feature, so nothing can be measured.
    #[error("lab was built without the `llama` feature")]
    NotBuilt,
    /// An option or model spec field is out of range.
    #[error("{field}: expected {expected}")]
    Invalid {
        /// The field's name, dotted for nested ones (`draft.n_vocab`).
        field: String,
        /// What the field must be instead.
        expected: String,
    },
    /// A file-system call failed: the path and the OS error.
    #[error("i/o: {0}")]
    Io(String),
    /// llama.cpp or its bindings returned an error; the message says what failed.
    #[error("llama.cpp: {0}")]
    Llama(String),
}

impl KernelError {
    pub(crate) fn invalid(field: &str, expected: &str) -> KernelError {
        KernelError::Invalid {
            field: field.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// `Ok` when the measuring functions are available, else [`KernelError::NotBuilt`].
pub fn available() -> Result<(), KernelError> {
    if LLAMA_BUILT {
        Ok(())
    } else {
        Err(KernelError::NotBuilt)
    }
}

/// Spread of repeated wall-clock timings of one operation.
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Median of the timed repetitions, ms.
    pub median_ms: f64,
    /// Fastest repetition, ms.
    pub min_ms: f64,
    /// Slowest repetition, ms.
    pub max_ms: f64,
    /// Number of timed repetitions.
    pub reps: u32,
}

impl Timing {
    /// Median (mean of the middle two for an even count), min and max; `None` if empty.
    pub fn of(samples_ms: &[f64]) -> Option<Timing> {
        if samples_ms.is_empty() {
            return None;
        }
        let mut s = samples_ms.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(Timing {
            median_ms: median,
            min_ms: s[0],
            max_ms: s[n - 1],
            reps: n as u32,
        })
    }
}

/// What llama.cpp reports about a loaded model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The GGUF file it was loaded from, as given.
    pub path: String,
    /// Size of the GGUF file, bytes.
    pub file_bytes: u64,
    /// Number of weights, as llama.cpp counts them.
    pub n_params: u64,
    /// Transformer blocks.
    pub n_layer: u32,
    /// Embedding width (hidden size).
    pub n_embd: u32,
    /// Vocabulary size, tokens.
    pub n_vocab: u32,
}

/// How llama.cpp runs: CPU threads (0 = all available cores), whether weights are mmap'd
/// from the file or read into allocated memory, and how many layers go to a GPU (0 = none;
/// needs a GPU backend feature such as `cuda`, else llama.cpp keeps them on the CPU).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    /// CPU threads for decoding; 0 uses every available core.
    pub threads: u32,
    /// Map the weights from the file (true) or read them into allocated memory (false).
    pub mmap: bool,
    /// Layers offloaded to a GPU; 0 keeps the whole model on the CPU.
    pub gpu_layers: u32,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            threads: 0,
            mmap: true,
            gpu_layers: 0,
        }
    }
}

/// Options of [`measure_profile`].
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileOptions {
    /// How llama.cpp runs both models.
    pub run: RunConfig,
    /// Verify batches of K = 1..=k_max tokens are timed.
    pub k_max: u32,
    /// Timed repetitions of each operation (after one untimed warm-up).
    pub reps: u32,
    /// Tokens in the KV cache before the timed decodes (a prompt).
    pub context_tokens: u32,
    /// Seed of the prompt and of the tokens fed to timed decodes.
    pub seed: u64,
}

impl Default for ProfileOptions {
    fn default() -> ProfileOptions {
        ProfileOptions {
            run: RunConfig::default(),
            k_max: 8,
            reps: 9,
            context_tokens: 64,
            seed: 1,
        }
    }
}

/// Time of one target decode of `k` tokens with logits at every position (then rolled back),
/// and its ratio V(K) = t(K) / t(1) to a one-token decode.
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyPoint {
    /// Tokens in the verify batch, K.
    pub k: u32,
    /// Wall-clock timing of the K-token decode, ms.
    pub time: Timing,
    /// V(K): this decode's median over the one-token decode's median.
    pub ratio: f64,
}

/// Resident memory around loading the target with mmap on or off.
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryPoint {
    /// Whether the target's weights were mmap'd for this point.
    pub mmap: bool,
    /// Before loading the target.
    pub before_load: Resident,
    /// After loading the target, before creating a context.
    pub after_load: Resident,
    /// After creating a context, prefilling the prompt and decoding.
    pub after_decode: Resident,
}

/// Measured costs of a target/draft pair on this machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The target model, as llama.cpp loaded it.
    pub target: ModelInfo,
    /// The draft model, as llama.cpp loaded it.
    pub draft: ModelInfo,
    /// Threads actually used.
    pub threads: u32,
    /// Whether the timed models' weights were mmap'd.
    pub mmap: bool,
    /// Prompt tokens (after BOS) in the KV cache before the timed decodes.
    pub context_tokens: u32,
    /// llama.cpp's `llama_print_system_info()`: the CPU features ggml was built with.
    pub system_info: String,
    /// One-token target decode.
    pub target_decode: Timing,
    /// One-token draft decode.
    pub draft_decode: Timing,
    /// c = draft one-token decode / target one-token decode (medians).
    pub draft_cost_ratio: f64,
    /// K = 1..=k_max.
    pub verify: Vec<VerifyPoint>,
    /// Target loaded with mmap on, then off.
    pub memory: Vec<MemoryPoint>,
}

/// Options of [`measure_batch_curve`].
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchOptions {
    /// How llama.cpp runs the model.
    pub run: RunConfig,
    /// Batches of 1..=max_batch sequences are timed.
    pub max_batch: u32,
    /// Timed repetitions of each batch size (after one untimed warm-up round).
    pub reps: u32,
    /// Tokens in each sequence's cache before the timed steps.
    pub context_tokens: u32,
    /// Seed of the sequences' prompts and of the tokens fed to timed steps.
    pub seed: u64,
}

impl Default for BatchOptions {
    fn default() -> BatchOptions {
        BatchOptions {
            run: RunConfig::default(),
            max_batch: 16,
            reps: 7,
            context_tokens: 32,
            seed: 1,
        }
    }
}

/// One decode step with `batch` sequences each adding one token (distinct sequence ids).
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchPoint {
    /// Sequences decoded together, B.
    pub batch: u32,
    /// Wall-clock timing of the step, ms.
    pub step: Timing,
}

/// The step time t(B) as a function of the number of sequences decoded together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchCurve {
    /// The model, as llama.cpp loaded it.
    pub model: ModelInfo,
    /// Threads actually used.
    pub threads: u32,
    /// Prompt tokens (after BOS) in each sequence's cache before the timed steps.
    pub context_tokens: u32,
    /// llama.cpp's `llama_print_system_info()`: the CPU features ggml was built with.
    pub system_info: String,
    /// B = 1..=max_batch.
    pub points: Vec<BatchPoint>,
}

/// How the target checks drafted tokens.
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Verification {
    /// Drafts are the draft's argmax; a drafted token is kept while it equals the target's
    /// argmax (llama.cpp's default). Output = the target's greedy decoding.
    Greedy,
    /// Both models sample at `temperature`: drafts are drawn from the draft's distribution q
    /// and verified by Leviathan et al.'s rejection sampling against the target's p (accept
    /// if u < p/q, else resample from norm(max(0, p - q))). Output is distributed as the
    /// target's own sampling.
    Stochastic {
        /// Softmax temperature of both models, > 0.
        temperature: f32,
    },
}

/// Options of [`run_speculative`].
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecOptions {
    /// How llama.cpp runs both models.
    pub run: RunConfig,
    /// Tokens drafted per cycle (at most).
    pub k: u32,
    /// How the target checks the drafted tokens.
    pub verification: Verification,
    /// Tokens to generate (the last cycle may overshoot by up to `k`).
    pub n_tokens: u32,
    /// Prompt length (random tokens after BOS).
    pub prompt_tokens: u32,
    /// Seed of the prompt and of the draft's and target's sampling draws.
    pub seed: u64,
    /// Drafting stops early when the draft's top probability (temperature 1) is below this;
    /// 0 never stops (llama.cpp's current default).
    pub p_min: f32,
}

impl Default for SpecOptions {
    fn default() -> SpecOptions {
        SpecOptions {
            run: RunConfig::default(),
            k: 4,
            verification: Verification::Greedy,
            n_tokens: 64,
            prompt_tokens: 32,
            seed: 1,
            p_min: 0.0,
        }
    }
}

/// One speculative-decoding run and its plain-decoding baseline on the same prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecRun {
    /// The target model, as llama.cpp loaded it.
    pub target: ModelInfo,
    /// The draft model, as llama.cpp loaded it.
    pub draft: ModelInfo,
    /// Threads actually used.
    pub threads: u32,
    /// The options the run was given.
    pub options: SpecOptions,
    /// Tokens produced by the speculative loop.
    pub tokens: u32,
    /// Draft-then-verify cycles run.
    pub cycles: u32,
    /// Draft tokens proposed, over all cycles.
    pub drafted: u32,
    /// Draft tokens the target kept.
    pub accepted: u32,
    /// accepted / drafted: what llama.cpp's examples print as "accept".
    pub acceptance_rate: f64,
    /// tokens / cycles.
    pub tokens_per_cycle: f64,
    /// Cycles whose drafting stopped before `k` because of `p_min`.
    pub early_stops: u32,
    /// `accepted_histogram[m]` = cycles that kept m drafted tokens (m = 0..=k).
    pub accepted_histogram: Vec<u32>,
    /// Wall time of the speculative loop after the prompt's prefill, ms.
    pub spec_ms: f64,
    /// `tokens` over `spec_ms`, tokens/s.
    pub spec_tokens_per_s: f64,
    /// Plain one-token-per-decode generation of the same number of tokens with the target.
    pub baseline_ms: f64,
    /// `options.n_tokens` over `baseline_ms`, tokens/s.
    pub baseline_tokens_per_s: f64,
    /// spec_tokens_per_s / baseline_tokens_per_s.
    pub speedup: f64,
    /// Distinct token ids among the produced tokens: a small count means the tiny model's
    /// output fell into a loop, where acceptance repeats one pattern.
    pub distinct_tokens: u32,
    /// Greedy only: how many leading tokens equal the plain greedy output (all of them but
    /// for rare argmax flips between batched and single-token arithmetic).
    pub baseline_match_prefix: Option<u32>,
}

fn check_common(run: &RunConfig, reps: Option<u32>) -> Result<(), KernelError> {
    if run.threads > 1024 {
        return Err(KernelError::invalid(
            "threads",
            "0 (all cores) or a count up to 1024",
        ));
    }
    if reps == Some(0) {
        return Err(KernelError::invalid("reps", "at least 1"));
    }
    Ok(())
}

impl ProfileOptions {
    /// Checks every option's range; the error names the first bad field.
    pub fn validate(&self) -> Result<(), KernelError> {
        check_common(&self.run, Some(self.reps))?;
        if !(1..=512).contains(&self.k_max) {
            return Err(KernelError::invalid("k_max", "1 to 512"));
        }
        if self.context_tokens == 0 {
            return Err(KernelError::invalid("context_tokens", "at least 1"));
        }
        Ok(())
    }
}

impl BatchOptions {
    /// Checks every option's range; the error names the first bad field.
    pub fn validate(&self) -> Result<(), KernelError> {
        check_common(&self.run, Some(self.reps))?;
        if !(1..=256).contains(&self.max_batch) {
            return Err(KernelError::invalid("max_batch", "1 to 256"));
        }
        if self.context_tokens == 0 {
            return Err(KernelError::invalid("context_tokens", "at least 1"));
        }
        Ok(())
    }
}

impl SpecOptions {
    /// Checks every option's range; the error names the first bad field.
    pub fn validate(&self) -> Result<(), KernelError> {
        check_common(&self.run, None)?;
        if !(1..=64).contains(&self.k) {
            return Err(KernelError::invalid("k", "1 to 64"));
        }
        if self.n_tokens == 0 {
            return Err(KernelError::invalid("n_tokens", "at least 1"));
        }
        if self.prompt_tokens == 0 {
            return Err(KernelError::invalid("prompt_tokens", "at least 1"));
        }
        if !(0.0..=1.0).contains(&self.p_min) {
            return Err(KernelError::invalid("p_min", "a probability in [0, 1]"));
        }
        if let Verification::Stochastic { temperature } = self.verification
            && !(temperature.is_finite() && temperature > 0.0)
        {
            return Err(KernelError::invalid(
                "verification.temperature",
                "a number > 0",
            ));
        }
        Ok(())
    }
}

/// Measures one-token decode of target and draft, the target's verify cost V(K) for
/// K = 1..=k_max, and resident memory with mmap on and off.
pub fn measure_profile(
    target: &Path,
    draft: &Path,
    opts: &ProfileOptions,
) -> Result<Profile, KernelError> {
    opts.validate()?;
    imp::measure_profile(target, draft, opts)
}

/// Measures the decode step time t(B) for B = 1..=max_batch sequences of one token each.
pub fn measure_batch_curve(model: &Path, opts: &BatchOptions) -> Result<BatchCurve, KernelError> {
    opts.validate()?;
    imp::measure_batch_curve(model, opts)
}

/// Runs two-model speculative decoding and the plain target baseline.
pub fn run_speculative(
    target: &Path,
    draft: &Path,
    opts: &SpecOptions,
) -> Result<SpecRun, KernelError> {
    opts.validate()?;
    imp::run_speculative(target, draft, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_takes_median_min_max() {
        let t = Timing::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(
            (t.median_ms, t.min_ms, t.max_ms, t.reps),
            (3.0, 1.0, 5.0, 3)
        );
        assert_eq!(Timing::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median_ms, 2.5);
        assert_eq!(Timing::of(&[]), None);
    }

    #[test]
    fn bad_options_name_the_field() {
        let o = SpecOptions {
            k: 0,
            ..SpecOptions::default()
        };
        assert_eq!(o.validate(), Err(KernelError::invalid("k", "1 to 64")));
        let o = SpecOptions {
            verification: Verification::Stochastic { temperature: 0.0 },
            ..SpecOptions::default()
        };
        assert!(
            matches!(o.validate(), Err(KernelError::Invalid { field, .. }) if field == "verification.temperature")
        );
        let o = ProfileOptions {
            reps: 0,
            ..ProfileOptions::default()
        };
        assert!(matches!(o.validate(), Err(KernelError::Invalid { field, .. }) if field == "reps"));
        let o = BatchOptions {
            max_batch: 0,
            ..BatchOptions::default()
        };
        assert!(
            matches!(o.validate(), Err(KernelError::Invalid { field, .. }) if field == "max_batch")
        );
    }

    #[test]
    fn verification_serialises_with_a_mode_tag() {
        let v = Verification::Stochastic { temperature: 0.5 };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"mode":"stochastic","temperature":0.5}"#
        );
        assert_eq!(
            serde_json::to_string(&Verification::Greedy).unwrap(),
            r#"{"mode":"greedy"}"#
        );
        let o = SpecOptions {
            verification: v,
            ..SpecOptions::default()
        };
        let back: SpecOptions = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }

    #[cfg(not(feature = "llama"))]
    #[test]
    fn without_the_feature_measuring_says_why() {
        let p = Path::new("missing.gguf");
        assert_eq!(available(), Err(KernelError::NotBuilt));
        assert_eq!(
            KernelError::NotBuilt.to_string(),
            "lab was built without the `llama` feature"
        );
        assert_eq!(
            measure_profile(p, p, &ProfileOptions::default()).unwrap_err(),
            KernelError::NotBuilt
        );
        assert_eq!(
            measure_batch_curve(p, &BatchOptions::default()).unwrap_err(),
            KernelError::NotBuilt
        );
        assert_eq!(
            run_speculative(p, p, &SpecOptions::default()).unwrap_err(),
            KernelError::NotBuilt
        );
    }
}
