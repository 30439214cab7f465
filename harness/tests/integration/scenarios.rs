//! The scenarios are the test of record: every file in scenarios/ checks and runs in --quick.

use crate::util::*;

#[test]
fn every_scenario_checks_without_a_warning() {
    let r = lab(&root(), &["check", "scenarios"]).expect_code(0);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// Whether two verdicts of record say opposite things.
fn contradict(a: &str, b: &str) -> bool {
    matches!((a, b), ("holds", "fails") | ("fails", "holds"))
}

#[test]
fn every_scenario_runs_quick_and_writes_a_report() {
    let t = tempdir();
    let out = t.path().join("quick");
    let r = lab(
        &root(),
        &[
            "run",
            "scenarios",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .collect();
    let dirs: Vec<String> = entries(&out)
        .into_iter()
        .filter(|d| out.join(d).is_dir())
        .collect();
    assert_eq!(dirs.len(), files.len(), "{dirs:?}\n{}", r.stdout);
    // CI names the services it provides (CLAIMLAB_REQUIRE_REAL=postgres): their kernels must run.
    let required = std::env::var("CLAIMLAB_REQUIRE_REAL").unwrap_or_default();
    for d in dirs {
        let s = summary(&out.join(&d));
        assert_eq!(s["provenance"]["quick"], true);
        // No interval leaves its metric's range.
        let sim = sims::registry::find(s["scenario"]["sim"].as_str().unwrap()).unwrap();
        for p in s["points"].as_array().unwrap() {
            for (name, e) in p["metrics"].as_object().unwrap() {
                let (lo, hi) = sim.metric_def(name).unwrap().range();
                let [a, b] = [
                    e["ci95"][0].as_f64().unwrap(),
                    e["ci95"][1].as_f64().unwrap(),
                ];
                assert!(
                    lo <= a && a <= b && b <= hi,
                    "{d}: point {}: {name} interval [{a}, {b}] leaves [{lo}, {hi}]",
                    p["index"]
                );
            }
        }
        // Every claim has one verdict of record, and a preview never contradicts the
        // baseline's (it may be less certain, never opposite).
        let records = s["verdicts"].as_array().unwrap();
        let ids: std::collections::BTreeSet<&str> = s["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            records.len(),
            ids.len(),
            "{d}: one verdict of record per claim"
        );
        let base = root()
            .join("reports/baseline")
            .join(&d)
            .join("summary.json");
        let base: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
        for v in records {
            let Some(b) = base["verdicts"]
                .as_array()
                .and_then(|a| a.iter().find(|b| b["id"] == v["id"]))
            else {
                panic!(
                    "{d}: claim {} has no verdict of record in the baseline",
                    v["id"]
                );
            };
            let (q, f) = (
                v["verdict"].as_str().unwrap(),
                b["verdict"].as_str().unwrap(),
            );
            assert!(
                !contradict(q, f),
                "{d}: claim {} is {q} in --quick and {f} in the baseline: {}",
                v["id"],
                v["reason"]
            );
        }
        assert!(out.join(&d).join("report.html").is_file());
        if let Some(real) = s["real"].as_array().and_then(|a| a.first()) {
            let kernel = real["kernel"].as_str().unwrap();
            let service = kernel.split('_').next().unwrap().replace("pg", "postgres");
            // The hashing kernel needs no service and is built by default: it must run.
            if required.split(',').any(|k| k == service) || kernel == "build_cache_fingerprints" {
                assert_eq!(real["status"], "ok", "{d}: {real}");
            }
        }
    }
}

#[test]
fn draft_scenarios_check() {
    lab(&root(), &["check", "scenarios/draft"]).expect_code(0);
}
