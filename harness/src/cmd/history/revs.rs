//! `lab history --run A..B scenarios/x.toml`: what `asv run A..B` does. For each commit of the
//! range (oldest first) it checks the commit out in a git worktree, builds the lab there (one
//! target directory shared by every commit, so each build is incremental), runs the scenario as
//! that commit has it, and keeps the run in `RUNS/<sha>/`. A commit whose run directory is
//! complete (a `summary.json` in it: `lab run` writes it last, atomically) is skipped, so an
//! interrupted `--run` continues where it stopped.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::HistoryArgs;
use crate::error::LabError;

/// A revision range as `git rev-list` takes it; a single revision means that commit alone.
/// Refuses what git would read as an option.
pub fn parse_range(range: &str) -> Result<Vec<String>, LabError> {
    let r = range.trim();
    let bad = |why: &str| LabError::bad(format!("--run {range:?}: {why}; expected A..B"));
    if r.is_empty() {
        return Err(bad("empty"));
    }
    if r.starts_with('-') || r.chars().any(char::is_whitespace) {
        return Err(bad("not a revision range"));
    }
    if let Some((a, b)) = r.split_once("...") {
        if a.is_empty() || b.is_empty() {
            return Err(bad("both ends are needed"));
        }
        return Err(bad("a symmetric difference (A...B) has no order"));
    }
    match r.split_once("..") {
        Some((a, b)) if a.is_empty() || b.is_empty() || b.contains("..") => {
            Err(bad("both ends are needed"))
        }
        Some(_) => Ok(vec![r.to_string()]),
        None => Ok(vec![format!("{r}^!")]),
    }
}

/// The commits of `range`, oldest first, from the repository at `git`.
pub fn commits_in(git: &Path, range: &str) -> Result<Vec<String>, LabError> {
    let args = parse_range(range)?;
    let o = Command::new("git")
        .arg("rev-list")
        .arg("--reverse")
        .args(&args)
        .arg("--")
        .current_dir(git)
        .output()
        .map_err(|e| LabError::bad(format!("git rev-list: cannot run git: {e}")))?;
    if !o.status.success() {
        return Err(LabError::bad(format!(
            "--run {range}: git rev-list in {}: {}",
            git.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    let list: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if list.is_empty() {
        return Err(LabError::bad(format!(
            "--run {range}: no commits in that range"
        )));
    }
    Ok(list)
}

/// The run directory of `sha` under `runs_dir`.
pub fn run_dir_for(runs_dir: &Path, sha: &str) -> PathBuf {
    runs_dir.join(sha.chars().take(12).collect::<String>())
}

/// Whether the run of `dir` is complete: a scenario directory with its `summary.json`.
pub fn is_complete(dir: &Path) -> bool {
    crate::cmd::scenario_dirs(dir).is_ok()
}

/// The commits still to run: those whose run directory is not complete.
pub fn pending(runs_dir: &Path, commits: &[String]) -> Vec<String> {
    commits
        .iter()
        .filter(|c| !is_complete(&run_dir_for(runs_dir, c)))
        .cloned()
        .collect()
}

fn git(repo: &Path, args: &[&str]) -> Result<String, LabError> {
    let o = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .map_err(|e| LabError::bad(format!("git: cannot run: {e}")))?;
    if !o.status.success() {
        return Err(LabError::bad(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn absolute(p: &Path) -> Result<PathBuf, LabError> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Makes the runs of `range` and returns the folder that holds them.
pub fn run_range(
    args: &HistoryArgs,
    range: &str,
    out: &Path,
    repo: &Path,
) -> Result<PathBuf, LabError> {
    let [scenario] = args.paths.as_slice() else {
        return Err(LabError::bad(
            "--run takes exactly one scenario file (the one to run at each commit)",
        ));
    };
    let top = PathBuf::from(git(repo, &["rev-parse", "--show-toplevel"])?);
    let scenario_abs = absolute(scenario)?;
    let scenario_abs = scenario_abs.canonicalize().unwrap_or(scenario_abs);
    let top_c = top.canonicalize().unwrap_or_else(|_| top.clone());
    let rel = scenario_abs.strip_prefix(&top_c).map_err(|_| {
        LabError::bad(format!(
            "{}: not inside the repository {}",
            scenario.display(),
            top.display()
        ))
    })?;
    let commits = commits_in(repo, range)?;
    let runs_dir = absolute(&args.runs_dir.clone().unwrap_or_else(|| out.join("runs")))?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => absolute(Path::new(&t))?,
        None => absolute(&out.join("target"))?,
    };
    std::fs::create_dir_all(&runs_dir)
        .map_err(|e| LabError::bad(format!("{}: cannot create: {e}", runs_dir.display())))?;
    let todo = pending(&runs_dir, &commits);
    eprintln!(
        "{} commit(s) in {range}: {} already run, {} to build and run (target dir {})",
        commits.len(),
        commits.len() - todo.len(),
        todo.len(),
        target.display()
    );
    for (n, sha) in todo.iter().enumerate() {
        eprintln!("[{}/{}] {sha}", n + 1, todo.len());
        if let Err(e) = run_one(&top, sha, rel, &runs_dir, &target, args.quick) {
            eprintln!("  {sha}: skipped: {e}");
        }
    }
    Ok(runs_dir)
}

/// Builds `sha` in a worktree and runs the scenario there into its run directory.
fn run_one(
    top: &Path,
    sha: &str,
    rel: &Path,
    runs_dir: &Path,
    target: &Path,
    quick: bool,
) -> Result<(), LabError> {
    // One worktree path for every commit: cargo then rebuilds only what changed between them.
    let wt = runs_dir.join(".worktree");
    let wt_s = wt.display().to_string();
    // A worktree left by an interrupted run is replaced.
    let _ = git(top, &["worktree", "remove", "--force", &wt_s]);
    let _ = std::fs::remove_dir_all(&wt);
    let _ = git(top, &["worktree", "prune"]);
    git(top, &["worktree", "add", "--detach", &wt_s, sha])?;
    let result = (|| {
        if !wt.join(rel).is_file() {
            return Err(LabError::bad(format!(
                "{} does not exist at this commit",
                rel.display()
            )));
        }
        let status = Command::new("cargo")
            .args(["build", "--release", "-p", "harness", "--bin", "lab"])
            .current_dir(&wt)
            .env("CARGO_TARGET_DIR", target)
            .status()
            .map_err(|e| LabError::bad(format!("cargo: cannot run: {e}")))?;
        if !status.success() {
            return Err(LabError::bad("the build failed".to_string()));
        }
        let lab = target.join("release").join("lab");
        let dir = run_dir_for(runs_dir, sha);
        let mut c = Command::new(&lab);
        c.arg("run")
            .arg(rel)
            .arg("--out")
            .arg(&dir)
            .current_dir(&wt);
        if quick {
            c.arg("--quick");
        }
        let status = c
            .status()
            .map_err(|e| LabError::bad(format!("{}: cannot run: {e}", lab.display())))?;
        if !status.success() || !is_complete(&dir) {
            return Err(LabError::bad(format!("lab run exited with {status}")));
        }
        Ok(())
    })();
    let _ = git(top, &["worktree", "remove", "--force", &wt_s]);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_rev_list() {
        assert_eq!(parse_range("HEAD~3..HEAD").unwrap(), vec!["HEAD~3..HEAD"]);
        assert_eq!(parse_range("abc123").unwrap(), vec!["abc123^!"]);
        for bad in ["", "..HEAD", "HEAD..", "-n3", "a...b", "a b..c", "a..b..c"] {
            assert!(parse_range(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn complete_commits_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        let shas: Vec<String> = ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"]
            .map(String::from)
            .to_vec();
        // a: complete; b: interrupted (a partial directory, no summary.json); c: not started.
        let a = run_dir_for(runs, &shas[0]).join("queueing");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join("summary.json"), "{}").unwrap();
        let b = run_dir_for(runs, &shas[1]);
        std::fs::create_dir_all(b.join(".queueing.partial-123")).unwrap();
        assert_eq!(pending(runs, &shas), shas[1..].to_vec());
        assert_eq!(run_dir_for(runs, &shas[2]), runs.join("cccccccccccc"));
    }

    #[test]
    fn commits_of_a_range_come_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let g = |args: &[&str]| {
            let o = Command::new("git")
                .args(args)
                .current_dir(tmp.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@t")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@t")
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        g(&["init", "-q"]);
        let mut shas = Vec::new();
        for i in 0..3 {
            g(&["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]);
            shas.push(g(&["rev-parse", "HEAD"]));
        }
        assert_eq!(
            commits_in(tmp.path(), "HEAD~2..HEAD").unwrap(),
            shas[1..].to_vec()
        );
        assert_eq!(
            commits_in(tmp.path(), "HEAD~1").unwrap(),
            shas[1..2].to_vec()
        );
        assert!(commits_in(tmp.path(), "HEAD..HEAD").is_err());
        assert!(commits_in(tmp.path(), "nosuch..HEAD").is_err());
    }
}
