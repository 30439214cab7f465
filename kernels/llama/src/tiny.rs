//! Tiny llama-architecture models with random weights, written as GGUF for llama.cpp.
//!
//! A pair is a "target" and a "draft" that share `token_embd` and `output` (drawn from the
//! same seed) and differ in depth. Every block weight is drawn with standard deviation
//! `layer_scale`; RMS norm keeps the residual stream at the embedding's scale, so a small
//! `layer_scale` leaves the next-token argmax to the shared embedding/output path (the models
//! agree often) and a large one lets the blocks decide (they rarely agree). The draft's blocks
//! are the target's first blocks (same seed, same tensor names), as in an early-exit draft.
//!
//! The vocabulary is SentencePiece-style ("llama" tokenizer): `<unk>`, `<s>`, `</s>`, the 256
//! byte tokens `<0x00>`..`<0xFF>` (type BYTE, which byte fallback needs), then letter pieces
//! up to the vocabulary size.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::KernelError;
use crate::gguf::{GgufWriter, MetaValue, Q8_0_BLOCK, TensorType};
use crate::rng::{Stream, named_stream, uniform};

/// Bumped whenever the files written for an unchanged spec would change, so cached files
/// are regenerated.
const FORMAT_REVISION: u32 = 1;

/// Token types, as llama.cpp's `llama_token_type`.
const TOKEN_NORMAL: i32 = 1;
const TOKEN_UNKNOWN: i32 = 2;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_BYTE: i32 = 6;
/// `<unk>`, `<s>`, `</s>` and the 256 byte tokens.
pub const BASE_VOCAB: u32 = 3 + 256;
/// Token id of `<s>`, the beginning of a sequence.
pub const BOS: i32 = 1;
/// Token id of `</s>`, the end of a sequence.
pub const EOS: i32 = 2;

/// One model's shape and weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Transformer blocks.
    pub n_layer: u32,
    /// Embedding width (hidden size).
    pub n_embd: u32,
    /// Hidden width of each block's feed-forward network.
    pub n_ff: u32,
    /// Attention query heads.
    pub n_head: u32,
    /// Key/value heads, shared by groups of query heads; divides `n_head`.
    pub n_head_kv: u32,
    /// Vocabulary size, tokens.
    pub n_vocab: u32,
    /// `llama.context_length`, the longest context the model claims.
    pub n_ctx_train: u32,
    /// Type of the weight matrices (norm weights are always F32, as llama.cpp requires).
    pub weight_type: TensorType,
    /// Seed of `token_embd` and `output`: equal seeds (and sizes) give equal tensors.
    pub shared_seed: u64,
    /// Seed of the block weights, drawn per tensor name.
    pub block_seed: u64,
    /// Standard deviation of every block weight.
    pub layer_scale: f32,
    /// Standard deviation of `token_embd`.
    pub embd_std: f32,
    /// Standard deviation of `output`.
    pub output_std: f32,
}

/// A target and its draft.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TinyPair {
    /// The model whose output is kept.
    pub target: ModelSpec,
    /// The shallower model that proposes tokens.
    pub draft: ModelSpec,
}

impl TinyPair {
    /// The pair used in CI and quick runs: a 4-layer target (d=768, ff=2048, 12 heads, 4 KV
    /// heads, 4096 tokens, Q8_0; 31 M weights, 34 MB) and a 1-layer draft of the same width,
    /// with block weights of standard deviation `layer_scale`. `output_std` = 0.15 spreads the
    /// logits with a standard deviation of about 4 (0.15 * sqrt(768)), so at temperature 1 the
    /// next-token distribution is peaked as a language model's is, not near uniform.
    pub fn ci(layer_scale: f32) -> TinyPair {
        let target = ModelSpec {
            n_layer: 4,
            n_embd: 768,
            n_ff: 2048,
            n_head: 12,
            n_head_kv: 4,
            n_vocab: 4096,
            n_ctx_train: 4096,
            weight_type: TensorType::Q8_0,
            shared_seed: 11,
            block_seed: 22,
            layer_scale,
            embd_std: 1.0,
            output_std: 0.15,
        };
        let draft = ModelSpec {
            n_layer: 1,
            ..target.clone()
        };
        TinyPair { target, draft }
    }

    /// The research note's sizes (shared/research/llama-speculative.md §3): a 4-layer target
    /// of d=2048, ff=5632, 16 heads, 4 KV heads, 4096 tokens, Q8_0 (197 M weights, 210 MB:
    /// larger than a server CPU's last-level cache, so decode streams weights from memory as a
    /// real model does) and a 1-layer draft.
    pub fn full(layer_scale: f32) -> TinyPair {
        let mut pair = TinyPair::ci(layer_scale);
        for m in [&mut pair.target, &mut pair.draft] {
            m.n_embd = 2048;
            m.n_ff = 5632;
            m.n_head = 16;
            m.n_head_kv = 4;
            // The same logit spread as the CI pair: output_std * sqrt(n_embd) ≈ 4.2.
            m.output_std = 0.093;
        }
        pair
    }

    /// Checks both specs and that they share vocabulary and width; the error names the field.
    pub fn validate(&self) -> Result<(), KernelError> {
        self.target.validate("target")?;
        self.draft.validate("draft")?;
        let (t, d) = (&self.target, &self.draft);
        let shared = |field: &str, a: u32, b: u32| {
            if a == b {
                Ok(())
            } else {
                Err(KernelError::invalid(
                    &format!("draft.{field}"),
                    &format!(
                        "equal to target.{field} ({a}) so the two share a vocabulary, got {b}"
                    ),
                ))
            }
        };
        shared("n_vocab", t.n_vocab, d.n_vocab)?;
        shared("n_embd", t.n_embd, d.n_embd)
    }
}

/// Layer scales measured to make a pair agree often or rarely (greedy, K = 4, 128 tokens,
/// seed 1; llama.cpp 0.1.161 on an AVX2 CPU). The scale → agreement mapping depends on the
/// sizes, so each preset has its own.
/// [`TinyPair::ci`] at 0.01: 95 % of drafted tokens accepted (90 % at K = 8).
pub const CI_AGREEING_LAYER_SCALE: f32 = 0.01;
/// [`TinyPair::ci`] at 0.04: 1 % accepted (0.02 gives 28 %).
pub const CI_DISAGREEING_LAYER_SCALE: f32 = 0.04;
/// [`TinyPair::full`] at 0.004: 93 % accepted (79 % at K = 8), as in the research note.
pub const FULL_AGREEING_LAYER_SCALE: f32 = 0.004;

impl ModelSpec {
    fn head_dim(&self) -> u32 {
        self.n_embd / self.n_head
    }

    /// Checks the shape rules llama.cpp and Q8_0 impose; `who` prefixes field names.
    pub fn validate(&self, who: &str) -> Result<(), KernelError> {
        let field = |f: &str| format!("{who}.{f}");
        let positive = [
            ("n_layer", self.n_layer),
            ("n_embd", self.n_embd),
            ("n_ff", self.n_ff),
            ("n_head", self.n_head),
            ("n_head_kv", self.n_head_kv),
            ("n_ctx_train", self.n_ctx_train),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(KernelError::invalid(&field(name), "a positive integer"));
            }
        }
        if self.n_embd % self.n_head != 0 || self.head_dim() % 2 != 0 {
            return Err(KernelError::invalid(
                &field("n_head"),
                &format!(
                    "a divisor of n_embd ({}) leaving an even head size",
                    self.n_embd
                ),
            ));
        }
        if self.n_head % self.n_head_kv != 0 {
            return Err(KernelError::invalid(
                &field("n_head_kv"),
                &format!("a divisor of n_head ({})", self.n_head),
            ));
        }
        if self.weight_type == TensorType::Q8_0 {
            for (name, v) in [("n_embd", self.n_embd), ("n_ff", self.n_ff)] {
                if v as usize % Q8_0_BLOCK != 0 {
                    return Err(KernelError::invalid(
                        &field(name),
                        &format!("a multiple of {Q8_0_BLOCK} for Q8_0 weights"),
                    ));
                }
            }
        }
        if self.n_vocab < BASE_VOCAB {
            return Err(KernelError::invalid(
                &field("n_vocab"),
                &format!("at least {BASE_VOCAB} (3 special and 256 byte tokens)"),
            ));
        }
        for (name, v) in [
            ("layer_scale", self.layer_scale),
            ("embd_std", self.embd_std),
            ("output_std", self.output_std),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(KernelError::invalid(&field(name), "a finite number >= 0"));
            }
        }
        Ok(())
    }

    /// Number of weights (what llama.cpp reports as `n_params`).
    pub fn n_params(&self) -> u64 {
        let (d, ff, v) = (self.n_embd as u64, self.n_ff as u64, self.n_vocab as u64);
        let kv = (self.head_dim() * self.n_head_kv) as u64;
        let block = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * ff;
        2 * v * d + d + self.n_layer as u64 * block
    }

    /// A GGUF writer holding the whole model.
    pub fn to_gguf(&self, name: &str) -> GgufWriter {
        let mut w = GgufWriter::new();
        let u = MetaValue::U32;
        w.meta("general.architecture", MetaValue::Str("llama".into()));
        w.meta("general.name", MetaValue::Str(name.into()));
        let file_type = match self.weight_type {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q8_0 => 7,
        };
        w.meta("general.file_type", u(file_type));
        w.meta("llama.vocab_size", u(self.n_vocab));
        w.meta("llama.context_length", u(self.n_ctx_train));
        w.meta("llama.embedding_length", u(self.n_embd));
        w.meta("llama.block_count", u(self.n_layer));
        w.meta("llama.feed_forward_length", u(self.n_ff));
        w.meta("llama.attention.head_count", u(self.n_head));
        w.meta("llama.attention.head_count_kv", u(self.n_head_kv));
        w.meta("llama.rope.dimension_count", u(self.head_dim()));
        w.meta("llama.rope.freq_base", MetaValue::F32(10_000.0));
        w.meta(
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        );
        let vocab = Vocab::new(self.n_vocab);
        w.meta("tokenizer.ggml.model", MetaValue::Str("llama".into()));
        w.meta("tokenizer.ggml.tokens", MetaValue::StrArray(vocab.tokens));
        w.meta("tokenizer.ggml.scores", MetaValue::F32Array(vocab.scores));
        w.meta(
            "tokenizer.ggml.token_type",
            MetaValue::I32Array(vocab.types),
        );
        w.meta("tokenizer.ggml.unknown_token_id", u(0));
        w.meta("tokenizer.ggml.bos_token_id", u(BOS as u32));
        w.meta("tokenizer.ggml.eos_token_id", u(EOS as u32));
        w.meta("tokenizer.ggml.add_bos_token", MetaValue::Bool(true));
        w.meta("tokenizer.ggml.add_eos_token", MetaValue::Bool(false));

        let (d, ff, v) = (self.n_embd as u64, self.n_ff as u64, self.n_vocab as u64);
        let kv = (self.head_dim() * self.n_head_kv) as u64;
        let ty = self.weight_type;
        let ones = |n: u64| vec![1.0f32; n as usize];
        let shared = |name: &str, std: f32, n: u64| normal(self.shared_seed, name, std, n);
        let block = |name: &str, n: u64| normal(self.block_seed, name, self.layer_scale, n);
        w.tensor(
            "token_embd.weight",
            &[d, v],
            ty,
            &shared("token_embd.weight", self.embd_std, d * v),
        );
        w.tensor("output_norm.weight", &[d], TensorType::F32, &ones(d));
        w.tensor(
            "output.weight",
            &[d, v],
            ty,
            &shared("output.weight", self.output_std, d * v),
        );
        for i in 0..self.n_layer {
            let t = |s: &str| format!("blk.{i}.{s}.weight");
            w.tensor(&t("attn_norm"), &[d], TensorType::F32, &ones(d));
            for (s, dims) in [
                ("attn_q", [d, d]),
                ("attn_k", [d, kv]),
                ("attn_v", [d, kv]),
                ("attn_output", [d, d]),
            ] {
                w.tensor(&t(s), &dims, ty, &block(&t(s), dims[0] * dims[1]));
            }
            w.tensor(&t("ffn_norm"), &[d], TensorType::F32, &ones(d));
            for (s, dims) in [
                ("ffn_gate", [d, ff]),
                ("ffn_up", [d, ff]),
                ("ffn_down", [ff, d]),
            ] {
                w.tensor(&t(s), &dims, ty, &block(&t(s), dims[0] * dims[1]));
            }
        }
        w
    }

    /// Writes the model to `path` (through a temporary file and a rename, so a reader never
    /// sees half a file).
    pub fn write(&self, name: &str, path: &Path) -> Result<(), KernelError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{unique}", std::process::id()));
        let io = |e: std::io::Error| KernelError::Io(format!("{}: {e}", tmp.display()));
        let mut out = BufWriter::new(fs::File::create(&tmp).map_err(io)?);
        self.to_gguf(name).write_to(&mut out).map_err(io)?;
        out.flush().map_err(io)?;
        drop(out);
        fs::rename(&tmp, path).map_err(|e| KernelError::Io(format!("{}: {e}", path.display())))
    }
}

/// The SPM-style vocabulary: tokens, scores and types, `n` entries.
struct Vocab {
    tokens: Vec<String>,
    scores: Vec<f32>,
    types: Vec<i32>,
}

impl Vocab {
    fn new(n: u32) -> Vocab {
        let n = n as usize;
        let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
        let mut types = vec![TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL];
        tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
        types.extend([TOKEN_BYTE; 256]);
        let mut scores = vec![0.0f32; tokens.len()];
        // Letter pieces by length: "a".."z", "▁a".."▁z", "aa".., "▁aa".. (▁ is SentencePiece's
        // word-start marker); earlier (shorter) pieces score higher.
        let mut len = 1;
        'fill: while tokens.len() < n {
            let mut word = vec![b'a'; len];
            loop {
                let piece = String::from_utf8(word.clone()).expect("ASCII letters");
                for p in [piece.clone(), format!("\u{2581}{piece}")] {
                    if tokens.len() == n {
                        break 'fill;
                    }
                    scores.push(-(tokens.len() as f32));
                    tokens.push(p);
                    types.push(TOKEN_NORMAL);
                }
                // Next word of this length, like an odometer over a..z.
                let mut i = len;
                loop {
                    if i == 0 {
                        break;
                    }
                    i -= 1;
                    if word[i] < b'z' {
                        word[i] += 1;
                        word[i + 1..].fill(b'a');
                        break;
                    }
                    if i == 0 {
                        len += 1;
                        continue 'fill;
                    }
                }
            }
        }
        Vocab {
            tokens,
            scores,
            types,
        }
    }
}

/// `n` normal draws of standard deviation `std` from the stream named `name` under `seed`.
fn normal(seed: u64, name: &str, std: f32, n: u64) -> Vec<f32> {
    let mut rng: Stream = named_stream(seed, name);
    let mut out = Vec::with_capacity(n as usize);
    while (out.len() as u64) < n {
        // Box-Muller: two uniforms in (0, 1] give two independent standard normals.
        let u1 = 1.0 - uniform(&mut rng);
        let u2 = uniform(&mut rng);
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        out.push((r * c) as f32 * std);
        if (out.len() as u64) < n {
            out.push((r * s) as f32 * std);
        }
    }
    out
}

/// Paths of a generated pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairPaths {
    /// The target's GGUF file.
    pub target: PathBuf,
    /// The draft's GGUF file.
    pub draft: PathBuf,
}

/// A short hash of everything that determines a model file's bytes.
pub fn spec_key(spec: &ModelSpec) -> String {
    let digest = Sha256::digest(format!("rev {FORMAT_REVISION} {spec:?}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the pair into `dir` unless files for exactly this spec are already there; the
/// file names carry [`spec_key`], so a changed spec gets new files.
pub fn ensure_pair(dir: &Path, pair: &TinyPair) -> Result<PairPaths, KernelError> {
    pair.validate()?;
    fs::create_dir_all(dir).map_err(|e| KernelError::Io(format!("{}: {e}", dir.display())))?;
    let path = |who: &str, spec: &ModelSpec| -> Result<PathBuf, KernelError> {
        let p = dir.join(format!("tiny-{who}-{}.gguf", spec_key(spec)));
        if !p.is_file() {
            spec.write(&format!("claimlab tiny {who}"), &p)?;
        }
        Ok(p)
    };
    Ok(PairPaths {
        target: path("target", &pair.target)?,
        draft: path("draft", &pair.draft)?,
    })
}

/// The default tiny pair ([`TinyPair::ci`] at [`CI_AGREEING_LAYER_SCALE`]) in `dir`,
/// generated if absent. Returns (target, draft).
pub fn ensure_tiny_models(dir: &Path) -> Result<(PathBuf, PathBuf), KernelError> {
    let p = ensure_pair(dir, &TinyPair::ci(CI_AGREEING_LAYER_SCALE))?;
    Ok((p.target, p.draft))
}

#[cfg(test)]
mod tests;
