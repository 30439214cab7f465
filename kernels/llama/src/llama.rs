//! The measurements, on llama.cpp through `llama-cpp-2` (the `llama` feature).
//!
//! Every sequence position fed to llama.cpp continues that sequence's KV cache: llama.cpp
//! rejects a batch that skips or repeats positions. Rollback after a timed or speculative
//! decode is `llama_memory_seq_rm` from the first position to drop.

use std::ffi::CStr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use crate::rng::{Stream, named_stream, uniform};
use crate::sampling::{self, Verdict};
use crate::tiny::BOS;
use crate::{
    BatchCurve, BatchOptions, BatchPoint, KernelError, MemoryPoint, ModelInfo, Profile,
    ProfileOptions, RunConfig, SpecOptions, SpecRun, Timing, Verification, VerifyPoint, mem,
};

/// llama.cpp's backend may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
/// One measurement at a time per process, so timings are not shared with another.
static MEASURING: Mutex<()> = Mutex::new(());

fn backend() -> Result<&'static LlamaBackend, KernelError> {
    BACKEND
        .get_or_init(|| {
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            b.void_logs();
            Ok(b)
        })
        .as_ref()
        .map_err(|e| KernelError::Llama(e.clone()))
}

fn measuring() -> MutexGuard<'static, ()> {
    // A panic in another measurement leaves nothing inconsistent behind the unit lock.
    MEASURING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn llama_err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> KernelError {
    move |e| KernelError::Llama(format!("{what}: {e}"))
}

/// CPU features and backends ggml was compiled with.
fn system_info() -> String {
    // SAFETY: llama.cpp returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(llama_cpp_sys_2::llama_print_system_info()) }
        .to_string_lossy()
        .trim()
        .to_string()
}

fn threads(run: &RunConfig) -> u32 {
    if run.threads > 0 {
        run.threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
    }
}

fn load(path: &Path, run: &RunConfig) -> Result<(LlamaModel, ModelInfo), KernelError> {
    let meta =
        std::fs::metadata(path).map_err(|e| KernelError::Io(format!("{}: {e}", path.display())))?;
    let params = LlamaModelParams::default()
        .with_use_mmap(run.mmap)
        .with_n_gpu_layers(run.gpu_layers);
    let model = LlamaModel::load_from_file(backend()?, path, &params)
        .map_err(|e| KernelError::Llama(format!("loading {}: {e}", path.display())))?;
    let info = ModelInfo {
        path: path.display().to_string(),
        file_bytes: meta.len(),
        n_params: model.n_params(),
        n_layer: model.n_layer(),
        n_embd: model.n_embd().max(0) as u32,
        n_vocab: model.n_vocab().max(0) as u32,
    };
    Ok((model, info))
}

fn context<'m>(
    model: &'m LlamaModel,
    threads: u32,
    n_ctx: u32,
    n_batch: u32,
    n_seq: u32,
) -> Result<LlamaContext<'m>, KernelError> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_batch)
        .with_n_ubatch(n_batch)
        .with_n_seq_max(n_seq)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    model
        .new_context(backend()?, params)
        .map_err(llama_err("creating a context"))
}

/// `n` random non-special token ids (3..n_vocab) from `rng`.
fn random_tokens(rng: &mut Stream, n_vocab: u32, n: u32) -> Vec<i32> {
    let span = f64::from(n_vocab - 3);
    (0..n).map(|_| 3 + (uniform(rng) * span) as i32).collect()
}

/// Decodes `tokens` into sequence `seq` from position `pos0`, with logits at every position
/// (`all`) or only the last.
fn decode(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    tokens: &[i32],
    pos0: usize,
    seq: i32,
    all: bool,
) -> Result<(), KernelError> {
    batch.clear();
    for (i, t) in tokens.iter().enumerate() {
        let logits = all || i + 1 == tokens.len();
        batch
            .add(LlamaToken(*t), (pos0 + i) as i32, &[seq], logits)
            .map_err(llama_err("filling a batch"))?;
    }
    ctx.decode(batch).map_err(llama_err("decode"))
}

/// Wall time of decoding `tokens` (logits everywhere) at `pos0` in sequence 0, then removes
/// them from the cache again.
fn timed_decode(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    tokens: &[i32],
    pos0: usize,
) -> Result<f64, KernelError> {
    let start = Instant::now();
    decode(ctx, batch, tokens, pos0, 0, true)?;
    ctx.synchronize();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    ctx.kv_cache_seq_rm(0, Some(pos0 as u32), None)
        .map_err(llama_err("rollback"))?;
    Ok(ms)
}

fn prompt(seed: u64, n_vocab: u32, n: u32) -> Vec<i32> {
    let mut rng = named_stream(seed, "prompt");
    let mut p = vec![BOS];
    p.extend(random_tokens(&mut rng, n_vocab, n));
    p
}

/// Resident memory around loading `path`, prefilling `prompt` and decoding one token.
fn memory_point(
    path: &Path,
    run: &RunConfig,
    threads: u32,
    prompt: &[i32],
) -> Result<MemoryPoint, KernelError> {
    let snapshot = || mem::resident().unwrap_or_default();
    let before_load = snapshot();
    let (model, _) = load(path, run)?;
    let after_load = snapshot();
    let n = prompt.len() as u32;
    let mut ctx = context(&model, threads, n + 8, n, 1)?;
    let mut batch = LlamaBatch::new(prompt.len(), 1);
    decode(&mut ctx, &mut batch, prompt, 0, 0, false)?;
    decode(&mut ctx, &mut batch, &prompt[1..2], prompt.len(), 0, false)?;
    ctx.synchronize();
    let after_decode = snapshot();
    Ok(MemoryPoint {
        mmap: run.mmap,
        before_load,
        after_load,
        after_decode,
    })
}

pub fn measure_profile(
    target: &Path,
    draft: &Path,
    opts: &ProfileOptions,
) -> Result<Profile, KernelError> {
    let _one_at_a_time = measuring();
    let n_threads = threads(&opts.run);
    let (tm, target_info) = load(target, &opts.run)?;
    let (dm, draft_info) = load(draft, &opts.run)?;
    let n_vocab = target_info.n_vocab.min(draft_info.n_vocab);
    let prompt = prompt(opts.seed, n_vocab, opts.context_tokens);
    let k_max = opts.k_max as usize;
    let n_ctx = prompt.len() as u32 + opts.k_max + 8;
    let n_batch = (prompt.len() as u32).max(opts.k_max);
    let mut tctx = context(&tm, n_threads, n_ctx, n_batch, 1)?;
    let mut dctx = context(&dm, n_threads, n_ctx, n_batch, 1)?;
    let mut batch = LlamaBatch::new(n_batch as usize, 1);
    decode(&mut tctx, &mut batch, &prompt, 0, 0, false)?;
    decode(&mut dctx, &mut batch, &prompt, 0, 0, false)?;
    let feed = random_tokens(&mut named_stream(opts.seed, "feed"), n_vocab, opts.k_max);
    let pos = prompt.len();

    // Each K in its own block: one untimed decode, then `reps` timed ones. Consecutive
    // decodes of one shape let llama.cpp reuse its compute graph, as a speculative loop with
    // a fixed K (and plain decoding) does; alternating shapes would rebuild it every time.
    let mut block = |ctx: &mut LlamaContext<'_>, tokens: &[i32]| -> Result<Vec<f64>, KernelError> {
        timed_decode(ctx, &mut batch, tokens, pos)?;
        (0..opts.reps)
            .map(|_| timed_decode(ctx, &mut batch, tokens, pos))
            .collect()
    };
    let mut verify_ms = Vec::with_capacity(k_max);
    for k in 1..=k_max {
        verify_ms.push(block(&mut tctx, &feed[..k])?);
    }
    let draft_ms = block(&mut dctx, &feed[..1])?;
    drop(tctx);
    drop(dctx);
    drop(tm);
    drop(dm);

    let timing = |s: &[f64]| Timing::of(s).expect("reps >= 1");
    let target_decode = timing(&verify_ms[0]);
    let draft_decode = timing(&draft_ms);
    let verify = verify_ms
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let time = timing(s);
            VerifyPoint {
                k: i as u32 + 1,
                time,
                ratio: time.median_ms / target_decode.median_ms,
            }
        })
        .collect();
    let mut memory = Vec::with_capacity(2);
    for mmap in [true, false] {
        let run = RunConfig { mmap, ..opts.run };
        memory.push(memory_point(target, &run, n_threads, &prompt)?);
    }
    Ok(Profile {
        target: target_info,
        draft: draft_info,
        threads: n_threads,
        mmap: opts.run.mmap,
        context_tokens: opts.context_tokens,
        system_info: system_info(),
        target_decode,
        draft_decode,
        draft_cost_ratio: draft_decode.median_ms / target_decode.median_ms,
        verify,
        memory,
    })
}

pub fn measure_batch_curve(model: &Path, opts: &BatchOptions) -> Result<BatchCurve, KernelError> {
    let _one_at_a_time = measuring();
    let n_threads = threads(&opts.run);
    let (m, info) = load(model, &opts.run)?;
    let b_max = opts.max_batch;
    let ctx_len = opts.context_tokens + 1; // BOS + context
    let n_ctx = b_max * (ctx_len + 8);
    let n_batch = b_max.max(ctx_len);
    let mut ctx = context(&m, n_threads, n_ctx, n_batch, b_max)?;
    let mut batch = LlamaBatch::new(n_batch as usize, b_max as i32);
    for s in 0..b_max {
        let p = prompt(
            opts.seed ^ u64::from(s).wrapping_mul(0x9E37_79B9),
            info.n_vocab,
            opts.context_tokens,
        );
        decode(&mut ctx, &mut batch, &p, 0, s as i32, false)?;
    }
    let feed = random_tokens(&mut named_stream(opts.seed, "feed"), info.n_vocab, b_max);
    let pos = ctx_len as usize;

    let mut step_ms = vec![Vec::with_capacity(opts.reps as usize); b_max as usize];
    for round in 0..=opts.reps {
        for b in 1..=b_max as usize {
            batch.clear();
            for (s, t) in feed[..b].iter().enumerate() {
                batch
                    .add(LlamaToken(*t), pos as i32, &[s as i32], true)
                    .map_err(llama_err("filling a batch"))?;
            }
            let start = Instant::now();
            ctx.decode(&mut batch).map_err(llama_err("decode"))?;
            ctx.synchronize();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            for s in 0..b {
                ctx.kv_cache_seq_rm(s as i32, Some(pos as u32), None)
                    .map_err(llama_err("rollback"))?;
            }
            if round > 0 {
                step_ms[b - 1].push(ms);
            }
        }
    }
    let points = step_ms
        .iter()
        .enumerate()
        .map(|(i, s)| BatchPoint {
            batch: i as u32 + 1,
            step: Timing::of(s).expect("reps >= 1"),
        })
        .collect();
    Ok(BatchCurve {
        model: info,
        threads: n_threads,
        context_tokens: opts.context_tokens,
        system_info: system_info(),
        points,
    })
}

/// Chooses the next token from `logits`: argmax, or a draw at the temperature.
fn choose(logits: &[f32], verification: Verification, rng: &mut Stream) -> i32 {
    match verification {
        Verification::Greedy => sampling::argmax(logits) as i32,
        Verification::Stochastic { temperature } => {
            sampling::sample(&sampling::softmax(logits, temperature), uniform(rng)) as i32
        }
    }
}

/// Counts of one speculative run.
struct Loop {
    out: Vec<i32>,
    cycles: u32,
    drafted: u32,
    accepted: u32,
    early_stops: u32,
    histogram: Vec<u32>,
    ms: f64,
}

pub fn run_speculative(
    target: &Path,
    draft: &Path,
    opts: &SpecOptions,
) -> Result<SpecRun, KernelError> {
    let _one_at_a_time = measuring();
    let n_threads = threads(&opts.run);
    let (tm, target_info) = load(target, &opts.run)?;
    let (dm, draft_info) = load(draft, &opts.run)?;
    if target_info.n_vocab != draft_info.n_vocab {
        return Err(KernelError::invalid(
            "draft",
            &format!(
                "a model with the target's vocabulary ({} tokens), got {}",
                target_info.n_vocab, draft_info.n_vocab
            ),
        ));
    }
    let prompt = prompt(opts.seed, target_info.n_vocab, opts.prompt_tokens);
    let k = opts.k as usize;
    let n_ctx = prompt.len() as u32 + opts.n_tokens + opts.k + 8;
    let n_batch = (prompt.len() as u32).max(opts.k + 2);
    let mut tctx = context(&tm, n_threads, n_ctx, n_batch, 1)?;
    let mut dctx = context(&dm, n_threads, n_ctx, n_batch, 1)?;
    let mut batch = LlamaBatch::new(n_batch as usize, 1);

    // Plain decoding: one target decode per token.
    let mut rng = named_stream(opts.seed, "baseline");
    decode(&mut tctx, &mut batch, &prompt, 0, 0, false)?;
    let mut baseline = vec![choose(
        tctx.get_logits_ith(prompt.len() as i32 - 1),
        opts.verification,
        &mut rng,
    )];
    let start = Instant::now();
    for i in 0..opts.n_tokens as usize {
        decode(
            &mut tctx,
            &mut batch,
            &baseline[i..=i],
            prompt.len() + i,
            0,
            false,
        )?;
        baseline.push(choose(tctx.get_logits_ith(0), opts.verification, &mut rng));
    }
    let baseline_ms = start.elapsed().as_secs_f64() * 1e3;
    tctx.clear_kv_cache();

    let spec = speculate(&mut tctx, &mut dctx, &mut batch, &prompt, k, opts)?;
    let tokens = spec.out.len() as u32 - 1;
    let baseline_match_prefix = match opts.verification {
        Verification::Greedy => Some(
            spec.out
                .iter()
                .zip(&baseline)
                .take_while(|(a, b)| a == b)
                .count() as u32,
        ),
        Verification::Stochastic { .. } => None,
    };
    let spec_tokens_per_s = f64::from(tokens) / (spec.ms / 1e3);
    let baseline_tokens_per_s = f64::from(opts.n_tokens) / (baseline_ms / 1e3);
    Ok(SpecRun {
        target: target_info,
        draft: draft_info,
        threads: n_threads,
        options: *opts,
        tokens,
        cycles: spec.cycles,
        drafted: spec.drafted,
        accepted: spec.accepted,
        acceptance_rate: if spec.drafted > 0 {
            f64::from(spec.accepted) / f64::from(spec.drafted)
        } else {
            0.0
        },
        tokens_per_cycle: f64::from(tokens) / f64::from(spec.cycles.max(1)),
        early_stops: spec.early_stops,
        accepted_histogram: spec.histogram,
        spec_ms: spec.ms,
        spec_tokens_per_s,
        baseline_ms,
        baseline_tokens_per_s,
        speedup: spec_tokens_per_s / baseline_tokens_per_s,
        distinct_tokens: spec
            .out
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u32,
        baseline_match_prefix,
    })
}

/// The speculative loop. Invariants at the top of a cycle: `history` = prompt + committed
/// tokens; the target's cache holds all of `history` but its last token (`t_past` tokens);
/// the draft's cache holds the first `d_past` tokens of `history` (it can lag by two after a
/// fully accepted cycle: the last draft, which it never decoded, and the bonus token).
fn speculate(
    tctx: &mut LlamaContext<'_>,
    dctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    prompt: &[i32],
    k: usize,
    opts: &SpecOptions,
) -> Result<Loop, KernelError> {
    let mut draft_rng = named_stream(opts.seed, "draft");
    let mut verify_rng = named_stream(opts.seed, "verify");
    let temperature = match opts.verification {
        Verification::Greedy => None,
        Verification::Stochastic { temperature } => Some(temperature),
    };
    decode(tctx, batch, prompt, 0, 0, false)?;
    let first = choose(
        tctx.get_logits_ith(prompt.len() as i32 - 1),
        opts.verification,
        &mut verify_rng,
    );
    decode(dctx, batch, prompt, 0, 0, false)?;
    let mut history = prompt.to_vec();
    history.push(first);
    let (mut t_past, mut d_past) = (prompt.len(), prompt.len());
    let mut s = Loop {
        out: vec![first],
        cycles: 0,
        drafted: 0,
        accepted: 0,
        early_stops: 0,
        histogram: vec![0; k + 1],
        ms: 0.0,
    };
    let mut drafts: Vec<i32> = Vec::with_capacity(k);
    let mut qs: Vec<Vec<f32>> = Vec::with_capacity(k);
    let start = Instant::now();
    while s.out.len() <= opts.n_tokens as usize {
        // Draft up to k tokens, catching the draft's cache up with `history` first.
        let old_len = history.len();
        decode(dctx, batch, &history[d_past..], d_past, 0, false)?;
        let mut last_index = (old_len - d_past - 1) as i32;
        drafts.clear();
        qs.clear();
        for i in 0..k {
            let logits = dctx.get_logits_ith(last_index);
            if opts.p_min > 0.0 && sampling::top_probability(logits) < opts.p_min {
                s.early_stops += 1;
                break;
            }
            let x = match temperature {
                None => sampling::argmax(logits),
                Some(t) => {
                    let q = sampling::softmax(logits, t);
                    let x = sampling::sample(&q, uniform(&mut draft_rng));
                    qs.push(q);
                    x
                }
            };
            drafts.push(x as i32);
            if i + 1 < k {
                decode(dctx, batch, &[x as i32], old_len + i, 0, false)?;
                last_index = 0;
            }
        }
        // The draft decoded every drafted token but a k-th one.
        let draft_decoded = if drafts.len() == k {
            k - 1
        } else {
            drafts.len()
        };

        // Verify the last committed token and the drafts in one target decode.
        let mut verify_tokens = Vec::with_capacity(drafts.len() + 1);
        verify_tokens.push(history[old_len - 1]);
        verify_tokens.extend_from_slice(&drafts);
        decode(tctx, batch, &verify_tokens, t_past, 0, true)?;
        let mut m = 0;
        let mut next = None;
        for (i, x) in drafts.iter().enumerate() {
            let logits = tctx.get_logits_ith(i as i32);
            let verdict = match temperature {
                None => {
                    let t = sampling::argmax(logits);
                    if t as i32 == *x {
                        Verdict::Accept
                    } else {
                        Verdict::Reject(t)
                    }
                }
                Some(t) => {
                    let p = sampling::softmax(logits, t);
                    let (u_accept, u_resample) =
                        (uniform(&mut verify_rng), uniform(&mut verify_rng));
                    sampling::verify_stochastic(&p, &qs[i], *x as usize, u_accept, u_resample)
                }
            };
            match verdict {
                Verdict::Accept => m += 1,
                Verdict::Reject(y) => {
                    next = Some(y as i32);
                    break;
                }
            }
        }
        let next = match next {
            Some(y) => y,
            // Every draft kept: the target's logits after the last one give a bonus token.
            None => choose(
                tctx.get_logits_ith(drafts.len() as i32),
                opts.verification,
                &mut verify_rng,
            ),
        };

        history.extend_from_slice(&drafts[..m]);
        history.push(next);
        s.out.extend_from_slice(&drafts[..m]);
        s.out.push(next);
        t_past += 1 + m;
        tctx.kv_cache_seq_rm(0, Some(t_past as u32), None)
            .map_err(llama_err("target rollback"))?;
        d_past = old_len + m.min(draft_decoded);
        dctx.kv_cache_seq_rm(0, Some(d_past as u32), None)
            .map_err(llama_err("draft rollback"))?;
        s.cycles += 1;
        s.drafted += drafts.len() as u32;
        s.accepted += m as u32;
        s.histogram[m] += 1;
    }
    s.ms = start.elapsed().as_secs_f64() * 1e3;
    Ok(s)
}
