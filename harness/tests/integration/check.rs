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

#[test]
fn tail_sampling_decide_reproduces_both_invert_modes() {
    let cfg = root().join("datasets/otel/article-01.yaml");
    let traces = root().join("datasets/otel/sample-traces.jsonl");
    let decide = |mode: &str| -> Vec<(String, String)> {
        let r = lab(
            &root(),
            &[
                "tail-sampling",
                "decide",
                "--config",
                cfg.to_str().unwrap(),
                "--traces",
                traces.to_str().unwrap(),
                "--invert-mode",
                mode,
            ],
        )
        .expect_code(0);
        r.stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["final"].as_str().unwrap().to_string(),
                    v["policy"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let legacy = decide("legacy");
    // Error on /health (line 5): the invert veto beats the error policy.
    assert_eq!(
        legacy[4],
        ("not_sampled".into(), "high-cardinality-filter".into())
    );
    // Error on /api/v1/healthcare (line 6): the unanchored regex vetoes it too.
    assert_eq!(legacy[5].0, "not_sampled");
    let plain = decide("plain");
    // Plain: a normal request without a probe path is always sampled (line 1).
    assert_eq!(
        plain[0],
        ("sampled".into(), "high-cardinality-filter".into())
    );
    assert_eq!(plain[4].0, "sampled");
    // The fix drops probes on either key.
    let fix = root().join("datasets/otel/drop-health-fix.yaml");
    let r = lab(
        &root(),
        &[
            "tail-sampling",
            "decide",
            "--config",
            fix.to_str().unwrap(),
            "--traces",
            traces.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let finals: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["final"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(finals[3], "dropped");
    assert_eq!(finals[7], "dropped");
    assert_eq!(finals[5], "sampled");
}

#[test]
fn tail_sampling_decide_rejects_bad_input() {
    let t = tempdir();
    let traces = root().join("datasets/otel/sample-traces.jsonl");
    let bad_cfg = write(
        t.path(),
        "c.yaml",
        "policies:\n  - {name: x, type: status_code, status_code: {status_codes: [BROKEN]}}\n",
    );
    let r = lab(
        t.path(),
        &[
            "tail-sampling",
            "decide",
            "--config",
            &bad_cfg,
            "--traces",
            traces.to_str().unwrap(),
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("policies[0].status_code.status_codes[0]"),
        "{}",
        r.stderr
    );
    let cfg = root().join("datasets/otel/article-01.yaml");
    let bad_tr = write(
        t.path(),
        "t.jsonl",
        "{\"trace_id_hex\": \"zz\", \"spans\": []}\n",
    );
    let r = lab(
        t.path(),
        &[
            "tail-sampling",
            "decide",
            "--config",
            cfg.to_str().unwrap(),
            "--traces",
            &bad_tr,
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("t.jsonl:1") && r.stderr.contains("32 hex digits"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn tail_sampling_decide_shares_rate_budgets_across_the_traces_of_a_call() {
    let t = tempdir();
    let cfg = write(
        t.path(),
        "c.yaml",
        "policies:\n  - {name: limit, type: rate_limiting, rate_limiting: {spans_per_second: 5}}\n",
    );
    // Three 2-span traces decided in the same second, then one a second later.
    let line = |id: u32, end_s: u64| {
        format!(
            "{{\"trace_id_hex\": \"{id:032x}\", \"spans\": [{{\"start_ns\": 0, \"end_ns\": {e}}}, {{\"start_ns\": 0, \"end_ns\": {e}}}]}}\n",
            e = end_s * 1_000_000_000
        )
    };
    let traces = write(
        t.path(),
        "t.jsonl",
        &[line(1, 100), line(2, 100), line(3, 100), line(4, 101)].concat(),
    );
    let r = lab(
        t.path(),
        &[
            "tail-sampling",
            "decide",
            "--config",
            &cfg,
            "--traces",
            &traces,
            "--collector-version",
            "0.150.0",
        ],
    )
    .expect_code(0);
    let finals: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["final"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // 2 + 2 < 5 fit; a third would reach 6; the next second starts afresh.
    assert_eq!(finals, ["sampled", "sampled", "not_sampled", "sampled"]);
    // An OTTL condition outside the subset is refused with its path and column.
    let bad = write(
        t.path(),
        "o.yaml",
        "policies:\n  - {name: o, type: ottl_condition, ottl_condition: {span: ['duration > 5']}}\n",
    );
    let r = lab(
        t.path(),
        &[
            "tail-sampling",
            "decide",
            "--config",
            &bad,
            "--traces",
            &traces,
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("policies[0].ottl_condition.span[0]") && r.stderr.contains("column 1"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_range_of_three_values_is_refused_where_two_are_expected() {
    let t = tempdir();
    let base = r#"
[scenario]
id = "pairs"
sim = "queue"

[params]
arrival_rate = 0.5
customers = 1000

[sources]
arrival_rate = { kind = "assumed", range = RANGE }

[[claims]]
id = "c"
text = "t"
metric = "wait_mean"
expect = { between = BETWEEN }
"#;
    let f = |range: &str, between: &str| {
        write(
            t.path(),
            "s.toml",
            &base.replace("RANGE", range).replace("BETWEEN", between),
        )
    };
    lab(t.path(), &["check", &f("[0.1, 0.9]", "[1, 2]")]).expect_code(0);
    for (range, between, field) in [
        ("[0.1, 0.9]", "[1, 2, 3]", "claims[0].expect.between"),
        ("[0.1, 0.5, 0.9]", "[1, 2]", "sources.arrival_rate.range"),
        ("[0.1, 0.9]", "[1]", "claims[0].expect.between"),
    ] {
        let r = lab(t.path(), &["check", &f(range, between)]).expect_code(1);
        assert!(
            r.stderr.contains(field) && r.stderr.contains("expected two numbers, [low, high]"),
            "{range} {between}: {}",
            r.stderr
        );
    }
}

#[test]
fn hw_removes_the_throwaway_clusters_of_dead_runs_and_nothing_else() {
    let t = tempdir();
    let tmp = t.path();
    // A dead run's cluster directory whose postmaster.pid names a live process (this test)
    // but another data directory: the directory goes, the process is never signalled.
    let dead = tmp.join("claimlab-pg-999999999-0");
    std::fs::create_dir_all(dead.join("data")).unwrap();
    std::fs::write(
        dead.join("data/postmaster.pid"),
        format!("{}\n/somewhere/else\n", std::process::id()),
    )
    .unwrap();
    // A live run's (this process's pid) is left alone.
    let live = tmp.join(format!("claimlab-pg-{}-0", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    let r = lab_env(tmp, &["hw", "--json"], &[("TMPDIR", tmp.to_str().unwrap())]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let removed = v["stale_clusters_removed"].as_array().unwrap();
    if cfg!(feature = "postgres") {
        assert_eq!(removed.len(), 1, "{v}");
        assert!(
            removed[0]
                .as_str()
                .unwrap()
                .contains("owner pid 999999999 gone")
        );
        assert!(!removed[0].as_str().unwrap().contains("stopped"), "{v}");
        assert!(!dead.exists());
    }
    assert!(live.exists());
}

#[test]
fn lab_new_writes_a_template_that_checks_for_every_simulation() {
    let t = tempdir();
    let names: Vec<&str> = sims::registry::SIMULATIONS
        .iter()
        .map(|s| s.name())
        .collect();
    for name in names {
        let f = t.path().join(format!("{name}.toml"));
        lab(
            t.path(),
            &[
                "new",
                name,
                "--claim",
                "our \"own\" claim",
                "--out",
                f.to_str().unwrap(),
            ],
        )
        .expect_code(0);
        let r = lab(t.path(), &["check", f.to_str().unwrap()]);
        assert_eq!(
            r.code,
            0,
            "{name}: {}\n{}",
            r.stderr,
            std::fs::read_to_string(&f).unwrap()
        );
        // Never overwritten.
        lab(t.path(), &["new", name, "--out", f.to_str().unwrap()]).expect_code(1);
    }
    let r = lab(t.path(), &["new", "queu"]).expect_code(1);
    assert!(r.stderr.contains("did you mean `queue`?"), "{}", r.stderr);
}
