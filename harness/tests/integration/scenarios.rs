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
    for d in dirs {
        let s = summary(&out.join(&d));
        assert_eq!(s["provenance"]["quick"], true);
        assert!(out.join(&d).join("report.html").is_file());
    }
}
