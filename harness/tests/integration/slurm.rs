//! The real-engine test of sharded sweeps: `deploy/slurm/ci-test.sh` starts a one-node Slurm
//! cluster, runs a sweep as a job array with the shipped sbatch script plus the dependent merge
//! job, and checks the merged run against an unsharded one. Where Slurm or munge is missing or
//! cannot start, it says why and the test passes, unless `CLAIMLAB_REQUIRE_REAL` names `slurm`
//! (CI sets it where `just system-deps` installed them).

use std::process::Command;

use crate::util::*;

fn required() -> bool {
    std::env::var("CLAIMLAB_REQUIRE_REAL").is_ok_and(|v| v.split(',').any(|k| k == "slurm"))
}

#[test]
fn slurm_array_shards_merge_to_the_unsharded_run() {
    let script = root().join("deploy/slurm/ci-test.sh");
    let o = Command::new("bash")
        .arg(&script)
        .env("LAB", env!("CARGO_BIN_EXE_lab"))
        .current_dir(root())
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    match o.status.code() {
        Some(0) => eprintln!("{stderr}"),
        Some(77) if !required() => eprintln!("skipped: {stderr}"),
        Some(77) => panic!("CLAIMLAB_REQUIRE_REAL=slurm but Slurm cannot run here:\n{stderr}"),
        c => panic!("the Slurm test failed (exit {c:?}):\n{stderr}"),
    }
}
