//! Soak: fifty back-to-back `--quick` runs of a scenario with the real PostgreSQL kernel, some
//! interrupted at a random moment by SIGINT, SIGTERM or SIGKILL. Whatever happens to one run,
//! the next ones work, and at the end no server, no cluster directory and no half-written
//! report is left.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const RUNS: u32 = 50;

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Processes whose command line names `dir` (a postmaster runs with `-D <dir>/...`).
fn processes_under(dir: &Path) -> Vec<String> {
    let o = Command::new("pgrep")
        .args(["-a", "-f", &dir.display().to_string()])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn fifty_interrupted_postgres_runs_leave_no_server_cluster_or_partial_report() {
    if !crate::real::postgres_present() {
        assert!(
            !crate::real::required(),
            "CLAIMLAB_REQUIRE_REAL=postgres but the kernel cannot run"
        );
        eprintln!("skipped: PostgreSQL's server binaries are not installed");
        return;
    }
    // Clusters go under the run's temporary directory: a private one, readable by the
    // `postgres` user the server runs as when the tests run as root.
    let tmp = std::env::temp_dir().join(format!("claimlab-soak-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = tmp.join("out");
    let tmpdir = tmp.display().to_string();
    let f = fixture("real-pg.toml");
    let mut rng = Lcg(24);
    let mut tally = [0u32; 3];
    for i in 0..RUNS {
        let signal = ["", "INT", "TERM", "KILL"][(rng.next() % 4) as usize];
        let delay = Duration::from_millis(rng.next() % 4000);
        let child = Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(["run", f.to_str().unwrap(), "--quick", "--real", "require"])
            .args(["--out", out.to_str().unwrap()])
            .env("TMPDIR", &tmpdir)
            .current_dir(&tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lab starts");
        let mut child = child;
        let started = Instant::now();
        if !signal.is_empty() {
            while started.elapsed() < delay && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().unwrap().is_none() {
                let _ = Command::new("kill")
                    .args([&format!("-{signal}"), &child.id().to_string()])
                    .status();
            }
        }
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let code = o.status.code();
        // A run either finished (0) or died of its signal with the conventional status.
        let ok = match (signal, code) {
            (_, Some(0)) => {
                tally[0] += 1;
                true
            }
            ("INT", Some(130)) | ("TERM", Some(143)) => {
                tally[1] += 1;
                true
            }
            ("KILL", None) => {
                tally[2] += 1;
                true
            }
            _ => false,
        };
        assert!(
            ok,
            "run {i} (SIG{signal} after {delay:?}): exit {code:?}\n{stderr}"
        );
    }
    // A SIGKILLed run cannot clean up; the next start of the kernel (or `lab hw`) stops what
    // it left. The last run may have been one of those.
    lab_env(&tmp, &["hw"], &[("TMPDIR", &tmpdir)]).expect_code(0);

    let left: Vec<_> = entries(&tmp)
        .into_iter()
        .filter(|e| e.starts_with("claimlab-pg-"))
        .collect();
    assert!(left.is_empty(), "cluster directories left: {left:?}");
    let procs = processes_under(&tmp);
    assert!(procs.is_empty(), "servers left running: {procs:?}");
    // The run's index pages sit beside its scenario directories.
    for e in entries(&out)
        .into_iter()
        .filter(|e| !e.starts_with("index."))
    {
        // A killed run's journal stays for `lab run --resume`; nothing else hidden may.
        if e.starts_with('.') && e.contains(".journal-") {
            continue;
        }
        assert!(!e.starts_with('.'), "a partial report is left: {e}");
        assert!(
            out.join(&e).join("summary.json").exists(),
            "{e} is a complete report"
        );
    }
    assert!(
        tally[0] > 0 && tally[1] > 0 && tally[2] > 0,
        "the schedule completed, interrupted and killed runs: {tally:?}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
