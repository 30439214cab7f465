//! The Monte Carlo against Leviathan et al.'s closed form and the exact expectations, the
//! profiles against their data files, and input errors.

use std::collections::BTreeMap;

use super::*;
use crate::des::RngStreams;
use crate::stats::Estimate;

/// Standard errors within which a single check must land.
const Z_GATE: f64 = 4.0;

fn table(s: &str) -> toml::Table {
    s.parse().expect("valid TOML")
}

fn replicate(params: &str, reps: u32, seed: u64) -> BTreeMap<String, Estimate> {
    crate::room::testing::replicate::<Speculative>(params, reps, seed)
}

fn z(e: &Estimate, exact: f64) -> f64 {
    (e.mean - exact) / e.std_error().max(1e-12)
}

fn assert_close(e: &Estimate, exact: f64, what: &str) {
    let z = z(e, exact);
    assert!(
        z.abs() <= Z_GATE,
        "{what}: {:.5} ± {:.5} vs {exact:.5} (z = {z:.2})",
        e.mean,
        e.std_error()
    );
}

fn one_run(params: &str, seed: u64) -> BTreeMap<String, f64> {
    let t = table(params);
    crate::room::testing::check::<Speculative>(&t).expect("valid params");
    let ctx = RunContext {
        streams: RngStreams::new(seed, 0, 0),
        point: 0,
        replication: 0,
    };
    crate::room::testing::run_once::<Speculative>(&t, &ctx)
        .expect("run succeeds")
        .metrics
}

fn params(s: &str) -> SpeculativeParams {
    crate::room::parse_params::<Speculative>(&table(s)).expect("valid params")
}

fn error(s: &str) -> crate::params::ParamsError {
    crate::room::testing::check::<Speculative>(&table(s)).expect_err("the params must be rejected")
}

/// Leviathan et al. 2023, eq. 1: expected tokens per cycle with i.i.d. acceptance α.
fn leviathan_tokens(alpha: f64, k: u32) -> f64 {
    (1.0 - alpha.powi(k as i32 + 1)) / (1.0 - alpha)
}

#[test]
fn tokens_per_cycle_follow_leviathan_over_a_grid() {
    // 20 cells x 3 metrics. Each z is ~N(0, 1); at 2 standard errors ~5% of cells land
    // outside by chance, so the gate is: at most 3 of 20 beyond 2 SE per metric (a chance
    // failure ~2%), none beyond 4 SE.
    let mut beyond_2se: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, alpha) in [0.5, 0.7, 0.8, 0.9, 0.95].into_iter().enumerate() {
        for (j, k) in [1u32, 3, 6, 12].into_iter().enumerate() {
            let est = replicate(
                &format!("alpha = {alpha}\nk = {k}\ntokens = 20000"),
                8,
                100 + (i * 10 + j) as u64,
            );
            let e = leviathan_tokens(alpha, k);
            // accepted / drafted = (E − 1) / K: every cycle drafts K tokens without a cutoff.
            for (metric, exact) in [
                ("mean_tokens_per_cycle", e),
                ("accept_rate_drafted", (e - 1.0) / k as f64),
                ("alpha_per_token", alpha),
            ] {
                let zi = z(&est[metric], exact);
                let what = format!("{metric} at alpha {alpha}, K {k}: z = {zi:.2}");
                assert!(zi.abs() <= Z_GATE, "{what}");
                if zi.abs() > 2.0 {
                    beyond_2se.entry(metric).or_default().push(what);
                }
            }
        }
    }
    for (metric, cells) in &beyond_2se {
        assert!(cells.len() <= 3, "{metric}: {cells:#?}");
    }
}

#[test]
fn exact_expectations_reduce_to_leviathan_without_cutoff_or_states() {
    let p = params("alpha = 0.85\ndraft_cost_ratio = 0.2\nverify_cost_per_token = 0.0");
    let c = p.costs().unwrap();
    for k in 1..=12 {
        let m = expected_cycle(&p, &c, k);
        let e = leviathan_tokens(0.85, k);
        assert!((m.tokens - e).abs() < 1e-12, "K {k}");
        assert!((m.drafted - k as f64).abs() < 1e-12);
        // Leviathan's walltime improvement with V = 1: E / (K c + 1).
        assert!((m.speedup() - e / (k as f64 * 0.2 + 1.0)).abs() < 1e-12);
    }
}

#[test]
fn cutoff_states_and_position_decay_match_the_exact_expectations() {
    let cases = [
        // p_min cuts drafts, hard cycles, decaying acceptance, a measured-looking V(K).
        "profile = \"custom\"\ntarget_decode_ms = 10.0\ndraft_cost_ratio = 0.15\n\
         verify_cost_ratios = [1.1, 1.2, 1.25, 1.5, 1.6, 1.9, 2.0, 2.0, 2.1, 2.2, 2.3, 2.4]\n\
         target_model_mb = 1000.0\ndraft_model_mb = 100.0\n\
         alpha = 0.9\nalpha_decay = 0.95\np_min = 0.3\nhard_cycle_share = 0.3\n\
         hard_alpha_factor = 0.4\nk = 6",
        // A per-position list, a strong cutoff, a sharp confidence distribution.
        "alpha = [0.95, 0.9, 0.8, 0.7]\np_min = 0.6\ndraft_confidence_concentration = 8.0\nk = 8",
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let est = replicate(&format!("{case}\ntokens = 40000"), 10, 7 + i as u64);
        let p = params(case);
        let m = expected_cycle(&p, &p.costs().unwrap(), p.k);
        assert!(m.drafted < p.k as f64 * 0.95, "the cutoff must bite: {m:?}");
        assert_close(&est["mean_tokens_per_cycle"], m.tokens, "tokens per cycle");
        assert_close(
            &est["accept_rate_drafted"],
            m.accepted / m.drafted,
            "accepted / drafted",
        );
        assert_close(
            &est["alpha_per_token"],
            m.accepted / m.trials,
            "alpha per token",
        );
        assert_close(&est["speedup"], m.speedup(), "speedup");
    }
}

#[test]
fn a_cutoff_raises_accepted_over_drafted_and_correlation_flattens_its_decline() {
    let rate = |extra: &str, k: u32| {
        let p = params(&format!("k = {k}\n{extra}"));
        let m = expected_cycle(&p, &p.costs().unwrap(), k);
        m.accepted / m.drafted
    };
    let iid = "alpha = 0.87";
    assert!(rate("alpha = 0.87\np_min = 0.5", 6) > rate(iid, 6) + 0.05);
    // Same mean α at position 1 (0.8 · 0.96 + 0.2 · 0.48 ≈ 0.864), acceptance clustered in
    // easy cycles: the fraction falls more slowly with K.
    let mixed = "alpha = 0.96\nhard_cycle_share = 0.2\nhard_alpha_factor = 0.5";
    let drop_iid = rate(iid, 4) - rate(iid, 8);
    let drop_mixed = rate(mixed, 4) - rate(mixed, 8);
    assert!(drop_mixed < 0.7 * drop_iid, "{drop_mixed} vs {drop_iid}");
}

#[test]
fn optimal_k_is_the_argmax_of_leviathans_speedup() {
    for alpha in [0.6, 0.7, 0.8, 0.9] {
        for c in [0.05, 0.25] {
            let p = params(&format!(
                "alpha = {alpha}\ndraft_cost_ratio = {c}\nk_max = 16\nverify_cost_per_token = 0.0"
            ));
            let brute = (1..=16u32)
                .max_by(|a, b| {
                    let s = |k: u32| leviathan_tokens(alpha, k) / (k as f64 * c + 1.0);
                    s(*a).total_cmp(&s(*b))
                })
                .unwrap();
            assert_eq!(optimal_k(&p, &p.costs().unwrap()), brute, "{alpha} {c}");
        }
    }
    // With c = 0.05 the best K grows with α (research §4: 4 / 6 / 8 for α = 0.6 / 0.7 / 0.8).
    let best = |a: f64| {
        let p = params(&format!(
            "alpha = {a}\ndraft_cost_ratio = 0.05\nverify_cost_per_token = 0.0"
        ));
        optimal_k(&p, &p.costs().unwrap())
    };
    assert_eq!([best(0.6), best(0.7), best(0.8)], [4, 6, 8]);
}

#[test]
fn plain_decoding_is_the_profile_baseline() {
    let m = one_run("k = 0\ntokens = 1000", 1);
    assert!((m["tokens_per_s"] - 6.2).abs() < 1e-9, "{m:?}");
    assert_eq!(m["speedup"], 1.0);
    assert_eq!(m["mean_tokens_per_cycle"], 1.0);
    assert_eq!(m["verify_cost_ratio"], 1.0);
    assert!(!m.contains_key("accept_rate_drafted") && !m.contains_key("alpha_per_token"));
}

#[test]
fn profiles_read_their_data_files() {
    let h100 = params("profile = \"h100-8b-0.5b\"").costs().unwrap();
    assert!((h100.target_decode_ms - 6.828127861022949).abs() < 1e-12);
    assert!((h100.draft_cost_ratio - 1.4786560535430908 / 6.828127861022949).abs() < 1e-12);
    // V(7) is the measured 8-token pass; V(10) lies between the 8- and 12-token rows.
    assert!((h100.verify_ratio(7) - 7.506303787231445 / 6.828127861022949).abs() < 1e-12);
    let v11 = 7.506303787231445 + (7.760831832885742 - 7.506303787231445) * 3.0 / 4.0;
    assert!((h100.verify_ratio(10) - v11 / 6.828127861022949).abs() < 1e-12);
    assert!((h100.target_model_mb - 16060.514304).abs() < 1e-6);

    let cpu = params("profile = \"cpu-2core-research\"").costs().unwrap();
    assert_eq!(cpu.target_decode_ms, 12.93);
    assert!((cpu.draft_cost_ratio - 3.27 / 12.61).abs() < 1e-12);
    assert!((cpu.verify_ratio(6) - 40.33 / 12.93).abs() < 1e-12);
    // K = 8..12 need 9..13-token passes: extrapolated, still growing.
    assert!(cpu.verify_ratio(12) > cpu.verify_ratio(8) && cpu.verify_ratio(8) > 2.5);

    // The phone: the article's baseline, assumed c and V(K) = 1 + 0.2 K.
    let phone = params("").costs().unwrap();
    assert!((1000.0 / phone.target_decode_ms - 6.2).abs() < 1e-12);
    assert_eq!(phone.draft_cost_ratio, 0.2);
    assert!((phone.verify_ratio(6) - 2.2).abs() < 1e-12);
    assert_eq!(phone.verify_ratio(0), 1.0);
    // A line replaces the profile's V(K); the article's "about the same as one" is v = 0.
    let flat = params("verify_cost_per_token = 0.0").costs().unwrap();
    assert!(flat.verify.iter().all(|&v| v == 1.0));
    let steep = params("profile = \"h100-8b-0.5b\"\nverify_cost_per_token = 0.5")
        .costs()
        .unwrap();
    assert_eq!(steep.verify_ratio(4), 3.0);

    // A scenario value replaces the profile's.
    let c = params("profile = \"h100-8b-0.5b\"\ndraft_cost_ratio = 0.5")
        .costs()
        .unwrap();
    assert_eq!(c.draft_cost_ratio, 0.5);
}

#[test]
fn a_warm_mmapped_dense_model_is_fully_resident() {
    // The article's table: 4.5 GB target (mmap), 0.5 GB draft, 256 + 32 MB of KV cache.
    assert_eq!(one_run("tokens = 100", 1)["rss_mb"], 5288.0);
    assert_eq!(
        one_run("tokens = 100\ntarget_mmap = false", 1)["rss_mb"],
        5288.0
    );
    // Only a model that reads a tenth of its weights per token would page the rest out.
    assert_eq!(
        one_run("tokens = 100\nmmap_touched_fraction = 0.1", 1)["rss_mb"],
        450.0 + 500.0 + 288.0
    );
}

#[test]
fn pinning_scales_throughput_not_speedup() {
    let base =
        "tokens = 20000\nthreads = 4\nlittle_core_speed = 0.5\nunpinned_little_core_share = 0.1";
    let pinned = one_run(base, 3);
    let unpinned = one_run(&format!("{base}\npinned = false"), 3);
    // q = 1 − 0.9^4 = 0.3439 of steps wait for a half-speed core: 1 + q = 1.3439x the time.
    let slowdown = 1.0 + (1.0 - 0.9f64.powi(4));
    assert!((pinned["pinning_gain_fraction"] - (slowdown - 1.0)).abs() < 1e-12);
    assert!((pinned["tokens_per_s"] / unpinned["tokens_per_s"] - slowdown).abs() < 1e-9);
    assert_eq!(pinned["speedup"], unpinned["speedup"]);
    assert_eq!(one_run("tokens = 10", 3)["pinning_gain_fraction"], 0.0);
}

#[test]
fn same_seed_same_outcome() {
    let p = "alpha = 0.8\np_min = 0.2\nhard_cycle_share = 0.2\ntokens = 5000";
    assert_eq!(one_run(p, 9), one_run(p, 9));
    assert_ne!(
        one_run(p, 9)["mean_tokens_per_cycle"],
        one_run(p, 10)["mean_tokens_per_cycle"]
    );
}

#[test]
fn bad_input_names_the_field() {
    let cases = [
        (
            "profile = \"custom\"\ndraft_cost_ratio = 0.1\nverify_cost_ratios = [1.0]\nk = 1\nk_max = 1\ntarget_model_mb = 1.0\ndraft_model_mb = 1.0",
            "target_decode_ms",
        ),
        (
            "profile = \"custom\"\ntarget_decode_ms = 10.0\ndraft_cost_ratio = 0.1\nk = 1\nk_max = 1\ntarget_model_mb = 1.0\ndraft_model_mb = 1.0",
            "verify_cost_ratios",
        ),
        (
            "profile = \"custom\"\ntarget_decode_ms = 10.0\ndraft_cost_ratio = 0.1\nverify_cost_ratios = [1.0]\nk = 1\nk_max = 1\ndraft_model_mb = 1.0",
            "target_model_mb",
        ),
        ("verify_cost_ratios = [1.0, 1.0]", "verify_cost_ratios"),
        (
            "verify_cost_ratios = [1.0, 1.0, -1.0]\nk = 3\nk_max = 3",
            "verify_cost_ratios[2]",
        ),
        ("profile = \"pixel\"", "profile"),
        ("alpha = 1.2", "alpha"),
        ("alpha = [0.9, 1.5]", "alpha[1]"),
        ("alpha = []", "alpha"),
        ("alpha = \"high\"", "alpha"),
        ("alpha = [0.9, 0.8]\nalpha_decay = 0.9", "alpha_decay"),
        ("alpha_decay = 0.0", "alpha_decay"),
        ("k = 65", "k"),
        ("k_max = 0", "k_max"),
        ("p_min = -0.1", "p_min"),
        (
            "draft_confidence_concentration = 0.0",
            "draft_confidence_concentration",
        ),
        ("tokens = 0", "tokens"),
        ("target_decode_ms = 0.0", "target_decode_ms"),
        ("draft_cost_ratio = -0.1", "draft_cost_ratio"),
        ("verify_cost_per_token = -0.1", "verify_cost_per_token"),
        ("verify_cost_per_token = 11.0", "verify_cost_per_token"),
        (
            "verify_cost_per_token = 0.1\nverify_cost_ratios = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]",
            "verify_cost_per_token",
        ),
        ("hard_cycle_share = 2.0", "hard_cycle_share"),
        ("little_core_speed = 0.0", "little_core_speed"),
        ("threads = 0", "threads"),
        ("draft_tokens = 6", "draft_tokens"),
    ];
    for (input, path) in cases {
        let e = error(input);
        assert_eq!(e.path(), path, "{input}: {e}");
    }
    assert!(
        error("draft_tokens = 6")
            .to_string()
            .contains("unknown field")
    );
}

#[test]
fn check_shows_the_profile_figures() {
    let t = crate::room::testing::check::<Speculative>(&table("profile = \"cpu-2core-research\""))
        .unwrap();
    assert_eq!(t["target_decode_ms"].as_float(), Some(12.93));
    assert_eq!(t["target_model_mb"].as_float(), Some(210.0));
    // The filled table passes its own check unchanged.
    assert_eq!(crate::room::testing::check::<Speculative>(&t).unwrap(), t);
}

#[test]
fn cutoff_moments_match_drawn_draft_confidence() {
    use rand_distr::{Beta, Distribution};
    // The Monte Carlo draws "proposed" and "accepted" from P(q ≥ p_min) and E[q; q ≥ p_min];
    // check both against q drawn from its Beta distribution.
    let mut rng = RngStreams::new(21, 0, 0).stream("beta");
    for (m, kappa, p_min) in [
        (0.87, 2.0, 0.05),
        (0.6, 2.0, 0.5),
        (0.9, 8.0, 0.75),
        (0.3, 0.5, 0.2),
    ] {
        let (g, w) = super::model::cutoff_moments(m, kappa, p_min);
        let beta = Beta::new(m * kappa, (1.0 - m) * kappa).unwrap();
        let n = 200_000;
        let (mut above, mut mass, mut mass2) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let q: f64 = beta.sample(&mut rng);
            if q >= p_min {
                above += 1.0;
                mass += q;
                mass2 += q * q;
            }
        }
        let nf = n as f64;
        let g_hat = above / nf;
        let g_se = (g * (1.0 - g) / nf).sqrt().max(1e-12);
        let w_hat = mass / nf;
        let w_se = ((mass2 / nf - w_hat * w_hat) / nf).sqrt().max(1e-12);
        assert!(
            ((g_hat - g) / g_se).abs() < Z_GATE,
            "P(q ≥ {p_min}): {g_hat} vs {g}"
        );
        assert!(
            ((w_hat - w) / w_se).abs() < Z_GATE,
            "E[q; q ≥ {p_min}]: {w_hat} vs {w}"
        );
    }
    // No cutoff: every position is proposed and accepted with probability α.
    assert_eq!(super::model::cutoff_moments(0.7, 2.0, 0.0), (1.0, 0.7));
}
