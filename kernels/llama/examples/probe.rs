//! Measures a tiny pair and prints a summary (with PROBE_JSON=1 also the profile as JSON):
//! `cargo run --release -p llama-kernel --features llama --example probe -- [layer_scale] [ci|full] [target_layers] [threads] [temperature]`
//! Models are written to datasets/llama/generated/ (git-ignored).

use std::path::Path;

use llama_kernel::{
    BatchOptions, ProfileOptions, RunConfig, SpecOptions, TinyPair, Verification, ensure_pair,
    measure_batch_curve, measure_profile, run_speculative,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let layer_scale: f32 = arg(0).unwrap_or("0.004").parse()?;
    let mut pair = match arg(1) {
        Some("full") => TinyPair::full(layer_scale),
        _ => TinyPair::ci(layer_scale),
    };
    if let Some(l) = arg(2) {
        pair.target.n_layer = l.parse()?;
    }
    let threads: u32 = arg(3).unwrap_or("0").parse()?;
    let run = RunConfig {
        threads,
        ..RunConfig::default()
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/llama/generated");
    let t0 = std::time::Instant::now();
    let paths = ensure_pair(&dir, &pair)?;
    eprintln!("models ready in {:.1} s", t0.elapsed().as_secs_f64());
    let profile = measure_profile(
        &paths.target,
        &paths.draft,
        &ProfileOptions {
            run,
            ..Default::default()
        },
    )?;
    if std::env::var_os("PROBE_JSON").is_some() {
        println!("{}", serde_json::to_string_pretty(&profile)?);
    }
    println!(
        "target {} params, {} bytes; draft {} params; {} threads; {}",
        profile.target.n_params,
        profile.target.file_bytes,
        profile.draft.n_params,
        profile.threads,
        profile.system_info
    );
    println!(
        "target decode {:.3} ms [{:.3}, {:.3}], draft {:.3} ms, c = {:.3}",
        profile.target_decode.median_ms,
        profile.target_decode.min_ms,
        profile.target_decode.max_ms,
        profile.draft_decode.median_ms,
        profile.draft_cost_ratio
    );
    let v: Vec<String> = profile
        .verify
        .iter()
        .map(|p| format!("{}:{:.2}", p.k, p.ratio))
        .collect();
    println!("V(K) {}", v.join(" "));
    for m in &profile.memory {
        println!(
            "mmap {}: rss {:.0} -> load {:.0} (file {:.0}, anon {:.0}) -> decode {:.0} (file {:.0}, anon {:.0}) MiB",
            m.mmap,
            m.before_load.rss_mib,
            m.after_load.rss_mib,
            m.after_load.file_mib,
            m.after_load.anon_mib,
            m.after_decode.rss_mib,
            m.after_decode.file_mib,
            m.after_decode.anon_mib
        );
    }
    let curve = measure_batch_curve(
        &paths.target,
        &BatchOptions {
            run,
            max_batch: 8,
            ..Default::default()
        },
    )?;
    let t1 = curve.points[0].step.median_ms;
    let b: Vec<String> = curve
        .points
        .iter()
        .map(|p| {
            format!(
                "{}:{:.2}ms({:.2})",
                p.batch,
                p.step.median_ms,
                p.step.median_ms / t1
            )
        })
        .collect();
    println!("t(B) {}", b.join(" "));
    let temperature: f32 = arg(4).unwrap_or("1").parse()?;
    for verification in [
        Verification::Greedy,
        Verification::Stochastic { temperature },
    ] {
        for k in [2, 4, 8] {
            let opts = SpecOptions {
                run,
                k,
                verification,
                n_tokens: 128,
                ..Default::default()
            };
            let r = run_speculative(&paths.target, &paths.draft, &opts)?;
            println!(
                "{verification:?} K={k}: accept {}/{} = {:.2}, tokens/cycle {:.2}, hist {:?}, spec {:.1} tok/s, plain {:.1} tok/s, speedup {:.2}, match {:?}, distinct {}",
                r.accepted,
                r.drafted,
                r.acceptance_rate,
                r.tokens_per_cycle,
                r.accepted_histogram,
                r.spec_tokens_per_s,
                r.baseline_tokens_per_s,
                r.speedup,
                r.baseline_match_prefix,
                r.distinct_tokens
            );
        }
    }
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
