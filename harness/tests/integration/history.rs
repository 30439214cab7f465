//! `lab history`: runs of several commits, a planted step found at its commit and nowhere else.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn git(dir: &Path, args: &[&str], date: &str) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Rewrites a run's commit and start time in its summary.json, as if made elsewhere.
fn fake(dir: &Path, sha: &str, started: &str) {
    let p = dir.join("mini/summary.json");
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    s["provenance"]["git_commit"] = sha.into();
    s["provenance"]["git_dirty"] = false.into();
    s["provenance"]["started_at"] = started.into();
    std::fs::write(&p, serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

#[test]
fn a_planted_step_is_found_at_its_commit_and_nowhere_else() {
    let t = tempdir();
    let repo = t.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"], "2026-01-01T00:00:00Z");
    let mut shas = Vec::new();
    for i in 1..=4 {
        let date = format!("2026-01-0{i}T12:00:00Z");
        git(
            &repo,
            &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
            &date,
        );
        shas.push(git(&repo, &["rev-parse", "HEAD"], &date));
    }
    let f = fixture("mini.toml");
    let runs = t.path().join("runs");
    // Commits 3 and 4 carry the planted change: service 30% slower. Commit 2 has two runs
    // (pooled); a fifth run's commit is unknown to git.
    let planted: &[&str] = &["--set", "service.dist=exp", "--set", "service.mean=1.3"];
    let plan: [(&str, usize, bool, &str); 6] = [
        // The run directories' timestamps disagree with the commit order on purpose: the
        // history must follow git's dates.
        ("a", 0, false, "2026-02-09T00:00:00Z"),
        ("b", 1, false, "2026-02-02T00:00:00Z"),
        ("b2", 1, false, "2026-02-03T00:00:00Z"),
        ("c", 2, true, "2026-02-01T00:00:00Z"),
        ("d", 3, true, "2026-02-04T00:00:00Z"),
        ("e", 99, true, "2026-03-01T00:00:00Z"),
    ];
    for (name, commit, change, started) in plan {
        let out = runs.join(name);
        let mut args = vec!["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()];
        if change {
            args.extend_from_slice(planted);
        }
        lab(t.path(), &args).expect_code(0);
        let sha = shas
            .get(commit)
            .map_or("0123456789abcdef0123", String::as_str);
        fake(&out, sha, started);
    }
    let out = t.path().join("history");
    let r = lab(
        t.path(),
        &[
            "history",
            runs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--git",
            repo.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("6 runs over 5 commits"), "{}", r.stdout);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("history.json")).unwrap()).unwrap();
    let h = &j["history"];
    let commits: Vec<&str> = h["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap())
        .collect();
    assert_eq!(
        commits[..4],
        shas.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    assert_eq!(commits[4], "0123456789abcdef0123");
    assert_eq!(h["commits"][1]["runs"].as_array().unwrap().len(), 2);
    assert_eq!(h["commits"][4]["date_source"], "run timestamp");

    // Every step of every series is at commit 3 (index 2), one per series at most; the
    // metrics the service time drives all step.
    let mut stepped = Vec::new();
    for s in h["series"].as_array().unwrap() {
        let steps = s["steps"].as_array().unwrap();
        assert!(steps.len() <= 1, "{s}");
        for st in steps {
            assert_eq!(
                st["at"], 2,
                "{}: step at the wrong commit: {st}",
                s["metric"]
            );
            stepped.push(s["metric"].as_str().unwrap().to_string());
        }
    }
    for m in ["wait_mean", "utilization", "sojourn_mean"] {
        assert!(
            stepped.iter().any(|s| s == m),
            "{m} did not step: {stepped:?}"
        );
    }
    // The verdict changes: both claims, at commit 3, listed first in the report.
    let changes = h["verdict_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().all(|c| c["at"] == 2 && c["from"] == "holds"));
    let md = std::fs::read_to_string(out.join("history.md")).unwrap();
    let v = md.find("## Verdict changes").unwrap();
    assert!(v < md.find("## Steps").unwrap());
    assert!(md.contains("unknown to git"), "{md}");
    let html = std::fs::read_to_string(out.join("history.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("stroke-dasharray"));
    assert!(!html.contains("<script>alert"), "claim text escaped");

    // Not a run anywhere: a clear error, exit 1.
    let r = lab(t.path(), &["history", repo.to_str().unwrap()]).expect_code(1);
    assert!(r.stderr.contains("no summary.json"), "{}", r.stderr);
}

/// The speed the issue asks for: the history of 100 runs of the queueing scenario (its full
/// baseline summary, one run per commit of a 100-commit repository, a 10% step planted in one
/// metric from commit 61), the step found there; under 5 s when `CLAIMLAB_TIMED` is set.
#[test]
fn history_of_100_queueing_runs_takes_under_5_s() {
    let t = tempdir();
    let repo = t.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"], "2026-01-01T00:00:00Z");
    // One fast-import instead of 100 commit processes.
    let mut stream = String::new();
    for i in 0..100 {
        let when = 1_767_225_600 + i * 3600;
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter t <t@t> {when} +0000\ndata 3\nc{i:02}\n",
            i + 1
        ));
        if i > 0 {
            stream.push_str(&format!("from :{i}\n"));
        }
        stream.push('\n');
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&repo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let shas: Vec<String> = git(
        &repo,
        &["rev-list", "--reverse", "main"],
        "2026-01-01T00:00:00Z",
    )
    .lines()
    .map(String::from)
    .collect();
    assert_eq!(shas.len(), 100);
    let base = std::fs::read_to_string(root().join("reports/baseline/queueing/summary.json"))
        .expect("the queueing baseline");
    let runs = t.path().join("runs");
    for (i, sha) in shas.iter().enumerate() {
        let mut s: serde_json::Value = serde_json::from_str(&base).unwrap();
        s["provenance"]["git_commit"] = sha.as_str().into();
        s["provenance"]["git_dirty"] = false.into();
        if i >= 60 {
            let e = &mut s["points"][0]["metrics"]["wait_mean"];
            for k in ["mean", "std"] {
                e[k] = (e[k].as_f64().unwrap() * 1.1).into();
            }
            for k in 0..2 {
                e["ci95"][k] = (e["ci95"][k].as_f64().unwrap() * 1.1).into();
            }
        }
        let d = runs.join(format!("r{i:03}/queueing"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("summary.json"), s.to_string()).unwrap();
    }
    let out = t.path().join("history");
    let started = std::time::Instant::now();
    lab(
        t.path(),
        &[
            "history",
            runs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--git",
            repo.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let took = started.elapsed().as_secs_f64();
    eprintln!("lab history of 100 queueing runs: {took:.2} s");
    // The 5 s target is checked where asked (`just bench-merge` sets CLAIMLAB_TIMED): a timing
    // on a loaded CI machine is not a test; the step's place below always is.
    if std::env::var_os("CLAIMLAB_TIMED").is_some() {
        assert!(took < 5.0, "{took} s");
    }
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("history.json")).unwrap()).unwrap();
    let steps: Vec<(String, u64)> = j["history"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["steps"].as_array().unwrap().iter().map(move |st| {
                (
                    format!("{}@{}", s["metric"].as_str().unwrap(), s["point"]),
                    st["at"].as_u64().unwrap(),
                )
            })
        })
        .collect();
    assert_eq!(steps, vec![("wait_mean@0".to_string(), 60)]);
}
