//! `lab compare`: seeds alone change nothing; a real change is flagged.

use crate::util::*;

fn run(t: &std::path::Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let out = t.join(name);
    let f = fixture("mini.toml");
    let mut args = vec!["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    lab(t, &args).expect_code(0);
    out
}

/// `lab compare a b [extra...]` run in `t`.
fn compare(t: &std::path::Path, a: &std::path::Path, b: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec!["compare", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    lab(t, &args)
}

#[test]
fn different_seeds_show_no_change() {
    let t = tempdir();
    let a = run(t.path(), "a", &["--seed", "1"]);
    let b = run(t.path(), "b", &["--seed", "2"]);
    let r = compare(t.path(), &a, &b, &["--fail-on-regression"]).expect_code(0);
    assert!(r.stdout.contains("no change"), "{}", r.stdout);
    assert!(!r.stdout.contains("| regressed |"), "{}", r.stdout);
    assert!(!r.stdout.contains("| improved |"), "{}", r.stdout);
    assert!(b.join("compare.md").is_file() && b.join("compare.html").is_file());
}

#[test]
fn a_higher_arrival_rate_is_flagged_as_a_regression() {
    let t = tempdir();
    let a = run(t.path(), "a", &["--set", "arrival_rate=0.5"]);
    let b = run(t.path(), "b", &["--set", "arrival_rate=0.7"]);
    // Runs of different parameters are refused, naming the parameter...
    let r = compare(t.path(), &a, &b, &[]).expect_code(1);
    assert!(
        r.stderr.contains("parameters differ: arrival_rate")
            && r.stderr.contains("--allow-different"),
        "{}",
        r.stderr
    );
    // ... unless asked for.
    let r = compare(t.path(), &a, &b, &["--allow-different"]).expect_code(0);
    assert!(r.stdout.contains("| wait_mean |"), "{}", r.stdout);
    assert!(r.stdout.contains("regressed"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("different parameters in A and B: arrival_rate"),
        "{}",
        r.stdout
    );
    // Regressions come first.
    let first_call = r
        .stdout
        .lines()
        .find(|l| l.contains("| wait_mean |") || l.contains("| sojourn"))
        .unwrap_or_default();
    assert!(first_call.contains("regressed"), "{}", r.stdout);
    // With --fail-on-regression the same comparison fails (status 3).
    compare(
        t.path(),
        &a,
        &b,
        &["--allow-different", "--fail-on-regression"],
    )
    .expect_code(3);
}

#[test]
fn a_quick_run_is_not_compared_with_a_full_one() {
    let t = tempdir();
    let a = run(t.path(), "a", &[]);
    let b = run(t.path(), "b", &["--quick"]);
    let r = compare(t.path(), &a, &b, &[]).expect_code(1);
    assert!(
        r.stderr.contains("A is a full run, B is --quick"),
        "{}",
        r.stderr
    );
    let r = compare(t.path(), &a, &b, &["--allow-different"]).expect_code(0);
    assert!(
        r.stdout.contains("full run") && r.stdout.contains("--quick"),
        "{}",
        r.stdout
    );
    // p-values are short.
    assert!(
        !r.stdout
            .split('|')
            .any(|c| c.trim().starts_with("0.") && c.trim().len() > 8),
        "{}",
        r.stdout
    );
}

#[test]
fn compare_rejects_a_directory_without_results() {
    let t = tempdir();
    let r = compare(t.path(), t.path(), t.path(), &[]).expect_code(1);
    assert!(r.stderr.contains("no summary.json"), "{}", r.stderr);
}

#[test]
fn single_replication_runs_are_not_testable_not_regressions() {
    let t = tempdir();
    let a = run(t.path(), "a", &["--seed", "1", "--replications", "1"]);
    let b = run(t.path(), "b", &["--seed", "2", "--replications", "1"]);
    let r = compare(t.path(), &a, &b, &["--fail-on-regression"]).expect_code(0);
    assert!(r.stdout.contains("not testable"), "{}", r.stdout);
}

#[test]
fn runs_with_no_scenario_in_common_or_another_schema_are_refused() {
    let t = tempdir();
    let a = run(t.path(), "a", &[]);
    // B holds the same run under another scenario id: nothing in common.
    let b = t.path().join("b");
    std::fs::create_dir_all(b.join("other")).unwrap();
    let text = std::fs::read_to_string(a.join("mini/summary.json")).unwrap();
    let other = text.replacen("\"id\": \"mini\"", "\"id\": \"other\"", 1);
    assert_ne!(
        text, other,
        "the fixture's id is where this test expects it"
    );
    std::fs::write(b.join("other/summary.json"), other).unwrap();
    let r = compare(t.path(), &a, &b, &["--fail-on-regression"]).expect_code(1);
    assert!(
        r.stderr
            .contains("no scenario in common (A: mini; B: other)"),
        "{}",
        r.stderr
    );
    // A summary of a schema this lab does not know is not read as if it were.
    let future = text.replacen("\"schema\": 1", "\"schema\": 99", 1);
    assert_ne!(text, future);
    std::fs::write(b.join("other/summary.json"), future).unwrap();
    let r = compare(t.path(), &a, &b, &[]).expect_code(1);
    assert!(r.stderr.contains("summary schema 99"), "{}", r.stderr);
}

#[test]
fn a_run_whose_robustness_budget_cut_probes_is_not_compared_with_one_that_did_not() {
    let t = tempdir();
    let a = run(t.path(), "a", &[]);
    // B: the same run, as if a tighter budget had left a probe out.
    let b = run(t.path(), "b", &[]);
    let f = b.join("mini").join("summary.json");
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    s["provenance"]["robustness"] = serde_json::json!({
        "replications": 4, "work_s": 1.0, "plain_work_s": 1.0, "ratio": 1.0,
        "settled_by_screens": 0, "full_probes": 1, "budget_ratio": 3.0,
        "skipped": ["arrival_rate = 0.9 at point 0"]
    });
    std::fs::write(&f, serde_json::to_string_pretty(&s).unwrap()).unwrap();
    let r = compare(t.path(), &a, &b, &[]).expect_code(1);
    assert!(
        r.stderr.contains("robustness budgets differ (A: none, 0 probes left out; B: 3x the plain run, 1 left out)"),
        "{}",
        r.stderr
    );
    compare(t.path(), &a, &b, &["--allow-different"]).expect_code(0);
}
