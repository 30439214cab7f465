//! Monte Carlo against exact values, within 4 standard errors at fixed seeds.

use super::*;
use crate::stats::Estimate;

const Z_GATE: f64 = 4.0;

fn table(s: &str) -> toml::Table {
    s.parse().expect("valid TOML")
}

/// Estimates `metric` over `reps` replications.
fn estimate(params: &str, metric: &str, reps: u32, seed: u64) -> Estimate {
    crate::room::testing::replicate::<AbTesting>(params, reps, seed)
        .remove(metric)
        .unwrap_or_else(|| panic!("{metric} not produced"))
}

fn assert_close(e: &Estimate, exact: f64, what: &str) {
    let z = (e.mean - exact) / e.std_error().max(1e-12);
    assert!(
        z.abs() <= Z_GATE,
        "{what}: {:.5} ± {:.5} vs {exact:.5} (z = {z:.2})",
        e.mean,
        e.std_error()
    );
}

#[test]
fn peeking_reproduces_the_repeated_testing_table() {
    // Brownian-motion model (normal outcome, known variance), K = 5 and 20 looks at |z| ≥ 1.96:
    // exact 0.14169 and 0.24791 (Armitage, McPherson & Rowe 1969, recomputed).
    for (k, exact) in [(5, 0.14169), (20, 0.24791)] {
        let e = estimate(
            &format!(
                "outcome = \"normal\"\ndesign = \"peeking\"\nlooks = {k}\nusers_per_arm = 2000\nexperiments = 5000"
            ),
            "false_positive_rate",
            8,
            11,
        );
        assert_close(&e, exact, &format!("peeking K={k}"));
    }
}

#[test]
fn sequential_designs_keep_alpha() {
    for design in ["obf", "pocock", "ld_obf"] {
        let e = estimate(
            &format!(
                "outcome = \"normal\"\ndesign = \"{design}\"\nlooks = 5\nusers_per_arm = 2000\nexperiments = 5000"
            ),
            "false_positive_rate",
            8,
            12,
        );
        assert_close(&e, 0.05, design);
    }
}

#[test]
fn power_at_the_formula_sample_size_is_80_percent() {
    // p = 10%, fixed price: CV = 3; a 10% lift via conversion 10% → 11%.
    let n = closed_form::n_per_arm_t(3.0, 0.10, 0.05, 0.8);
    let e = estimate(
        &format!(
            "conversion_a = 0.10\nconversion_b = 0.11\nusers_per_arm = {n}\nexperiments = 1000"
        ),
        "power",
        8,
        13,
    );
    assert_close(&e, 0.8, "power at n");
}

#[test]
fn revenue_per_user_follows_conversion_and_price() {
    let e = estimate(
        "conversion_b = 0.058\ndiscount_b = 0.5\nexperiments = 200",
        "rpu_a",
        4,
        14,
    );
    assert!((e.mean - 1.92).abs() < 0.02, "{e:?}");
    let b = estimate(
        "conversion_b = 0.058\ndiscount_b = 0.5\nexperiments = 200",
        "rpu_b",
        4,
        14,
    );
    assert!((b.mean - 1.74).abs() < 0.02, "{b:?}");
}

#[test]
fn session_assignment_dilutes_the_effect() {
    let user = estimate(
        "conversion_b = 0.058\ndiscount_b = 0.5\nusers_per_arm = 20000\nexperiments = 200",
        "power",
        4,
        15,
    );
    let session = estimate(
        "conversion_b = 0.058\ndiscount_b = 0.5\nusers_per_arm = 20000\nexperiments = 200\nassignment = \"session\"\nsessions_per_user = 3.0",
        "power",
        4,
        15,
    );
    assert!(
        session.mean < user.mean - 0.1,
        "session {} vs user {}",
        session.mean,
        user.mean
    );
}

#[test]
fn flat_bayesian_rule_peeks_like_a_z_test() {
    let bayes = estimate(
        "outcome = \"normal\"\ndesign = \"bayes\"\nlooks = 5\nexperiments = 4000",
        "false_positive_rate",
        8,
        16,
    );
    assert_close(&bayes, 0.14169, "flat-prior Bayes at 5 looks");
}

#[test]
fn bad_params_name_the_field() {
    for (src, path) in [
        ("conversion_a = 1.5", "conversion_a"),
        ("looks = 0", "looks"),
        ("alpha = 1.0", "alpha"),
        ("design = \"sprt\"", "design"),
        ("sessions_per_user = 0.5", "sessions_per_user"),
        ("mde_lift = 0.0", "mde_lift"),
    ] {
        let e = crate::room::testing::check::<AbTesting>(&table(src)).expect_err(src);
        assert_eq!(e.path(), path, "{src}: {e}");
    }
}

#[test]
fn renewals_raise_revenue_per_user_by_the_expected_periods() {
    // 12 monthly periods at 80% renewal: E[K] = (1 − 0.8^12)/0.2 = 4.656.
    let params = "renewal_rate = 0.8\nltv_periods = 12\nexperiments = 200";
    let p = crate::room::parse_params::<AbTesting>(&table(params)).unwrap();
    assert!((p.expected_periods() - 4.6563).abs() < 1e-3);
    let e = estimate(params, "rpu_a", 4, 17);
    let exact = 0.032 * 60.0 * p.expected_periods();
    assert!(
        (e.mean - exact).abs() / exact < 0.01,
        "{} vs {exact}",
        e.mean
    );
}
