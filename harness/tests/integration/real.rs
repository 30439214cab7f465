//! Real kernels through `lab run`: the PostgreSQL kernel against a throwaway cluster, and what
//! happens when a kernel cannot or must not run.
//!
//! Where PostgreSQL's server binaries are installed (CI installs them and sets
//! `CLAIMLAB_REQUIRE_REAL=postgres`), the kernel must run; elsewhere it must say why not.

use crate::util::*;

pub(crate) fn postgres_present() -> bool {
    let r = lab(&root(), &["hw", "--json"]).expect_code(0);
    let hw: serde_json::Value = serde_json::from_str(&r.stdout).expect("hw --json");
    hw["kernels"]
        .as_array()
        .expect("kernels")
        .iter()
        .any(|k| k["kernel"] == "pg_idempotency" && k["available"] == true)
}

pub(crate) fn required() -> bool {
    std::env::var("CLAIMLAB_REQUIRE_REAL").is_ok_and(|v| v.split(',').any(|k| k == "postgres"))
}

#[test]
fn postgres_kernel_runs_calibrates_and_is_judged() {
    let present = postgres_present();
    assert!(
        present || !required(),
        "CLAIMLAB_REQUIRE_REAL=postgres but `lab hw` finds no PostgreSQL server binaries"
    );
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("real-pg.toml");
    let mode = if present { "require" } else { "auto" };
    lab(
        &root(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--real",
            mode,
        ],
    )
    .expect_code(0);
    let s = summary(&out.join("real-pg"));
    let real = &s["real"][0];
    assert_eq!(real["kernel"], "pg_idempotency");
    let claim = |id: &str| {
        s["claims"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    if !present {
        assert_eq!(real["status"], "not_run", "{real}");
        assert!(
            real["reason"].as_str().unwrap().contains("PostgreSQL"),
            "{real}"
        );
        for id in ["one-charge", "charged-once-share", "model-matches"] {
            assert_eq!(claim(id)["verdict"], "not_run");
        }
        return;
    }
    assert_eq!(real["status"], "ok", "{real}");
    let m = &real["metrics"];
    let n = |k: &str| real["n"][k].as_u64().unwrap_or(0);
    let exact = |k: &str| real["exact"].as_array().unwrap().iter().any(|x| x == k);
    let ci = |k: &str| {
        let c = real["ci95"][k]
            .as_array()
            .unwrap_or_else(|| panic!("{k}: no interval"));
        (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
    };
    // Every experiment is repeated: 3 bursts per flow and size, each one counted by the database.
    for size in [2, 4] {
        for flow in ["article", "article_for_update", "one_transaction"] {
            let k = format!("{flow}_n{size}_charges_per_key");
            assert_eq!(m[&k], 1.0, "{m}");
            assert_eq!(n(&k), 3, "{k}");
            // Three bursts that all charged once: a share whose interval is not certainty.
            let once = format!("{flow}_n{size}_charged_once");
            assert_eq!(m[&once], 1.0);
            let (lo, hi) = ci(&once);
            assert!(lo < 0.6 && hi == 1.0, "{once}: [{lo}, {hi}]");
        }
        assert_eq!(m[format!("none_n{size}_charges_per_key")], size as f64);
        assert_eq!(
            m[format!("article_n{size}_conflicts_per_key")],
            (size - 1) as f64
        );
        assert_eq!(
            m[format!("one_transaction_n{size}_replays_per_key")],
            (size - 1) as f64
        );
    }
    // Facts the database keeps, over all the bursts: judged as checked, not as one noisy look.
    assert_eq!(m["article_bursts"], 6.0);
    assert_eq!(m["article_bursts_not_charged_once"], 0.0);
    assert_eq!(m["none_bursts_not_charged_once"], 6.0);
    assert!(exact("article_bursts_not_charged_once") && !exact("article_n4_charged_once"));
    assert_eq!(m["article_sequential_not_charged_once"], 0.0);
    assert_eq!(m["returning_empty_on_conflict"], 1.0);
    assert_eq!(m["article_race_wrong_answer"], 1.0);
    assert_eq!(m["for_update_absent_key_blocks"], 0.0);
    assert_eq!(m["for_update_present_key_blocks"], 1.0);
    // A handler that dies after charging leaves its key `processing`: refused until the TTL,
    // charged again after it.
    assert_eq!(m["crash_retry_refused_after_23h"], 1.0);
    assert_eq!(m["crash_charges_per_key_after_ttl"], 2.0);
    // Retries: two runs of 40 payments, every payment a trial; the stable key's extra charges
    // are counted.
    assert_eq!(n("random_key_loss50_double_charges_per_10k"), 80);
    assert_eq!(n("random_key_loss50_retries"), 2);
    assert!(
        m["random_key_loss50_double_charges_per_10k"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(m["stable_key_loss50_extra_charges"], 0.0);
    assert_eq!(m["ttl_deleted_keys"], 2000.0);
    assert_eq!(m["ttl_deletes_only_expired"], 1.0);
    assert_eq!(n("ttl_delete_s"), 2);
    // The measured round trip went into the burst points, and only those.
    let db_ms = real["calibration"]["db_ms"].as_f64().unwrap();
    let points = s["points"].as_array().unwrap();
    assert_eq!(
        real["calibrated_points"].as_array().unwrap().len(),
        points.len()
    );
    assert!(
        points
            .iter()
            .all(|p| p["params"]["db_ms"].as_f64() == Some(db_ms))
    );
    let one = claim("one-charge");
    assert_eq!(one["verdict"], "holds", "{one}");
    assert!(
        one["reason"].as_str().unwrap().starts_with("checked"),
        "{one}"
    );
    // 3 of 3 is not "more than 90% for sure".
    let share = claim("charged-once-share");
    assert_eq!(share["verdict"], "inconclusive", "{share}");
    assert_eq!(
        claim("model-matches")["verdict"],
        "holds",
        "{}",
        claim("model-matches")
    );
    let report = std::fs::read_to_string(out.join("real-pg/report.md")).unwrap();
    assert!(
        report.contains("### Real kernel `pg_idempotency`"),
        "{report}"
    );
    assert!(out.join("real-pg/charts/real-burst-charges.png").is_file());
    // Nothing left behind: the throwaway cluster's directory is gone.
    let db = real["environment"]["database"].as_str().unwrap();
    let dir = db
        .strip_prefix("throwaway cluster in ")
        .and_then(|r| r.split(" (").next())
        .expect("a throwaway cluster");
    assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
}

#[test]
fn real_off_skips_the_kernel_and_claims_say_not_run() {
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("real-pg.toml");
    lab(
        &root(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--real",
            "off",
        ],
    )
    .expect_code(0);
    let s = summary(&out.join("real-pg"));
    assert_eq!(s["real"][0]["status"], "not_run");
    assert_eq!(s["real"][0]["reason"], "disabled by --real off");
    for c in s["claims"].as_array().unwrap() {
        assert_eq!(c["verdict"], "not_run", "{c}");
        assert!(
            c["reason"]
                .as_str()
                .unwrap()
                .contains("disabled by --real off")
        );
    }
    // Without measurements the points keep the scenario's values.
    assert!(
        s["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["params"]["db_ms"] == 2.0)
    );
}

#[test]
fn require_fails_when_the_server_refuses() {
    // A URL nothing listens on: the kernel cannot run, and --real require makes that an error.
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("real-pg.toml");
    let r = lab(
        &root(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--real",
            "require",
            "--set",
            "real.database_url=postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr
            .contains("real kernel `pg_idempotency` did not run"),
        "{}",
        r.stderr
    );
    assert!(entries(&out).is_empty(), "{:?}", entries(&out));
}

/// The llama.cpp kernels through `lab run`: with the `llama` build they measure the generated
/// tiny models and their profiles feed the `this-machine` points; without it they say how to
/// build them and the points run on their sourced profiles.
#[test]
fn llama_kernels_measure_and_calibrate_or_say_how_to_build() {
    let built = cfg!(feature = "llama");
    let t = tempdir();
    let models = format!("real.models_dir=\"{}\"", t.path().join("models").display());
    for (scenario, kernel) in [
        ("speculative", "llama_speculative"),
        ("gpu-serving", "llama_batch"),
    ] {
        let out = t.path().join(scenario);
        let file = root().join(format!("scenarios/{scenario}.toml"));
        lab(
            &root(),
            &[
                "run",
                file.to_str().unwrap(),
                "--quick",
                "--out",
                out.to_str().unwrap(),
                "--real",
                if built { "require" } else { "auto" },
                "--set",
                &models,
            ],
        )
        .expect_code(0);
        let s = summary(&out.join(scenario));
        let real = &s["real"][0];
        assert_eq!(real["kernel"], kernel);
        if !built {
            assert_eq!(real["status"], "not_run", "{real}");
            assert!(
                real["reason"]
                    .as_str()
                    .unwrap()
                    .contains("--features llama"),
                "{real}"
            );
            continue;
        }
        assert_eq!(real["status"], "ok", "{real}");
        let m = &real["metrics"];
        let this_machine: Vec<&serde_json::Value> = s["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["label"].as_str().unwrap().starts_with("this-machine"))
            .collect();
        assert!(!this_machine.is_empty());
        assert_eq!(
            real["calibrated_points"].as_array().unwrap().len(),
            this_machine.len()
        );
        assert!(
            this_machine
                .iter()
                .all(|p| p["params"]["profile"] == "custom"),
            "the measured profile replaces the sourced one"
        );
        if scenario == "speculative" {
            for k in 1..=16 {
                let v = m[format!("verify_cost_ratio_k{k}")].as_f64().unwrap();
                assert!(v > 0.5 && v < 100.0, "V({k}) = {v}");
            }
            // At most K drafts and one bonus token per cycle.
            let tpc = m["greedy_k4_tokens_per_cycle"].as_f64().unwrap();
            assert!((1.0..=5.0).contains(&tpc), "{tpc}");
            let a = real["calibration"]["alpha"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&a), "{a}");
            // Repeated trials (3 in --quick) with intervals; whether greedy output equals the
            // target's own is a checked count.
            assert_eq!(real["n"]["greedy_k4_accept_rate_drafted"], 3, "{real}");
            assert!(real["ci95"]["verify_cost_ratio_k6"].is_array(), "{real}");
            assert!(
                real["exact"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == "greedy_output_mismatched_runs"),
                "{real}"
            );
            let claim = s["claims"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "model-matches-real-tokens-per-cycle")
                .unwrap();
            assert_ne!(claim["verdict"], "not_run", "{claim}");
        } else {
            let curve = real["calibration"]["step_ms_by_batch"].as_array().unwrap();
            assert_eq!(curve.len(), 16);
            assert!(m["step_ms_b16"].as_f64().unwrap() > 0.0);
        }
    }
}

/// The layer kernel needs nothing but the source tree it runs in, so it must run wherever the
/// tests do; its real cache keys must change exactly where the model's cascade says.
#[test]
fn layer_kernel_runs_and_its_cascade_matches_the_model() {
    let t = tempdir();
    let out = t.path().join("out");
    let scenario = root().join("scenarios/layer-cache.toml");
    lab(
        &root(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--quick",
            "--real",
            "require",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let s = summary(&out.join("layer-cache"));
    let real = &s["real"][0];
    assert_eq!(real["kernel"], "layer_tar");
    assert_eq!(real["status"], "ok", "{real}");
    let m = &real["metrics"];
    for class in [
        "source",
        "deps",
        "base",
        "dockerfile",
        "docs",
        "docs_ignored",
    ] {
        let k = format!("cascade_{class}_mismatches");
        assert_eq!(m[&k].as_f64(), Some(0.0), "{k}: {real}");
    }
    // The edits really change keys (a cascade that never changes would match nothing).
    assert!(m["cascade_source_steps"].as_f64().unwrap() >= 3.0, "{real}");
    assert_eq!(
        m["cascade_docs_ignored_steps"].as_f64(),
        Some(0.0),
        "{real}"
    );
    assert_eq!(m["cascade_mtime_steps"].as_f64(), Some(0.0), "{real}");
    assert_eq!(m["tar_deterministic"].as_f64(), Some(1.0), "{real}");
    // Timed work, repeated: rates with intervals.
    assert!(real["n"]["gzip_mb_per_s"].as_u64().unwrap() >= 3, "{real}");
    assert!(m["gzip_ratio"].as_f64().unwrap() > 1.0, "{real}");
    let verdict = |id: &str| {
        s["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .map(|v| v["verdict"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no verdict {id}"))
    };
    for id in [
        "real-cascade-source",
        "real-cascade-deps",
        "real-cascade-base",
        "real-cascade-dockerfile",
        "real-cascade-docs",
        "real-cascade-docs-ignored",
    ] {
        assert_eq!(verdict(id), "holds", "{id}");
    }
}

#[test]
fn webgpu_kernel_checks_against_the_cpu_or_says_why_not() {
    let built = cfg!(feature = "gpu");
    let t = tempdir();
    let out = t.path().join("webgpu");
    let file = root().join("scenarios/webgpu.toml");
    lab(
        &root(),
        &[
            "run",
            file.to_str().unwrap(),
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let s = summary(&out.join("webgpu"));
    let real = &s["real"][0];
    assert_eq!(real["kernel"], "webgpu_int4");
    if real["status"] == "not_run" {
        let why = real["reason"].as_str().unwrap();
        assert!(!built || why.contains("adapter"), "{real}");
        assert!(built || why.contains("--features gpu"), "{real}");
        return;
    }
    let m = &real["metrics"];
    assert!(m["max_rel_error"].as_f64().unwrap() < 1e-4, "{real}");
    assert_eq!(m["article_wgsl_compiles"].as_f64().unwrap(), 0.0);
    assert_eq!(m["chain_outputs_agree"].as_f64().unwrap(), 1.0);
    assert!(m["matvec_f32_article2d_wg8x8_ms"].as_f64().unwrap() > 0.0);
    assert!(real["ci95"]["chain64_per_crossing_ms"].is_array(), "{real}");
    // Subgroups: the adapter's size read, its shapes swept; the subgroupAdd matvec ran (and
    // was checked within max_rel_error) or says why not.
    let sg = m["subgroup_min"].as_f64().unwrap();
    assert!(sg >= 1.0, "{real}");
    let sg_shape = format!("matvec_f32_flat_wg{sg}x1_ms");
    assert!(m[&sg_shape].as_f64().is_some(), "{sg_shape}: {real}");
    if m["subgroup_ran"].as_f64().unwrap() == 1.0 {
        assert!(m["matvec_f32_subgroup_wg64x1_ms"].as_f64().unwrap() > 0.0);
        assert!(real["ci95"]["matvec_f32_subgroup_speedup_vs_row_wg"].is_array());
    } else {
        let f = real["findings"].to_string();
        assert!(f.contains("subgroupAdd matvec did not run"), "{real}");
    }
    // Storage-only vs mapped intermediates, with CIs, same outputs.
    assert_eq!(m["intermediates_outputs_agree"].as_f64().unwrap(), 1.0);
    assert!(real["ci95"]["intermediates64_mapped_extra_per_layer_ms"].is_array());
    assert!(real["ci95"]["intermediates1024_storage_saving_fraction"].is_array());
    // The committed lavapipe dataset fed the lavapipe-dataset point.
    let p = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["label"]
                .as_str()
                .unwrap_or("")
                .contains("lavapipe-dataset")
        })
        .expect("lavapipe-dataset point");
    assert_eq!(p["params"]["wave_width"].as_u64().unwrap(), 8, "{p}");
    assert!(p["params"]["mem_bw_gbps"].as_f64().unwrap() != 76.8, "{p}");
}

#[test]
fn webgpu_section_of_lab_hw_lists_adapters_or_says_why_not() {
    let built = cfg!(feature = "gpu");
    let r = lab(&root(), &["hw", "--json"]).expect_code(0);
    let hw: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let w = &hw["webgpu"];
    assert_eq!(w["built"].as_bool().unwrap(), built, "{w}");
    let text = lab(&root(), &["hw"]).expect_code(0).stdout;
    if !built {
        assert!(w["note"].as_str().unwrap().contains("`gpu` feature is off"));
        assert!(
            text.contains("webgpu      the `gpu` feature is off"),
            "{text}"
        );
        return;
    }
    match w["adapters"].as_array().unwrap().first() {
        Some(a) => {
            assert!(a["subgroup_sizes"][0].as_u64().unwrap() >= 1, "{a}");
            assert!(
                a["max_invocations_per_workgroup"].as_u64().unwrap() >= 256,
                "{a}"
            );
            assert!(text.contains("subgroup size"), "{text}");
            assert!(text.contains("storage buffer binding"), "{text}");
        }
        None => assert!(text.contains("no wgpu adapter"), "{text}"),
    }
    // No driver the loader can find: the section says no adapter, lab hw still succeeds.
    let none = lab_env(
        &root(),
        &["hw"],
        &[
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ],
    )
    .expect_code(0)
    .stdout;
    assert!(none.contains("webgpu      no wgpu adapter"), "{none}");
}
