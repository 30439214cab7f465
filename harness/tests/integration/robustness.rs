//! The robustness pass's cost: screens settle the ends far from a claim's threshold, the full
//! replications run only where a screen cannot, and the summary says what the pass cost.

use crate::util::*;

/// An M/M/1 queue (service mean 1 s, mean wait in queue λ/(1 − λ)) whose arrival rate is an
/// assumption with `range`, and `claims`.
fn mm1(range: &str, claims: &str) -> String {
    format!(
        r#"
[scenario]
id = "mm1"
sim = "queue"
seed = 3
replications = 8

[params]
arrival_rate = 0.6
customers = 60000
warmup = 5000

[sources]
"service.mean" = {{ kind = "sourced", ref = "mu = 1" }}
arrival_rate = {{ kind = "assumed", range = {range}, note = "a plausible load" }}
{claims}
"#
    )
}

fn run(toml: &str) -> serde_json::Value {
    let t = tempdir();
    let f = write(t.path(), "s.toml", toml);
    let out = t.path().join("out");
    lab(
        t.path(),
        &["run", f.as_str(), "--out", out.to_str().unwrap()],
    )
    .expect_code(0);
    let s = summary(&out.join("mm1"));
    let report = std::fs::read_to_string(out.join("mm1").join("report.md")).unwrap();
    assert!(
        report.contains("the plain run's work"),
        "the report states the pass's cost: {report}"
    );
    s
}

#[test]
fn ends_far_from_the_threshold_are_settled_by_their_screens() {
    // W_q is 1 s at 0.5 and 4 s at 0.8, far under 10 s: two replications of each end say so.
    let s = run(&mm1(
        "[0.5, 0.8]",
        "[[claims]]\nid = \"w\"\ntext = \"waits under 10 s\"\nmetric = \"wait_mean\"\nexpect = { lt = 10.0 }\n",
    ));
    let v = &s["verdicts"][0];
    assert_eq!(v["verdict"], "holds", "{v}");
    assert_eq!(
        v["depends_on"][0]["verdicts"],
        serde_json::json!(["holds", "holds", "holds"])
    );
    let c = &s["provenance"]["robustness"];
    assert_eq!(c["full_probes"], 0, "{c}");
    assert_eq!(c["settled_by_screens"], 2, "{c}");
    // A quarter of 8 replications at each end.
    assert_eq!(c["replications"], 4, "{c}");
    assert_eq!(s["provenance"]["probe_replications"], 4);
    assert!(c["ratio"].as_f64().unwrap() < 1.0, "{c}");
}

#[test]
fn an_end_near_the_threshold_runs_in_full_and_finds_the_dependence() {
    // W_q(0.3) = 0.43 s is far under 4.5 s (settled by its screen); W_q(0.82) = 4.56 s is near
    // it: the full replications decide, and the verdict depends on the arrival rate.
    let s = run(&mm1(
        "[0.3, 0.82]",
        "[[claims]]\nid = \"w\"\ntext = \"waits under 4.5 s\"\nmetric = \"wait_mean\"\nexpect = { lt = 4.5 }\n",
    ));
    let v = &s["verdicts"][0];
    assert_eq!(v["verdict"], "depends", "{v}");
    let d = &v["depends_on"][0];
    assert_eq!(d["verdicts"][0], "holds", "{d}");
    assert_ne!(d["verdicts"][2], "holds", "{d}");
    // 4.5 = λ/(1 − λ) at λ = 0.818; the flip point is where the interval leaves the range.
    let f = d["flips_at"].as_f64().unwrap();
    assert!((0.78..0.83).contains(&f), "{d}");
    let c = &s["provenance"]["robustness"];
    assert!(c["full_probes"].as_u64().unwrap() >= 1, "{c}");
    assert!(c["settled_by_screens"].as_u64().unwrap() >= 1, "{c}");
    assert!(c.get("skipped").is_none(), "{c}");
}

#[test]
fn the_budget_is_a_flag_recorded_with_the_run() {
    let t = tempdir();
    let toml = mm1(
        "[0.5, 0.8]",
        "[[claims]]\nid = \"w\"\ntext = \"waits under 10 s\"\nmetric = \"wait_mean\"\nexpect = { lt = 10.0 }\n",
    );
    let f = write(t.path(), "s.toml", &toml);
    let out = t.path().join("out");
    let args = |b: &'static str| {
        [
            "run",
            f.as_str(),
            "--out",
            out.to_str().unwrap(),
            "--robustness-budget",
            b,
        ]
    };
    let r = lab(t.path(), &args("0")).expect_code(1);
    assert!(
        r.stderr.contains("--robustness-budget") && r.stderr.contains("above 0"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing written for a refused flag");
    lab(t.path(), &args("inf")).expect_code(0);
    let s = summary(&out.join("mm1"));
    let c = &s["provenance"]["robustness"];
    assert!(c["budget_ratio"].is_null(), "no budget: {c}");
    // The journal keeps the flag for `lab merge`, and the run reads back (compare, report).
    let units = std::fs::read_to_string(out.join("mm1").join("units.jsonl")).unwrap();
    assert!(
        units
            .lines()
            .next()
            .unwrap()
            .contains("\"robustness_budget\""),
        "{units}"
    );
    lab(t.path(), &["report", out.to_str().unwrap()]).expect_code(0);
}

#[test]
fn ends_a_tight_budget_leaves_out_are_unchecked_never_stable() {
    // W_q(0.82) = 4.56 s sits near 4.5 s: with a budget of a hundredth of the plain run, the
    // ends are not all run, and the claim must say so instead of calling them stable.
    let t = tempdir();
    let toml = mm1(
        "[0.3, 0.82]",
        "[[claims]]\nid = \"w\"\ntext = \"waits under 4.5 s\"\nmetric = \"wait_mean\"\nexpect = { lt = 4.5 }\n",
    );
    let f = write(t.path(), "s.toml", &toml);
    let out = t.path().join("out");
    let r = lab(
        t.path(),
        &[
            "run",
            f.as_str(),
            "--out",
            out.to_str().unwrap(),
            "--robustness-budget",
            "0.01",
        ],
    )
    .expect_code(0);
    let s = summary(&out.join("mm1"));
    let v = &s["verdicts"][0];
    let d = &v["depends_on"][0];
    assert!(
        d["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "not_run"),
        "an unchecked end is not_run: {d}"
    );
    assert_ne!(v["verdict"], "depends", "no flip was seen: {v}");
    assert!(v["reason"].as_str().unwrap().contains("unchecked"), "{v}");
    let c = &s["provenance"]["robustness"];
    assert_eq!(c["budget_ratio"], 0.01, "{c}");
    assert!(!c["skipped"].as_array().unwrap().is_empty(), "{c}");
    let report = std::fs::read_to_string(out.join("mm1").join("report.md")).unwrap();
    assert!(
        report.contains("unchecked (the robustness budget ran out): arrival_rate")
            && !report.contains("stable across the range of arrival_rate"),
        "{report}"
    );
    // The terminal line says so beneath the verdict.
    assert!(
        r.stdout
            .contains("unchecked (the robustness budget ran out)"),
        "{}",
        r.stdout
    );
}
