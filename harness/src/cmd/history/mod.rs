//! `lab history DIR...`: the runs of many commits side by side, the asv of claims. Per scenario,
//! claim and metric, the series over commits (ordered by commit date from git; the runs of one
//! commit pooled), its steps ([`steps`]) with the first commit of each, and the verdicts that
//! changed from one commit to the next, listed first. Writes `history.md`, `history.html` (with
//! charts) and `history.json`. `--run A..B` first makes the runs ([`revs`]).

mod render;
pub mod revs;
pub mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{LabError, exit_code};
use crate::summary::{MetricEstimate, Summary, Verdict};

/// `lab history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Run directories, scenario directories, or folders of runs (reports/runs/); with --run,
    /// the scenario file to run at each commit.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write history.md, history.html and history.json (default: reports/history).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Noise threshold in percent: a smaller change of level is never a step.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// The git repository that knows the runs' commits (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub git: Option<PathBuf>,
    /// Build and run each commit of REV_RANGE (A..B, as `git rev-list`) in a git worktree,
    /// then add the runs to the history; a commit whose run is complete is skipped, so an
    /// interrupted --run continues where it stopped.
    #[arg(long, value_name = "REV_RANGE")]
    pub run: Option<String>,
    /// With --run: run the scenario with --quick.
    #[arg(long)]
    pub quick: bool,
    /// With --run: the folder of per-commit run directories (default: OUT/runs).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
}

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

/// Pools the estimates of several runs of one commit: the replications taken together (the
/// mean weighted by n, the variance within and between runs), Student-t 95% interval.
pub fn pool(ests: &[&MetricEstimate]) -> Option<MetricEstimate> {
    match ests {
        [] => None,
        [one] => Some((*one).clone()),
        _ => {
            let n: u32 = ests.iter().map(|e| e.n.max(1)).sum();
            let nf = f64::from(n);
            let mean = ests
                .iter()
                .map(|e| e.mean * f64::from(e.n.max(1)))
                .sum::<f64>()
                / nf;
            let ss: f64 = ests
                .iter()
                .map(|e| {
                    let k = f64::from(e.n.max(1));
                    (k - 1.0) * e.std * e.std + k * (e.mean - mean).powi(2)
                })
                .sum();
            let std = if n > 1 { (ss / (nf - 1.0)).sqrt() } else { 0.0 };
            let half = if n > 1 {
                sims::stats::student_t_975(nf - 1.0) * std / nf.sqrt()
            } else {
                0.0
            };
            Some(MetricEstimate {
                mean,
                ci95: [mean - half, mean + half],
                std,
                n,
                unit: ests[0].unit.clone(),
            })
        }
    }
}

/// The standard error behind an estimate's interval.
pub fn std_error(e: &MetricEstimate) -> f64 {
    if e.n < 2 {
        return 0.0;
    }
    let t = sims::stats::student_t_975(f64::from(e.n) - 1.0);
    (e.ci95[1] - e.ci95[0]).abs() / 2.0 / t
}

/// One metric of one scenario at one point, over the commits.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    /// The scenario's id.
    pub scenario: String,
    /// The point's index.
    pub point: usize,
    /// The point's label (the newest run's).
    pub point_label: String,
    /// The metric.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// The claims judged on this metric at this point (their verdict of record's row).
    pub claims: Vec<String>,
    /// One pooled estimate per commit index (`None`: no run of that commit has it).
    pub values: Vec<Option<MetricEstimate>>,
    /// Its steps.
    pub steps: Vec<steps::Step>,
}

/// One claim's verdict of record over the commits.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClaimHistory {
    /// The scenario's id.
    pub scenario: String,
    /// The claim's id.
    pub claim: String,
    /// Its sentence.
    pub text: String,
    /// Per commit index: the verdict (the most frequent when runs of a commit disagree).
    pub verdicts: Vec<Option<Verdict>>,
    /// Commit indices whose runs disagreed on the verdict.
    pub mixed: Vec<usize>,
}

/// A verdict that changed between consecutive commits that have it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerdictChange {
    /// The scenario's id.
    pub scenario: String,
    /// The claim's id.
    pub claim: String,
    /// The verdict before.
    pub from: Verdict,
    /// The verdict from this commit on.
    pub to: Verdict,
    /// The first commit with the new verdict (index into the commits).
    pub at: usize,
}

/// The whole history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct History {
    /// The commits in order.
    pub commits: Vec<Commit>,
    /// The verdict changes, in commit order.
    pub verdict_changes: Vec<VerdictChange>,
    /// Claims' verdicts over the commits.
    pub claims: Vec<ClaimHistory>,
    /// Every metric series.
    pub series: Vec<Series>,
    /// The noise threshold used (relative).
    pub threshold: f64,
    /// How the history was assembled (ordering, settings that differ).
    pub notes: Vec<String>,
}

/// Builds the history of `runs` (commits ordered with `git`).
pub fn build(runs: &[RunRef], git: &Path, threshold: f64) -> History {
    let (commits, mut notes) = order_commits(runs, git);
    let index: BTreeMap<&str, usize> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    let k = commits.len();
    // scenario -> commit index -> its runs.
    let mut by_scenario: BTreeMap<&str, Vec<Vec<&Summary>>> = BTreeMap::new();
    for r in runs {
        let at = index[commit_key(&r.summary).as_str()];
        by_scenario
            .entry(r.summary.scenario.id.as_str())
            .or_insert_with(|| vec![Vec::new(); k])[at]
            .push(&r.summary);
    }
    let mut series = Vec::new();
    let mut claims = Vec::new();
    for (id, per_commit) in &by_scenario {
        settings_notes(id, per_commit, &mut notes);
        let newest = per_commit.iter().rev().find_map(|v| v.last()).copied();
        claims.extend(claim_histories(id, per_commit));
        // (point, metric) -> per commit estimates.
        let mut keys: BTreeSet<(usize, String)> = BTreeSet::new();
        for s in per_commit.iter().flatten() {
            for p in &s.points {
                keys.extend(p.metrics.keys().map(|m| (p.index, m.clone())));
            }
        }
        for (point, metric) in keys {
            let values: Vec<Option<MetricEstimate>> = per_commit
                .iter()
                .map(|runs| {
                    let ests: Vec<&MetricEstimate> = runs
                        .iter()
                        .filter_map(|s| s.points.iter().find(|p| p.index == point))
                        .filter_map(|p| p.metrics.get(&metric))
                        .collect();
                    pool(&ests)
                })
                .collect();
            let present: Vec<(usize, (f64, f64))> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|e| (i, (e.mean, std_error(e)))))
                .collect();
            let pts: Vec<(f64, f64)> = present.iter().map(|(_, p)| *p).collect();
            let steps = steps::detect(&pts, threshold)
                .into_iter()
                .map(|mut s| {
                    s.at = present[s.at].0;
                    s
                })
                .collect();
            let (point_label, unit, on) = match newest {
                Some(s) => (
                    crate::output::point_label(s, point),
                    values
                        .iter()
                        .flatten()
                        .next()
                        .map(|e| e.unit.clone())
                        .unwrap_or_default(),
                    s.verdicts
                        .iter()
                        .filter(|v| {
                            v.metric == metric
                                && v.rows
                                    .first()
                                    .and_then(|&r| s.claims.get(r))
                                    .is_some_and(|c| c.point == point)
                        })
                        .map(|v| v.id.clone())
                        .collect(),
                ),
                None => (format!("point {point}"), String::new(), Vec::new()),
            };
            series.push(Series {
                scenario: id.to_string(),
                point,
                point_label,
                metric,
                unit,
                claims: on,
                values,
                steps,
            });
        }
    }
    let mut verdict_changes: Vec<VerdictChange> = claims
        .iter()
        .flat_map(|c| {
            let present: Vec<(usize, Verdict)> = c
                .verdicts
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .collect();
            present
                .windows(2)
                .filter(|w| w[0].1 != w[1].1)
                .map(|w| VerdictChange {
                    scenario: c.scenario.clone(),
                    claim: c.claim.clone(),
                    from: w[0].1,
                    to: w[1].1,
                    at: w[1].0,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    verdict_changes.sort_by_key(|v| v.at);
    History {
        commits,
        verdict_changes,
        claims,
        series,
        threshold,
        notes,
    }
}

/// The verdicts of record of one scenario's claims over the commits.
fn claim_histories(id: &str, per_commit: &[Vec<&Summary>]) -> Vec<ClaimHistory> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for s in per_commit.iter().flatten() {
        for v in &s.verdicts {
            if !ids.iter().any(|(i, _)| *i == v.id) {
                ids.push((v.id.clone(), v.text.clone()));
            }
        }
    }
    ids.into_iter()
        .map(|(claim, text)| {
            let mut mixed = Vec::new();
            let verdicts = per_commit
                .iter()
                .enumerate()
                .map(|(i, runs)| {
                    let mut count: BTreeMap<Verdict, usize> = BTreeMap::new();
                    for s in runs {
                        if let Some(v) = s.verdicts.iter().find(|v| v.id == claim) {
                            *count.entry(v.verdict).or_default() += 1;
                        }
                    }
                    if count.len() > 1 {
                        mixed.push(i);
                    }
                    count.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v)
                })
                .collect();
            ClaimHistory {
                scenario: id.to_string(),
                claim,
                text,
                verdicts,
                mixed,
            }
        })
        .collect()
}

/// Notes when one scenario's runs were made differently (quick and full, scenario files that
/// differ): their changes may be the settings', not the code's.
fn settings_notes(id: &str, per_commit: &[Vec<&Summary>], notes: &mut Vec<String>) {
    let all: Vec<&&Summary> = per_commit.iter().flatten().collect();
    let quick: BTreeSet<bool> = all.iter().map(|s| s.provenance.quick).collect();
    if quick.len() > 1 {
        notes.push(format!(
            "{id}: --quick and full runs are mixed in this history"
        ));
    }
    let files: BTreeSet<&str> = all
        .iter()
        .map(|s| s.scenario.file_sha256.as_str())
        .collect();
    if files.len() > 1 {
        notes.push(format!(
            "{id}: the scenario file differs between runs ({} versions)",
            files.len()
        ));
    }
    let sets: BTreeSet<String> = all
        .iter()
        .map(|s| s.provenance.overrides.join(" "))
        .collect();
    if sets.len() > 1 {
        notes.push(format!(
            "{id}: runs used different --set overrides: {}",
            sets.into_iter()
                .map(|s| if s.is_empty() { "none".into() } else { s })
                .collect::<Vec<_>>()
                .join("; ")
        ));
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

    #[test]
    fn pooling_two_runs_takes_all_replications() {
        let e = |mean: f64, std: f64| MetricEstimate {
            mean,
            ci95: [mean - 1.0, mean + 1.0],
            std,
            n: 4,
            unit: "s".into(),
        };
        let p = pool(&[&e(1.0, 0.0), &e(3.0, 0.0)]).unwrap();
        assert_eq!(p.n, 8);
        assert!((p.mean - 2.0).abs() < 1e-12);
        // Eight values, four at 1 and four at 3: sample variance 8/7.
        assert!((p.std - (8.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!(p.ci95[0] < 2.0 && p.ci95[1] > 2.0);
    }
}
