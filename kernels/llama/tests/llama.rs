//! The kernel on llama.cpp, end to end on the CI pair (`--features llama`). One thread, so
//! the counts are reproducible and timings are not at the mercy of a busy second core;
//! assertions are on counts and on orderings that hold on any machine, never on speed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use llama_kernel::{
    BatchOptions, CI_AGREEING_LAYER_SCALE, CI_DISAGREEING_LAYER_SCALE, KernelError, PairPaths,
    ProfileOptions, RunConfig, SpecOptions, SpecRun, TinyPair, Verification, ensure_pair,
    measure_batch_curve, measure_profile, run_speculative,
};

/// Tests in this file run one at a time: model generation allocates hundreds of MB, which
/// would show up in another test's resident-memory readings.
static SERIAL: Mutex<()> = Mutex::new(());

const ONE_THREAD: RunConfig = RunConfig {
    threads: 1,
    mmap: true,
    gpu_layers: 0,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("llama-kernel-models")
}

fn pair(layer_scale: f32) -> PairPaths {
    ensure_pair(&dir(), &TinyPair::ci(layer_scale)).unwrap()
}

fn spec(p: &PairPaths, k: u32, verification: Verification, p_min: f32) -> SpecRun {
    let opts = SpecOptions {
        run: ONE_THREAD,
        k,
        verification,
        n_tokens: 96,
        prompt_tokens: 32,
        seed: 3,
        p_min,
    };
    let r = run_speculative(&p.target, &p.draft, &opts).unwrap();
    // Bookkeeping that holds for every run.
    assert!(
        r.tokens >= 96 && r.tokens < 96 + k + 1,
        "{} tokens",
        r.tokens
    );
    assert_eq!(r.accepted_histogram.len(), k as usize + 1);
    assert_eq!(r.accepted_histogram.iter().sum::<u32>(), r.cycles);
    let kept: u32 = r
        .accepted_histogram
        .iter()
        .enumerate()
        .map(|(m, c)| m as u32 * c)
        .sum();
    assert_eq!(kept, r.accepted);
    assert_eq!(
        r.tokens,
        r.accepted + r.cycles,
        "each cycle adds its kept drafts and one token"
    );
    assert!(r.drafted <= k * r.cycles);
    if p_min == 0.0 {
        assert_eq!(r.drafted, k * r.cycles, "no early stops without p_min");
        assert_eq!(r.early_stops, 0);
    }
    assert!(r.spec_ms > 0.0 && r.baseline_ms > 0.0 && r.speedup > 0.0);
    r
}

#[test]
fn profile_measures_decode_verify_and_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = pair(CI_AGREEING_LAYER_SCALE);
    let opts = ProfileOptions {
        run: ONE_THREAD,
        k_max: 8,
        reps: 5,
        context_tokens: 32,
        seed: 1,
    };
    let prof = measure_profile(&p.target, &p.draft, &opts).unwrap();
    assert_eq!(prof.threads, 1);
    assert_eq!((prof.target.n_layer, prof.draft.n_layer), (4, 1));
    assert_eq!(
        prof.target.n_params,
        TinyPair::ci(CI_AGREEING_LAYER_SCALE).target.n_params()
    );
    assert!(prof.system_info.contains("CPU"), "{}", prof.system_info);
    assert!(prof.target_decode.median_ms > 0.0 && prof.draft_decode.median_ms > 0.0);
    assert!(prof.draft_cost_ratio > 0.0);
    assert_eq!(
        prof.verify.iter().map(|v| v.k).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert_eq!(prof.verify[0].ratio, 1.0);
    assert!(
        prof.verify
            .iter()
            .all(|v| v.ratio > 0.0 && v.time.reps == 5)
    );
    // Interference only ever adds time, so the fastest repeats compare the work itself:
    // eight tokens cost more than one, and a 1-layer draft less than the 4-layer target.
    assert!(
        prof.verify[7].time.min_ms > prof.verify[0].time.min_ms,
        "{:?}",
        prof.verify
    );
    assert!(prof.draft_decode.min_ms < prof.target_decode.min_ms);

    // Reading the weights into memory (mmap off) adds about the file's size of anonymous
    // memory; mapping them does not.
    let file_mib = prof.target.file_bytes as f64 / (1024.0 * 1024.0);
    let anon_growth = |mmap: bool| {
        let m = prof.memory.iter().find(|m| m.mmap == mmap).unwrap();
        m.after_load.anon_mib - m.before_load.anon_mib
    };
    assert!(anon_growth(false) > 0.9 * file_mib, "{:?}", prof.memory);
    assert!(anon_growth(true) < 0.5 * file_mib, "{:?}", prof.memory);
}

#[test]
fn greedy_speculation_reproduces_the_target_and_acceptance_follows_layer_scale() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let close = spec(&pair(CI_AGREEING_LAYER_SCALE), 4, Verification::Greedy, 0.0);
    // Measured: 77 % for this seed (95 % for the seed of CI_AGREEING_LAYER_SCALE's note).
    assert!(close.acceptance_rate > 0.6, "{close:?}");
    assert!(close.tokens_per_cycle > 2.5, "{close:?}");
    // Greedy speculation outputs the target's greedy sequence (batched and one-token
    // arithmetic could flip a near-tie argmax, so not necessarily to the last token).
    assert!(
        close.baseline_match_prefix.unwrap() > close.tokens / 2,
        "{close:?}"
    );

    let far = spec(
        &pair(CI_DISAGREEING_LAYER_SCALE),
        4,
        Verification::Greedy,
        0.0,
    );
    assert!(far.acceptance_rate < 0.2, "{far:?}");
    assert!(
        far.baseline_match_prefix.unwrap() > far.tokens / 2,
        "{far:?}"
    );
}

#[test]
fn stochastic_speculation_accepts_by_the_distributions_overlap() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Verification::Stochastic { temperature: 1.0 };
    let close = spec(&pair(CI_AGREEING_LAYER_SCALE), 4, t, 0.0);
    let far = spec(&pair(CI_DISAGREEING_LAYER_SCALE), 4, t, 0.0);
    assert!(close.acceptance_rate > 0.6, "{close:?}");
    assert!(far.acceptance_rate < 0.3, "{far:?}");
    assert_eq!(close.baseline_match_prefix, None);
    // Sampling explores: no short loop.
    assert!(close.distinct_tokens > close.tokens / 2, "{close:?}");

    // A draft confidence cutoff no token reaches stops every draft at once.
    let cut = spec(&pair(CI_AGREEING_LAYER_SCALE), 4, t, 1.0);
    assert_eq!((cut.drafted, cut.early_stops), (0, cut.cycles), "{cut:?}");
}

#[test]
fn batch_curve_has_one_point_per_batch_size() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = pair(CI_AGREEING_LAYER_SCALE);
    let opts = BatchOptions {
        run: ONE_THREAD,
        max_batch: 6,
        reps: 3,
        context_tokens: 16,
        seed: 1,
    };
    let curve = measure_batch_curve(&p.target, &opts).unwrap();
    assert_eq!(
        curve.points.iter().map(|b| b.batch).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert!(
        curve
            .points
            .iter()
            .all(|b| b.step.min_ms > 0.0 && b.step.reps == 3)
    );
    assert!(
        curve.points[5].step.min_ms > curve.points[0].step.min_ms,
        "{curve:?}"
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let missing = dir().join("missing.gguf");
    let err = run_speculative(&missing, &missing, &SpecOptions::default()).unwrap_err();
    assert!(matches!(err, KernelError::Io(_)), "{err}");

    // A draft with another vocabulary cannot verify against the target.
    let mut other = TinyPair::ci(CI_AGREEING_LAYER_SCALE);
    other.target.n_vocab = 2048;
    other.draft.n_vocab = 2048;
    let small = ensure_pair(&dir(), &other).unwrap();
    let p = pair(CI_AGREEING_LAYER_SCALE);
    let err = run_speculative(
        &p.target,
        &small.draft,
        &SpecOptions {
            run: ONE_THREAD,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, KernelError::Invalid { field, .. } if field == "draft"),
        "{err}"
    );

    // Not a GGUF file: llama.cpp refuses it.
    let junk = dir().join("junk.gguf");
    std::fs::write(&junk, b"not a model").unwrap();
    let err = measure_batch_curve(&junk, &BatchOptions::default()).unwrap_err();
    assert!(matches!(err, KernelError::Llama(_)), "{err}");
}
