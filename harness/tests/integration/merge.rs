//! Sharded runs merged back (`lab merge`), shards named by the environment, and `--resume`
//! after kill -9: each must give the bytes of one uninterrupted, unsharded run (apart from the
//! provenance's timing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

fn queueing() -> String {
    root().join("scenarios/queueing.toml").display().to_string()
}

/// `lab run scenarios/queueing.toml --quick --real off --out OUT` plus `extra`.
fn run_q(cwd: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let q = queueing();
    let mut args = vec!["run", &q, "--quick", "--real", "off"];
    let out = out.display().to_string();
    args.extend(["--out", &out]);
    args.extend(extra);
    lab_env(cwd, &args, env)
}

/// Every file under `dir`, relative, sorted; hidden entries skipped.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// The timing fields, the only ones allowed to differ: in summary.json the provenance's
/// `started_at` and `wall_s` and each kernel's `wall_s`; in the reports the line that shows
/// them (`<started_at> (<wall_s> s)`).
fn without_timing(dir: &Path, file: &Path) -> Vec<u8> {
    let bytes = std::fs::read(dir.join(file)).unwrap();
    let s = summary(dir);
    let p = &s["provenance"];
    match file.to_str().unwrap() {
        "summary.json" => {
            let mut s = s.clone();
            s["provenance"]["started_at"] = serde_json::Value::Null;
            s["provenance"]["wall_s"] = serde_json::Value::Null;
            for r in s["real"].as_array_mut().unwrap() {
                r["wall_s"] = serde_json::Value::Null;
            }
            serde_json::to_vec(&s).unwrap()
        }
        "report.md" | "report.html" => {
            let shown = format!(
                "{} ({:.1} s)",
                p["started_at"].as_str().unwrap(),
                p["wall_s"].as_f64().unwrap()
            );
            String::from_utf8(bytes)
                .unwrap()
                .replace(&shown, "<timing>")
                .into_bytes()
        }
        _ => bytes,
    }
}

/// Two scenario directories hold the same files with the same bytes, timing aside.
pub fn assert_same_run(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa,
        fb,
        "different files in {} and {}",
        a.display(),
        b.display()
    );
    for f in &fa {
        assert!(
            without_timing(a, f) == without_timing(b, f),
            "{} differs between {} and {}",
            f.display(),
            a.display(),
            b.display()
        );
    }
    // Raw bytes too, for everything but the two timing carriers.
    let raw = |d: &Path, f: &Path| std::fs::read(d.join(f)).unwrap();
    for f in fa.iter().filter(|f| f.to_str() != Some("summary.json")) {
        if !f.to_str().unwrap().starts_with("report.") {
            assert!(raw(a, f) == raw(b, f), "{}", f.display());
        }
    }
}

#[test]
fn two_and_three_merged_shards_equal_one_run_byte_for_byte() {
    let t = tempdir();
    let whole = t.path().join("whole");
    run_q(t.path(), &whole, &[], &[]).expect_code(0);
    for n in [2u32, 3] {
        let mut parts = Vec::new();
        for i in 1..=n {
            let out = t.path().join(format!("n{n}-{i}"));
            run_q(t.path(), &out, &["--shard", &format!("{i}/{n}")], &[]).expect_code(0);
            parts.push(out.display().to_string());
        }
        let merged = t.path().join(format!("merged{n}"));
        let mut args = vec!["merge"];
        args.extend(parts.iter().map(String::as_str));
        let m = merged.display().to_string();
        args.extend(["--out", &m]);
        let r = lab(t.path(), &args).expect_code(0);
        assert!(r.stdout.contains("queueing"), "{}", r.stdout);
        assert_same_run(&whole.join("queueing"), &merged.join("queueing"));
    }
}

#[test]
fn merge_names_missing_duplicated_and_mismatched_shards() {
    let t = tempdir();
    let d = |n: &str| t.path().join(n).display().to_string();
    run_q(t.path(), &t.path().join("a"), &["--shard", "1/3"], &[]).expect_code(0);
    run_q(t.path(), &t.path().join("b"), &["--shard", "2/3"], &[]).expect_code(0);
    run_q(
        t.path(),
        &t.path().join("c"),
        &["--shard", "3/3", "--seed", "5"],
        &[],
    )
    .expect_code(0);
    let out = d("out");
    let e = lab(t.path(), &["merge", &d("a"), &d("b"), "--out", &out]).expect_code(1);
    assert!(
        e.stderr.contains("units are missing") && e.stderr.contains("not given: 3/3"),
        "{}",
        e.stderr
    );
    let e = lab(
        t.path(),
        &["merge", &d("a"), &d("b"), &d("b"), "--out", &out],
    )
    .expect_code(1);
    assert!(
        e.stderr.contains("more than one shard directory"),
        "{}",
        e.stderr
    );
    let e = lab(
        t.path(),
        &["merge", &d("a"), &d("b"), &d("c"), "--out", &out],
    )
    .expect_code(1);
    assert!(
        e.stderr.contains("differ in seed") && e.stderr.contains("1000") && e.stderr.contains('5'),
        "{}",
        e.stderr
    );
    assert!(!t.path().join("out").exists(), "nothing written on refusal");
}

/// The shard a run took, from its units' header.
fn shard_of(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("queueing/units.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    first["header"]["shard"].clone()
}

#[test]
fn the_shard_comes_from_kubernetes_and_slurm_environments() {
    let t = tempdir();
    let o = t.path().join("k8s");
    run_q(
        t.path(),
        &o,
        &["--shard-count", "4"],
        &[("JOB_COMPLETION_INDEX", "2")],
    )
    .expect_code(0);
    assert_eq!(shard_of(&o), serde_json::json!({"index": 3, "count": 4}));
    let o = t.path().join("slurm");
    let env = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_MAX", "2"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
    ];
    run_q(t.path(), &o, &[], &env).expect_code(0);
    assert_eq!(shard_of(&o), serde_json::json!({"index": 1, "count": 2}));
    let o = t.path().join("lab");
    run_q(t.path(), &o, &[], &[("LAB_SHARD", "2/2")]).expect_code(0);
    assert_eq!(shard_of(&o), serde_json::json!({"index": 2, "count": 2}));
    // The flag beats the environment.
    let o = t.path().join("flag");
    run_q(t.path(), &o, &["--shard", "1/1"], &[("LAB_SHARD", "2/2")]).expect_code(0);
    assert_eq!(shard_of(&o), serde_json::json!({"index": 1, "count": 1}));
    // Contradictions are an error before anything runs.
    let o = t.path().join("bad");
    let e = run_q(
        t.path(),
        &o,
        &[],
        &[
            ("LAB_SHARD", "1/2"),
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ],
    )
    .expect_code(1);
    assert!(e.stderr.contains("two different shards"), "{}", e.stderr);
    let e = run_q(t.path(), &o, &[], &[("JOB_COMPLETION_INDEX", "0")]).expect_code(1);
    assert!(e.stderr.contains("LAB_SHARD_COUNT"), "{}", e.stderr);
    assert!(!o.join("queueing").exists());
}

/// Units journalled in `out` (by runs that were killed).
fn journalled(out: &Path) -> usize {
    entries(out)
        .iter()
        .filter(|e| e.starts_with(".queueing.journal-"))
        .map(|j| {
            entries(&out.join(j))
                .iter()
                .filter(|f| f.starts_with('p'))
                .count()
        })
        .sum()
}

#[test]
fn kill_9_at_random_points_then_resume_gives_the_same_bytes() {
    let t = tempdir();
    // 40 replications of 13 points: a few seconds.
    let reps = ["--replications", "40"];
    let whole = t.path().join("whole");
    run_q(t.path(), &whole, &reps, &[]).expect_code(0);
    let out = t.path().join("killed");
    let q = queueing();
    let o = out.display().to_string();
    let mut rng = Lcg(22);
    let mut kills = 0;
    for round in 0..3 {
        let mut args = vec!["run", &q, "--quick", "--real", "off"];
        args.extend(reps);
        if round == 0 {
            args.extend(["--out", &o]);
        } else {
            args.extend(["--resume", &o]);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(&args)
            .current_dir(t.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(150 + rng.next() % 700);
        let started = Instant::now();
        while started.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        eprintln!(
            "round {round}: killed after {delay:?}, {} units journalled",
            journalled(&out)
        );
    }
    assert!(
        kills > 0,
        "no run was killed: the scenario ran faster than the kill times"
    );
    lab(t.path(), &{
        let mut a = vec!["run", q.as_str(), "--quick", "--real", "off"];
        a.extend(reps);
        a.extend(["--resume", o.as_str()]);
        a
    })
    .expect_code(0);
    assert_same_run(&whole.join("queueing"), &out.join("queueing"));
    assert_eq!(journalled(&out), 0, "the finished run removes the journals");
    // Resuming with other flags is refused, naming the field.
    let e = lab(
        t.path(),
        &[
            "run",
            &q,
            "--quick",
            "--real",
            "off",
            "--replications",
            "40",
            "--seed",
            "3",
            "--resume",
            &o,
        ],
    )
    .expect_code(1);
    assert!(
        e.stderr.contains("cannot resume") && e.stderr.contains("seed"),
        "{}",
        e.stderr
    );
}

/// The speed figure: 100 shard directories of the queueing scenario (quick, 100 replications:
/// 1,300 units) merged in under 5 s. Ignored in the suite (making the shards is 100 runs);
/// `just bench-merge` runs it and prints the time.
#[test]
#[ignore]
fn merge_of_100_shards_takes_under_5_s() {
    let t = tempdir();
    let reps = ["--replications", "100"];
    let mut parts = Vec::new();
    for i in 1..=100 {
        let out = t.path().join(format!("shard-{i}"));
        let mut a = reps.to_vec();
        let s = format!("{i}/100");
        a.extend(["--shard", &s]);
        run_q(t.path(), &out, &a, &[]).expect_code(0);
        parts.push(out.display().to_string());
    }
    let merged = t.path().join("merged").display().to_string();
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--out", &merged]);
    let started = Instant::now();
    lab(t.path(), &args).expect_code(0);
    let took = started.elapsed();
    eprintln!(
        "merge of 100 shards (1,300 units): {:.2} s",
        took.as_secs_f64()
    );
    let whole = t.path().join("whole");
    run_q(t.path(), &whole, &reps, &[]).expect_code(0);
    assert_same_run(&whole.join("queueing"), &t.path().join("merged/queueing"));
    assert!(took < Duration::from_secs(5), "merge took {took:?}");
}
