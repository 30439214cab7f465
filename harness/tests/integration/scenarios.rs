//! The scenarios are the test of record: every file in scenarios/ checks and runs in --quick.

use crate::util::*;

#[test]
fn every_scenario_checks() {
    lab(&root(), &["check", "scenarios"]).expect_code(0);
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
    let dirs = entries(&out);
    assert_eq!(dirs.len(), files.len(), "{dirs:?}\n{}", r.stdout);
    // CI names the services it provides (CLAIMLAB_REQUIRE_REAL=postgres): their kernels must run.
    let required = std::env::var("CLAIMLAB_REQUIRE_REAL").unwrap_or_default();
    for d in dirs {
        let s = summary(&out.join(&d));
        assert_eq!(s["provenance"]["quick"], true);
        assert!(out.join(&d).join("report.html").is_file());
        if let Some(real) = s["real"].as_array().and_then(|a| a.first()) {
            let kernel = real["kernel"].as_str().unwrap();
            let service = kernel.split('_').next().unwrap().replace("pg", "postgres");
            if required.split(',').any(|k| k == service) {
                assert_eq!(real["status"], "ok", "{d}: {real}");
            }
        }
    }
}
