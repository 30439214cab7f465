//! `lab run` and `lab report`: outputs, verdicts, provenance, overrides, shards.

use crate::util::*;

#[test]
fn run_writes_every_output_and_verdicts() {
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("mini.toml");
    let r = lab(
        t.path(),
        &["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()],
    )
    .expect_code(0);
    assert!(r.stdout.contains("mini (queue)"), "{}", r.stdout);
    let dir = out.join("mini");
    for f in [
        "summary.json",
        "scenario.toml",
        "results.csv",
        "results.parquet",
        "report.md",
        "report.html",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing: {:?}", entries(&dir));
    }
    let charts = entries(&dir.join("charts"));
    assert!(
        charts.iter().any(|c| c.ends_with(".png")) && charts.iter().any(|c| c.ends_with(".svg")),
        "{charts:?}"
    );

    let s = summary(&dir);
    assert_eq!(s["schema"], 1);
    assert_eq!(s["scenario"]["id"], "mini");
    assert_eq!(s["scenario"]["file_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(s["provenance"]["seed"], 7);
    assert_eq!(s["provenance"]["replications"], 6);
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    // Defaults are filled in: the params show every parameter the room used.
    assert_eq!(points[1]["params"]["servers"], 1);
    let w = &points[1]["metrics"]["wait_mean"];
    assert_eq!(w["n"], 6);
    assert_eq!(w["unit"], "s");
    assert!(w["ci95"][0].as_f64().unwrap() < w["mean"].as_f64().unwrap());
    // One claim at one point, one claim at both points.
    let claims = s["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 3);
    assert!(
        claims.iter().all(|c| c["verdict"] == "holds"),
        "{claims:#?}"
    );

    // CSV: header plus one row per (point, replication, metric).
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let metrics_per_rep = points[0]["metrics"].as_object().unwrap().len();
    assert_eq!(csv.lines().count(), 1 + 2 * 6 * metrics_per_rep);

    // HTML is self-contained and escapes the claim text.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("data:image/png;base64,"));
    // No temporary directories left behind; the run's index beside its scenario.
    assert_eq!(
        entries(&out),
        ["index.html", "index.json", "index.md", "mini"]
    );
}

#[test]
fn report_rerenders_from_results_alone() {
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("mini.toml");
    lab(
        t.path(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quick",
        ],
    )
    .expect_code(0);
    let md = out.join("mini/report.md");
    std::fs::remove_file(&md).unwrap();
    std::fs::remove_dir_all(out.join("mini/charts")).unwrap();
    lab(t.path(), &["report", out.to_str().unwrap()]).expect_code(0);
    assert!(md.is_file());
    assert!(!entries(&out.join("mini/charts")).is_empty());
}

#[test]
fn set_seed_replications_and_json_output() {
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("mini.toml");
    let r = lab(
        t.path(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seed",
            "99",
            "--replications",
            "2",
            "--set",
            "customers=3000",
            "--set",
            "params.warmup=100",
            "--json",
        ],
    )
    .expect_code(0);
    let line: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["scenario"], "mini");
    let s = summary(&out.join("mini"));
    assert_eq!(s["provenance"]["seed"], 99);
    assert_eq!(s["provenance"]["replications"], 2);
    assert_eq!(s["points"][0]["params"]["customers"], 3000);
    assert_eq!(s["points"][0]["params"]["warmup"], 100);
    assert_eq!(s["provenance"]["overrides"][0], "customers=3000");
}

#[test]
fn shards_split_units_and_together_cover_them() {
    let t = tempdir();
    let f = fixture("mini.toml");
    // Replications per point across the shards; a shard judges no claim (merge does).
    let mut n = [0u64; 2];
    for (i, shard) in ["1/2", "2/2"].iter().enumerate() {
        let out = t.path().join(format!("s{i}"));
        lab(
            t.path(),
            &[
                "run",
                f.to_str().unwrap(),
                "--quick",
                "--replications",
                "3",
                "--out",
                out.to_str().unwrap(),
                "--shard",
                shard,
            ],
        )
        .expect_code(0);
        let s = summary(&out.join("mini"));
        assert!(s["verdicts"].as_array().unwrap().is_empty());
        for p in s["points"].as_array().unwrap() {
            n[p["index"].as_u64().unwrap() as usize] +=
                p["metrics"]["wait_mean"]["n"].as_u64().unwrap();
        }
    }
    assert_eq!(n, [3, 3]);
}

#[test]
fn a_point_runs_its_own_replications_and_the_cli_count_overrides_it() {
    let t = tempdir();
    let f = write(
        t.path(),
        "s.toml",
        r#"
[scenario]
id = "per-point"
sim = "queue"
seed = 5
replications = 6

[params]
arrival_rate = 0.5
customers = 2000
warmup = 100

[[points]]
name = "short"
replications = 3

[[points]]
name = "whole"
params = { arrival_rate = 0.6 }
"#,
    );
    let n = |s: &serde_json::Value, i: usize| s["points"][i]["metrics"]["wait_mean"]["n"].clone();
    let out = t.path().join("out");
    lab(t.path(), &["run", &f, "--out", out.to_str().unwrap()]).expect_code(0);
    let s = summary(&out.join("per-point"));
    assert_eq!((n(&s, 0), n(&s, 1)), (3.into(), 6.into()));
    // --quick's count is a ceiling too; --replications sets every point.
    lab(
        t.path(),
        &["run", &f, "--quick", "--out", out.to_str().unwrap()],
    )
    .expect_code(0);
    let s = summary(&out.join("per-point"));
    assert_eq!((n(&s, 0), n(&s, 1)), (3.into(), 3.into()));
    lab(
        t.path(),
        &[
            "run",
            &f,
            "--replications",
            "4",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let s = summary(&out.join("per-point"));
    assert_eq!((n(&s, 0), n(&s, 1)), (4.into(), 4.into()));
    let bad = write(
        t.path(),
        "bad.toml",
        &std::fs::read_to_string(&f)
            .unwrap()
            .replace("replications = 3", "replications = 0"),
    );
    let r = lab(t.path(), &["check", &bad]).expect_code(1);
    assert!(
        r.stderr.contains("points[0].replications: 0 replications"),
        "{}",
        r.stderr
    );
}

#[test]
fn two_runs_into_one_out_both_succeed_and_leave_no_work_directories() {
    let t = tempdir();
    let out = t.path().join("out");
    let f = fixture("mini.toml");
    std::fs::create_dir_all(&out).unwrap();
    // A dead run's work directory is removed; a live one's (this test's pid) is not touched.
    let dead = out.join(".mini.partial-999999999");
    let live = out.join(format!(".mini.partial-{}", std::process::id()));
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    for _ in 0..3 {
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
                .args(["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()])
                .current_dir(t.path())
                .output()
                .expect("lab runs")
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(spawn);
            let b = s.spawn(spawn);
            (a.join().unwrap(), b.join().unwrap())
        });
        for o in [a, b] {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        summary(&out.join("mini"));
    }
    assert!(!dead.exists(), "a dead run's leftovers are removed");
    assert!(live.exists(), "a live run's work directory is left alone");
    std::fs::remove_dir_all(&live).unwrap();
    let hidden: Vec<_> = entries(&out)
        .into_iter()
        .filter(|e| e.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_exits_128_plus_the_signal_and_leaves_no_directory_it_made() {
    let t = tempdir();
    let f = fixture("mini.toml");
    for (signal, code) in [("TERM", 143), ("HUP", 129), ("INT", 130)] {
        let out = t.path().join(format!("out-{signal}"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()])
            // Long enough to be interrupted mid-run.
            .args(["--set", "customers=200000000", "--replications", "2"])
            .current_dir(t.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("lab starts");
        // Wait until the run has made its output directory.
        for _ in 0..200 {
            if out.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let pid = child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status()
                .unwrap()
                .success()
        );
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            !stderr.contains("throwaway"),
            "no server was started, so none was stopped: {stderr}"
        );
        // Nothing but a journal of finished units (kept for --resume) may stay.
        assert!(
            !out.exists() || entries(&out).iter().all(|e| e.contains(".journal-")),
            "SIG{signal}: the empty --out the run made is removed: {:?}",
            entries(&out)
        );
    }
}
