//! `lab check`, `lab list`, `lab hw`.

use crate::util::*;

#[test]
fn check_accepts_the_fixture_and_reports_its_shape() {
    let t = tempdir();
    let f = fixture("mini.toml");
    let r = lab(t.path(), &["check", f.to_str().unwrap()]).expect_code(0);
    assert!(r.stdout.contains("ok"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("2 points x 6 replications, 2 claims, 1 charts"),
        "{}",
        r.stdout
    );
}

#[test]
fn list_names_every_sim_and_the_scenarios() {
    let r = lab(&root(), &["list"]).expect_code(0);
    assert!(r.stdout.contains("sim       queue"), "{}", r.stdout);
    assert!(r.stdout.contains("scenario  queueing"), "{}", r.stdout);
    let j = lab(&root(), &["list", "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert!(
        v["sims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "queue")
    );
}

#[test]
fn hw_reports_cpu_and_memory() {
    let r = lab(&root(), &["hw", "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["logical_cpus"].as_u64().unwrap() >= 1);
    assert!(v["memory_gib"].as_f64().unwrap() > 0.0);
    let text = lab(&root(), &["hw"]).expect_code(0);
    for k in ["cpu", "memory", "gpu", "thermal", "postgresql"] {
        assert!(text.stdout.contains(k), "{k} missing:\n{}", text.stdout);
    }
}

#[test]
fn ab_calculators_match_the_closed_forms_and_validate() {
    let t = tempdir();
    let r = lab(
        t.path(),
        &[
            "ab",
            "sample-size",
            "--cv",
            "3",
            "--lift",
            "0.10",
            "--power",
            "0.8",
            "--alpha",
            "0.05",
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("n per arm: 14,129"), "{}", r.stdout);
    let r = lab(
        t.path(),
        &[
            "ab",
            "sample-size",
            "--lift",
            "0.2",
            "--baseline-rate",
            "0.032",
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("13,01"), "{}", r.stdout);
    let r = lab(
        t.path(),
        &["ab", "boundaries", "--looks", "5", "--design", "obf"],
    )
    .expect_code(0);
    assert!(
        r.stdout.contains("4.5617") && r.stdout.contains("2.0401"),
        "{}",
        r.stdout
    );
    let r = lab(
        t.path(),
        &["ab", "boundaries", "--looks", "4", "--design", "pocock"],
    )
    .expect_code(0);
    assert!(r.stdout.contains("2.361"), "{}", r.stdout);
    for bad in [
        vec!["ab", "sample-size", "--cv", "3", "--lift", "0"],
        vec![
            "ab",
            "sample-size",
            "--cv",
            "3",
            "--lift",
            "0.1",
            "--power",
            "1",
        ],
        vec!["ab", "sample-size", "--cv", "-1", "--lift", "0.1"],
        vec![
            "ab",
            "sample-size",
            "--lift",
            "0.1",
            "--baseline-rate",
            "1.5",
        ],
        vec!["ab", "boundaries", "--looks", "0"],
        vec!["ab", "boundaries", "--looks", "3", "--design", "sprt"],
        vec!["ab", "sample-size", "--lift", "0.1"],
    ] {
        let r = lab(t.path(), &bad).expect_code(1);
        assert!(r.stderr.contains("error"), "{bad:?}: {}", r.stderr);
    }
}
