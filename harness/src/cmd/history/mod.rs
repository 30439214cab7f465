//! `lab history DIR...`: the runs of many commits side by side, the asv of claims. Per scenario,
//! claim and metric, the series over commits (ordered by commit date from git; the runs of one
//! commit pooled), its steps ([`steps`]) with the first commit of each, and the verdicts that
//! changed from one commit to the next, listed first. Writes `history.md`, `history.html` (with
//! charts) and `history.json`. `--run A..B` first makes the runs ([`revs`]).

mod render;
pub mod revs;
mod series;
pub mod steps;

pub use series::{ClaimHistory, History, Series, VerdictChange, build, pool, std_error};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use crate::cli::HistoryArgs;
use crate::error::{LabError, exit_code};
use crate::summary::Summary;

/// One run of one scenario.
#[derive(Debug, Clone)]
pub struct RunRef {
    /// Its scenario directory.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
}

/// A commit of the history, in order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Commit {
    /// The commit's hash as the runs recorded it, with `+dirty` for an uncommitted tree.
    pub key: String,
    /// The commit hash.
    pub sha: String,
    /// Whether its runs were made from a tree with uncommitted changes.
    pub dirty: bool,
    /// The commit date (git's `%cI`), or the earliest run's start when git does not know it.
    pub date: String,
    /// `git` or `run timestamp`.
    pub date_source: String,
    /// The commit's subject line (empty when git does not know it).
    pub subject: String,
    /// Its run directories.
    pub runs: Vec<String>,
    #[serde(skip)]
    order: (i64, String),
}

impl Commit {
    /// The short form people read: 10 hex digits, `(dirty)` when so.
    pub fn short(&self) -> String {
        let s: String = self.sha.chars().take(10).collect();
        if self.dirty {
            format!("{s} (dirty)")
        } else {
            s
        }
    }
}

/// Every scenario directory under `path`: itself, its children, or its grandchildren (a
/// folder of run directories), hidden entries skipped.
pub fn find_scenario_dirs(path: &Path) -> Result<Vec<PathBuf>, LabError> {
    fn walk(p: &Path, depth: u32, out: &mut Vec<PathBuf>) {
        if p.join("summary.json").is_file() {
            out.push(p.to_path_buf());
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut kids: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|k| k.is_dir())
            .filter(|k| {
                !k.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        kids.sort();
        for k in kids {
            walk(&k, depth - 1, out);
        }
    }
    if !path.is_dir() {
        return Err(LabError::bad(format!(
            "{}: not a directory",
            path.display()
        )));
    }
    let mut out = Vec::new();
    walk(path, 2, &mut out);
    if out.is_empty() {
        return Err(LabError::bad(format!(
            "{}: no summary.json in it, its run directories or theirs: expected `lab run` output",
            path.display()
        )));
    }
    Ok(out)
}

/// Reads every run under `paths` (each summary once).
pub fn load_runs(paths: &[PathBuf]) -> Result<Vec<RunRef>, LabError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in paths {
        for dir in find_scenario_dirs(p)? {
            let canon = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            if !seen.insert(canon) {
                continue;
            }
            let summary = Summary::read(&dir.join("summary.json")).map_err(LabError::bad)?;
            out.push(RunRef { dir, summary });
        }
    }
    Ok(out)
}

/// Seconds since the epoch of an RFC 3339 time `YYYY-MM-DDTHH:MM:SS` with `Z` or `±HH:MM`.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |a: usize, z: usize| s.get(a..z)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    // Howard Hinnant's days-from-civil.
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let rest = s[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest.as_bytes().first() {
        Some(b'+') | Some(b'-') => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => 0,
    };
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// `(unix time, %cI, subject)` of `sha` from the repository at `git`, or `None`.
fn git_commit_date(git: &Path, sha: &str) -> Option<(i64, String, String)> {
    if sha.is_empty() || sha == "unknown" || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let o = std::process::Command::new("git")
        .args([
            "show",
            "-s",
            "--format=%ct%n%cI%n%s",
            &format!("{sha}^{{commit}}"),
        ])
        .current_dir(git)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    let ct = lines.next()?.trim().parse().ok()?;
    let ci = lines.next()?.trim().to_string();
    Some((ct, ci, lines.next().unwrap_or("").to_string()))
}

/// The commits of `runs` in order (commit date from git; a commit git does not know at its
/// earliest run's start), with notes on what was placed how.
pub fn order_commits(runs: &[RunRef], git: &Path) -> (Vec<Commit>, Vec<String>) {
    let mut by_key: BTreeMap<String, Vec<&RunRef>> = BTreeMap::new();
    for r in runs {
        by_key.entry(commit_key(&r.summary)).or_default().push(r);
    }
    let mut notes = Vec::new();
    let mut commits: Vec<Commit> = by_key
        .into_iter()
        .map(|(key, rs)| {
            let p = &rs[0].summary.provenance;
            let first_run = rs
                .iter()
                .map(|r| r.summary.provenance.started_at.clone())
                .min()
                .unwrap_or_default();
            let (order, date, source, subject) = match git_commit_date(git, &p.git_commit) {
                Some((t, ci, subj)) => (t, ci, "git", subj),
                None => {
                    notes.push(format!(
                        "commit {} is unknown to git in {}: placed by its run's timestamp {first_run}",
                        p.git_commit,
                        git.display()
                    ));
                    (parse_time(&first_run).unwrap_or(0), first_run.clone(), "run timestamp", String::new())
                }
            };
            let mut dirs: Vec<String> = rs.iter().map(|r| r.dir.display().to_string()).collect();
            dirs.sort();
            Commit {
                sha: p.git_commit.clone(),
                dirty: p.git_dirty,
                date,
                date_source: source.into(),
                subject,
                runs: dirs,
                // A dirty tree comes after its commit; then by first run.
                order: (order, format!("{}{first_run}", u8::from(p.git_dirty))),
                key,
            }
        })
        .collect();
    commits.sort_by(|a, b| a.order.cmp(&b.order).then(a.key.cmp(&b.key)));
    (commits, notes)
}

/// The key runs are pooled by: the commit, `+dirty` when the tree had changes.
pub fn commit_key(s: &Summary) -> String {
    let p = &s.provenance;
    if p.git_dirty {
        format!("{}+dirty", p.git_commit)
    } else {
        p.git_commit.clone()
    }
}

/// Runs `lab history`.
pub fn run(args: &HistoryArgs) -> Result<u8, LabError> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        return Err(LabError::bad(format!(
            "--threshold {}: expected a percentage ≥ 0",
            args.threshold
        )));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports/history"));
    let git = match &args.git {
        Some(g) => g.clone(),
        None => std::env::current_dir()?,
    };
    let paths = match &args.run {
        Some(range) => vec![revs::run_range(args, range, &out, &git)?],
        None => args.paths.clone(),
    };
    let runs = load_runs(&paths)?;
    let history = build(&runs, &git, args.threshold / 100.0);
    std::fs::create_dir_all(&out)
        .map_err(|e| LabError::bad(format!("{}: cannot create: {e}", out.display())))?;
    render::write(&out, &history)?;
    crate::outln!(
        "{} runs over {} commits: {} verdict change(s), {} step(s)",
        runs.len(),
        history.commits.len(),
        history.verdict_changes.len(),
        history.series.iter().map(|s| s.steps.len()).sum::<usize>()
    );
    crate::outln!("written: {}", out.join("history.html").display());
    Ok(exit_code::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_and_run_times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-11-18T11:06:40Z"), Some(1_795_000_000));
        assert_eq!(parse_time("2026-11-18T12:06:40+01:00"), Some(1_795_000_000));
        assert_eq!(parse_time("2026-11-18T10:06:40-01:00"), Some(1_795_000_000));
        assert_eq!(parse_time("garbage"), None);
    }
}
