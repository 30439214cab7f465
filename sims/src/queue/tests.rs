//! The engine validates itself: exact queueing results within 4 standard errors at fixed seeds
//! (formulas from `queueing-golden.json`: Kleinrock vol. 1 for M/M/1 and Erlang C, the
//! Pollaczek-Khinchine formula for M/D/1, Cobham 1954 for non-preemptive priorities).

use std::collections::BTreeMap;

use super::*;
use crate::des::RngStreams;
use crate::stats::Estimate;

/// CI gate suggested by the golden data's authors: |z| ≤ 4 with fixed seeds.
const Z_GATE: f64 = 4.0;
const REPLICATIONS: u32 = 20;

fn table(s: &str) -> toml::Table {
    s.parse().expect("test params are valid TOML")
}

fn estimate(params: &str, seed: u64) -> BTreeMap<String, Estimate> {
    crate::room::testing::replicate::<Queue>(params, REPLICATIONS, seed)
}

fn assert_close(est: &BTreeMap<String, Estimate>, metric: &str, exact: f64) {
    let e = &est[metric];
    let z = (e.mean - exact) / e.std_error();
    assert!(
        z.abs() <= Z_GATE,
        "{metric}: simulated {:.5} ± {:.5} (se) vs exact {exact:.5}, z = {z:.2}",
        e.mean,
        e.std_error()
    );
}

fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0;
    let mut sum = 1.0; // k = 0
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let top = term * a / c as f64 / (1.0 - rho);
    top / (sum + top)
}

#[test]
fn erlang_c_matches_published_values() {
    assert!((erlang_c(8, 5.6) - 0.270603).abs() < 1e-6);
    assert!((erlang_c(8, 7.2) - 0.701533).abs() < 1e-6);
    assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
}

#[test]
fn mm1_rho_half_matches_exact_results() {
    let est = estimate(
        "arrival_rate = 0.5\ncustomers = 100000\nwarmup = 5000",
        1000,
    );
    assert_close(&est, "wait_mean", 1.0);
    assert_close(&est, "sojourn_mean", 2.0);
    assert_close(&est, "p_wait", 0.5);
    assert_close(&est, "utilization", 0.5);
    assert_close(&est, "throughput", 0.5);
    assert_close(&est, "queue_length_mean", 0.5);
    // Sojourn ~ Exp(μ − λ): q_p = −ln(1 − p) / 0.5.
    assert_close(&est, "sojourn_p50", 2.0 * 2f64.ln());
    assert_close(&est, "sojourn_p95", -2.0 * 0.05f64.ln());
    assert_close(&est, "sojourn_p99", -2.0 * 0.01f64.ln());
}

#[test]
fn mm8_erlang_c_at_rho_07() {
    let est = estimate(
        "arrival_rate = 5.6\nservers = 8\ncustomers = 200000\nwarmup = 10000",
        2000,
    );
    let c = erlang_c(8, 5.6);
    assert_close(&est, "p_wait", c);
    assert_close(&est, "wait_mean", c / (8.0 - 5.6));
    assert_close(&est, "utilization", 0.7);
}

#[test]
fn md1_is_pollaczek_khinchine() {
    let est = estimate(
        "arrival_rate = 0.5\nservice = { dist = \"det\", value = 1.0 }\ncustomers = 100000\nwarmup = 5000",
        3000,
    );
    assert_close(&est, "wait_mean", 0.5);
    assert_close(&est, "sojourn_mean", 1.5);
}

#[test]
fn cobham_two_class_non_preemptive_priority() {
    // λ0 = λ1 = 0.4, exponential service mean 1: W0 = 0.8, Wq0 = 4/3, Wq1 = 20/3.
    let est = estimate(
        "arrival_rate = 0.8\nclasses = [0.5, 0.5]\ncustomers = 100000\nwarmup = 10000",
        4000,
    );
    assert_close(&est, "wait_mean_class0", 0.8 / 0.6);
    assert_close(&est, "wait_mean_class1", 0.8 / (0.6 * 0.2));
    // Conservation law: the λ-weighted wait equals FCFS M/M/1's 4.0.
    assert_close(&est, "wait_mean", 4.0);
}

#[test]
fn preemptive_priority_hides_low_class_from_high() {
    // Preemptive-resume: class 0 sees an M/M/1 of its own (λ0 = 0.4): sojourn 1/(1 − 0.4).
    let est = estimate(
        "arrival_rate = 0.8\nclasses = [0.5, 0.5]\npreemptive = true\ncustomers = 100000\nwarmup = 10000",
        5000,
    );
    assert_close(&est, "sojourn_mean_class0", 1.0 / 0.6);
    // Class 1 (preemptive-resume M/G/1, e.g. Kleinrock vol. 2 §3.7):
    // T1 = E[S]/(1 − σ0) + R1/((1 − σ0)(1 − σ1)) with R1 = Σ_{i≤1} λ_i E[S²]/2 = 0.8,
    // so T1 = 1/0.6 + 0.8/(0.6 · 0.2) = 8.333.
    assert_close(&est, "sojourn_mean_class1", 1.0 / 0.6 + 0.8 / 0.12);
}

#[test]
fn timeouts_make_customers_renege() {
    // M/M/1/∞ with deterministic patience at ρ = 0.9: a visible share gives up, and the
    // survivors never waited longer than the patience.
    let est = estimate(
        "arrival_rate = 0.9\ntimeout = 2.0\ncustomers = 20000\nwarmup = 1000",
        6000,
    );
    let r = &est["reneged_fraction"];
    assert!(r.mean > 0.05 && r.mean < 0.5, "reneged {}", r.mean);
    assert!(est["wait_p99"].mean <= 2.0 + 1e-6);
}

#[test]
fn same_seed_same_outcome_different_seed_different_outcome() {
    let t = table("customers = 2000\nwarmup = 100");
    let ctx = |seed| RunContext {
        streams: RngStreams::new(seed, 0, 0),
        point: 0,
        replication: 0,
    };
    let a = crate::room::testing::run_once::<Queue>(&t, &ctx(7)).unwrap();
    let b = crate::room::testing::run_once::<Queue>(&t, &ctx(7)).unwrap();
    let c = crate::room::testing::run_once::<Queue>(&t, &ctx(8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn bad_params_name_the_field() {
    let cases = [
        ("arrival_rate = -1.0", "arrival_rate"),
        ("servers = 0", "servers"),
        ("service = { dist = \"exp\", mean = 0.0 }", "service.mean"),
        ("classes = [0.5, -0.5]", "classes[1]"),
        ("timeout = 0.0", "timeout"),
        ("arival_rate = 1.0", "arival_rate"),
        ("servers = \"two\"", "servers"),
        ("service = { dist = \"gamma\", mean = 1.0 }", "service.dist"),
    ];
    for (src, path) in cases {
        let err = crate::room::testing::check::<Queue>(&table(src)).expect_err(src);
        assert_eq!(err.path(), path, "{src}: {err}");
    }
}

#[test]
fn utilization_gives_the_arrival_rate_and_not_both() {
    use crate::room::parse_params;
    let p = parse_params::<Queue>(&table(
        "servers = 3\nutilization = 0.8\nservice = { dist = \"exp\", mean = 0.5 }",
    ))
    .unwrap();
    assert!((p.arrival_rate - 4.8).abs() < 1e-12, "{}", p.arrival_rate);
    assert!((p.rho() - 0.8).abs() < 1e-12);
    let both = parse_params::<Queue>(&table("utilization = 0.8\narrival_rate = 0.5"))
        .unwrap_err()
        .to_string();
    assert!(both.contains("not both"), "{both}");
    let bad = parse_params::<Queue>(&table("utilization = -1"))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("utilization"), "{bad}");
}
