use std::collections::VecDeque;

use super::model::{Network, Phases, Phone, article_choice, headroom, severity, simulate};
use super::*;
use crate::room::testing::{check, replicate};

/// The network's defaults (research §1.3).
fn network() -> Network {
    let p = ThermalParams::default();
    Network {
        cj: p.c_junction_j_per_k,
        rjs: p.r_junction_skin_k_per_w,
        cs: p.c_skin_j_per_k,
        rsa: p.r_skin_ambient_k_per_w,
        ta: 25.0,
    }
}

/// The closed form of the two-node step response from ambient: eigenvalues of
/// [[-a, a], [b, -(b + c)]] and the modes' amplitudes, plus the steady state
/// (P·(R_js + R_sa), P·R_sa) above ambient.
fn closed_form(n: &Network, p_w: f64, t: f64) -> (f64, f64, [f64; 2]) {
    let a = 1.0 / (n.rjs * n.cj);
    let b = 1.0 / (n.rjs * n.cs);
    let c = 1.0 / (n.rsa * n.cs);
    let tr = -(a + b + c);
    let det = a * c;
    let disc = (tr * tr - 4.0 * det).sqrt();
    let (l1, l2) = ((tr + disc) / 2.0, (tr - disc) / 2.0);
    let (xj, xs) = (p_w * (n.rjs + n.rsa), p_w * n.rsa);
    // y = x - x_ss starts at -x_ss; eigenvectors (a, a + λ).
    let (v1, v2) = ((a, a + l1), (a, a + l2));
    // Solve k1 v1 + k2 v2 = -x_ss.
    let d = v1.0 * v2.1 - v2.0 * v1.1;
    let k1 = (-xj * v2.1 + xs * v2.0) / d;
    let k2 = (-xs * v1.0 + xj * v1.1) / d;
    let (e1, e2) = ((l1 * t).exp(), (l2 * t).exp());
    (
        n.ta + xj + k1 * v1.0 * e1 + k2 * v2.0 * e2,
        n.ta + xs + k1 * v1.1 * e1 + k2 * v2.1 * e2,
        [-1.0 / l1, -1.0 / l2],
    )
}

#[test]
fn step_response_matches_the_closed_form() {
    let n = network();
    for p_w in [2.0, 6.0, 10.0] {
        let (mut tj, mut ts) = (n.ta, n.ta);
        let dt = 0.1;
        for i in 1..=36_000 {
            (tj, ts) = n.step((tj, ts), p_w, dt);
            if i % 600 == 0 {
                let (cj, cs, _) = closed_form(&n, p_w, i as f64 * dt);
                assert!(
                    (tj - cj).abs() < 1e-6,
                    "P {p_w} t {}: Tj {tj} vs {cj}",
                    i as f64 * dt
                );
                assert!(
                    (ts - cs).abs() < 1e-6,
                    "P {p_w} t {}: Ts {ts} vs {cs}",
                    i as f64 * dt
                );
            }
        }
        // After an hour (≈ 4.6 slow time constants) both are within 1.5% of the steady state.
        let (xj, xs) = (p_w * (n.rjs + n.rsa), p_w * n.rsa);
        assert!(((tj - n.ta) / xj - 1.0).abs() < 0.015, "{tj}");
        assert!(((ts - n.ta) / xs - 1.0).abs() < 0.015, "{ts}");
    }
}

#[test]
fn time_constants_are_the_research_files() {
    // τ_j ≈ R_js·C_j = 24 s and τ_s ≈ R_sa·C_s = 13 min, up to the nodes' coupling.
    let (_, _, tau) = closed_form(&network(), 1.0, 0.0);
    let (slow, fast) = (tau[0].max(tau[1]), tau[0].min(tau[1]));
    assert!((fast / 24.0 - 1.0).abs() < 0.05, "fast {fast}");
    assert!((slow / 800.0 - 1.0).abs() < 0.35, "slow {slow}");
    // The junction's fast mode is what a 45-second trip would need: at 10 W it has not
    // reached 95 °C after 45 s with these constants.
    let (tj45, _, _) = closed_form(&network(), 10.0, 45.0);
    assert!(tj45 < 95.0, "{tj45}");
}

#[test]
fn headroom_is_the_platforms_fraction_of_severe() {
    let p = ThermalParams::default();
    let steady =
        |temp: f64| -> VecDeque<(f64, f64)> { (0..30).map(|i| (f64::from(i), temp)).collect() };
    // 1.0 at SEVERE (45 °C), 0 at 30 °C below, one unit per 30 °C.
    assert!((headroom(&steady(45.0), &p) - 1.0).abs() < 1e-12);
    assert_eq!(headroom(&steady(10.0), &p), 0.0);
    assert!((headroom(&steady(40.0), &p) - 25.0 / 30.0).abs() < 1e-12);
    // Rising 0.1 °C/s: the forecast starts at the oldest sample (29 s old) plus 10 s of slope.
    let rising: VecDeque<(f64, f64)> = (0..30)
        .map(|i| (f64::from(i), 35.0 + 0.1 * f64::from(i)))
        .collect();
    assert!((headroom(&rising, &p) - (36.0 - 15.0) / 30.0).abs() < 1e-9);
    let newest = ThermalParams {
        headroom_from_oldest: false,
        ..p.clone()
    };
    assert!((headroom(&rising, &newest) - (37.9 + 1.0 - 15.0) / 30.0).abs() < 1e-9);
    let unsupported = ThermalParams {
        headroom_supported: false,
        ..p
    };
    assert!(headroom(&steady(40.0), &unsupported).is_nan());
}

#[test]
fn the_articles_thresholds_on_the_real_scale_pick_one_thread() {
    let t = [12.0, 7.0, 4.0];
    // The API never returns more than a little above 1 on a working phone.
    for h in [0.0, 0.5, 0.9, 1.0, 1.5, f64::NAN] {
        assert_eq!(article_choice(h, &t, 4), (1, 64), "{h}");
    }
    assert_eq!(article_choice(f64::MAX, &t, 4), (4, 512));
    assert_eq!(article_choice(8.0, &t, 4), (3, 256));
    assert_eq!(article_choice(5.0, &t, 4), (2, 128));
}

#[test]
fn severity_climbs_and_clears_with_hysteresis() {
    let thr = [39.0, 43.0, 45.0, 47.0, 52.0, 55.0];
    assert_eq!(severity(0, 38.9, &thr, 1.9), 0);
    assert_eq!(severity(0, 45.0, &thr, 1.9), 3);
    // SEVERE holds down to 45 − 1.9.
    assert_eq!(severity(3, 43.2, &thr, 1.9), 3);
    assert_eq!(severity(3, 43.0, &thr, 1.9), 2);
    assert_eq!(severity(3, 30.0, &thr, 1.9), 0);
    assert_eq!(severity(0, 60.0, &thr, 1.9), 6);
}

#[test]
fn four_to_two_threads_costs_the_compute_share() {
    // t(n) = share·(4/n) + (1 − share): halving threads multiplies the step by 1 + share.
    for share in [0.2, 0.43, 0.8] {
        let p = ThermalParams {
            decode_compute_share: share,
            ..ThermalParams::default()
        };
        let ph = Phone {
            p: &p,
            mem_speed: 1.0,
        };
        assert!((ph.decode_rate(4, 3.3, 4) - 12.4).abs() < 1e-9);
        let cost = 1.0 - ph.decode_rate(2, 3.3, 4) / ph.decode_rate(4, 3.3, 4);
        assert!(
            (cost - (1.0 - 1.0 / (1.0 + share))).abs() < 1e-12,
            "{share}: {cost}"
        );
        // A thread on a little core paces the whole step (the straggler).
        assert!(ph.decode_rate(4, 3.3, 2) < ph.decode_rate(2, 3.3, 4));
    }
}

#[test]
fn the_ideal_power_cap_holds_skin_at_its_control_temperature() {
    let p = ThermalParams {
        policy: Policy::Naive,
        governor: Governor::PowerCap,
        duration_min: 90.0,
        ..ThermalParams::default()
    };
    let tr = simulate(&p, Policy::Naive, 25.0, Phases([0.5, 0.5]));
    let ts = *tr.ts.last().unwrap();
    assert!((ts - p.ipa_control_c).abs() < 0.3, "{ts}");
    // Steady: the clock stops moving.
    let n = tr.freq.len();
    assert!((tr.freq[n - 1] - tr.freq[n - 600]).abs() < 0.02);
}

#[test]
fn naive_on_tiered_caps_throttles_and_replications_agree() {
    let m = replicate::<Thermal>("policy = \"naive\"\nduration_min = 15", 4, 7);
    assert!((m["peak_tokens_per_s"].mean - 12.4).abs() < 1e-6);
    assert!(m["time_to_first_throttle_s"].mean < 600.0);
    assert!(m["skin_temp_max_c"].mean > 43.0);
    assert!(m["retained_fraction"].mean < 1.0);
    // Same seed, same numbers.
    let again = replicate::<Thermal>("policy = \"naive\"\nduration_min = 15", 4, 7);
    assert_eq!(
        m["tokens_per_s_at_30min"].mean,
        again["tokens_per_s_at_30min"].mean
    );
}

#[test]
fn the_article_as_written_runs_one_thread_all_session() {
    let m = replicate::<Thermal>("duration_min = 10", 3, 1);
    assert_eq!(m["threads_mean"].mean, 1.0);
    assert_eq!(m["max_threads_time_fraction"].mean, 0.0);
    assert!(m["headroom_max"].mean < 1.2);
}

#[test]
fn bad_params_name_the_field() {
    for (src, field) in [
        ("duration_min = 0", "duration_min"),
        ("observe_min = 700", "observe_min"),
        (
            "severity_thresholds_c = [39, 43, 42, 47, 52, 55]",
            "severity_thresholds_c[2]",
        ),
        ("severity_caps_ghz = [3.3]", "severity_caps_ghz"),
        (
            "big_cores_online_at_severe = 9",
            "big_cores_online_at_severe",
        ),
        ("decode_compute_share = 1.5", "decode_compute_share"),
        ("hint_cap_ghz = 5", "hint_cap_ghz"),
        ("policy = \"adaptive\"", "policy"),
        ("r_skin_ambient = 4", "r_skin_ambient"),
    ] {
        let e = check::<Thermal>(&src.parse().unwrap()).unwrap_err();
        assert_eq!(e.path(), field, "{src}: {e}");
    }
}

#[test]
fn the_kernel_checks_its_keys_and_measures_throughput() {
    use crate::real::{Kernel, KernelContext};
    let k = ThermalSustained;
    let t = k.check(&toml::Table::new()).unwrap();
    assert_eq!(t["trials"].as_integer(), Some(3));
    for (src, field) in [
        ("seconds = 0", "seconds"),
        ("trials = 0", "trials"),
        ("sample_ms = 1", "sample_ms"),
        ("window_fraction = 0.9", "window_fraction"),
        ("secs = 3", "secs"),
    ] {
        let e = k.check(&src.parse().unwrap()).unwrap_err();
        assert_eq!(e.path(), field, "{src}: {e}");
    }
    assert!(
        k.available(&toml::Table::new())
            .unwrap()
            .starts_with("CPU workload")
    );
    let progress = |_: &str| {};
    let ctx = KernelContext {
        seed: 1,
        quick: false,
        progress: &progress,
    };
    let real: toml::Table = "seconds = 1\ntrials = 2\nsample_ms = 100".parse().unwrap();
    let r = k.run(&real, &ctx);
    assert!(r.not_run.is_none(), "{:?}", r.not_run);
    let d = &r.metrics["throughput_decay_fraction"];
    assert_eq!(d.n, 2);
    assert!(r.metrics["throughput_first_window_per_s"].value > 0.0);
    assert_eq!(r.series[0].lines.len(), 2);
    assert!(r.environment.contains_key("sensors"));
    // Temperatures only where the machine has sensors.
    assert_eq!(
        r.metrics.contains_key("temp_rise_c"),
        r.series.iter().any(|s| s.id == "real-temperatures")
    );
}
