//! `lab run`: load and check every scenario first, then run them and write one directory per
//! scenario. A scenario's directory appears only when complete (written under a temporary name,
//! then renamed), so a failure never leaves a half-written report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::analysis;
use crate::cli::RunArgs;
use crate::error::{LabError, exit_code};
use crate::format::fmt_est;
use crate::provenance;
use crate::real::RealMode;
use crate::runner::{self, Shard};
use crate::scenario::values::to_json;
use crate::scenario::{LoadOptions, Override, ScenarioPlan, load_all, work};
use crate::summary::{
    PointResult, Provenance, RealResult, ResultRow, SCHEMA, ScenarioInfo, Summary, Verdict,
    VerdictRecord,
};
use crate::units::{Header, Journal};

/// Runs `lab run` and returns the exit status.
pub fn run(args: &RunArgs) -> Result<u8, LabError> {
    let overrides = args
        .set
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let shard = crate::shard::resolve(args.shard, args.shard_count, &|k| std::env::var(k).ok())
        .map_err(LabError::bad)?;
    let opts = LoadOptions {
        quick: args.quick,
        seed: args.seed,
        replications: args.replications,
        overrides,
        robustness_budget: args.robustness_budget,
    };
    let mut plans = load_all(&args.paths, &opts)?;
    for w in plans.iter().flat_map(|p| &p.warnings) {
        eprint!("{w}");
    }
    check_work(&plans, args.force)?;
    if let Some(b) = &args.baseline {
        super::index::check_baseline(b)?;
    }

    let cwd = std::env::current_dir()?;
    let (commit, dirty) = provenance::git_state(&cwd);
    let out_root = match (&args.out, &args.resume) {
        (Some(o), Some(r)) if o != r => {
            return Err(LabError::bad(format!(
                "--out {} and --resume {}: --resume writes into the directory it resumes; give one",
                o.display(),
                r.display()
            )));
        }
        (_, Some(r)) if !r.is_dir() => {
            return Err(LabError::bad(format!(
                "--resume {}: not a directory, nothing to resume",
                r.display()
            )));
        }
        (_, Some(o)) | (Some(o), None) => o.clone(),
        (None, None) => {
            let short: String = commit.chars().take(7).collect();
            PathBuf::from("reports/runs").join(format!(
                "{}-{short}",
                provenance::compact(provenance::unix_now())
            ))
        }
    };
    let created_root = !out_root.exists();
    std::fs::create_dir_all(&out_root).map_err(|e| {
        LabError::bad(format!(
            "{}: cannot create output directory: {e}",
            out_root.display()
        ))
    })?;
    crate::real::note_run_output(&out_root, created_root);

    let total: u64 = plans
        .iter()
        .map(|p| runner::units_weight(p, &runner::units(p, shard)))
        .sum();
    let pb = runner::progress(total, "running");
    let settings = Settings {
        real_mode: args.real,
        shard,
        commit: &commit,
        dirty,
        resume: args.resume.is_some(),
        flags: (args.seed, args.replications, &args.set),
    };
    let printed = run_plans(&mut plans, &settings, &out_root, &pb).inspect_err(|_| {
        // Nothing of this run is worth keeping in a directory it made itself.
        if created_root && out_root.read_dir().is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&out_root);
        }
    })?;
    pb.finish_and_clear();
    let index = super::index::write(&out_root, args.baseline.as_deref())?;
    print_results(args.json, &printed, &out_root);
    if !args.json {
        crate::outln!("index: {}", index.with_extension("html").display());
    }
    Ok(exit_code::OK)
}

/// Shows what each scenario will simulate, and refuses (exit 1, before anything is written)
/// a run far beyond a working day of one core unless `--force`.
fn check_work(plans: &[ScenarioPlan], force: bool) -> Result<(), LabError> {
    let mut refused = Vec::new();
    for plan in plans {
        let Some(w) = work::estimate(plan) else {
            continue;
        };
        if w.too_big() && !force {
            refused.push(work::refusal(plan, &w));
        } else if w.cpu_s >= 1.0 || w.too_big() {
            eprintln!("{}: the model simulates {}", plan.id, w.describe());
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(LabError::bad(format!(
            "error: {}\n",
            refused.join("\nerror: ")
        )))
    }
}

/// How `lab run` runs its plans.
struct Settings<'a> {
    real_mode: RealMode,
    shard: Option<Shard>,
    commit: &'a str,
    dirty: bool,
    /// `--resume`: reuse the units journalled or finished in the output directory.
    resume: bool,
    /// `--seed`, `--replications`, `--set` as given (for the units' header).
    flags: (Option<u64>, Option<u32>, &'a [String]),
}

/// Runs every plan and writes its directory; returns each summary with its directory. Every
/// finished unit goes to the scenario's journal first, so a killed run can be resumed.
fn run_plans(
    plans: &mut [ScenarioPlan],
    set: &Settings<'_>,
    out_root: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<Vec<(Summary, PathBuf)>, LabError> {
    let (real_mode, shard, commit, dirty) = (set.real_mode, set.shard, set.commit, set.dirty);
    let host = provenance::host();
    let mut printed = Vec::new();
    for plan in plans.iter_mut() {
        pb.set_prefix(plan.id.clone());
        let started = Instant::now();
        let started_at = provenance::rfc3339(provenance::unix_now());
        // The kernel first: its measurements may become the model's parameters.
        runner::phase(pb, "real kernel");
        let real = crate::real::run(plan, real_mode, pb)?;
        let plan = &*plan;
        let header = Header::of(plan, set.flags, commit, dirty, shard);
        let (journal, done) = Journal::start(out_root, &header, set.resume)?;
        let have: std::collections::BTreeSet<(usize, u32)> =
            done.iter().map(|u| (u.point, u.replication)).collect();
        let todo: Vec<(usize, u32)> = runner::units(plan, shard)
            .into_iter()
            .filter(|u| !have.contains(u))
            .collect();
        let done_units: Vec<(usize, u32)> = done.iter().map(|u| (u.point, u.replication)).collect();
        pb.inc(runner::units_weight(plan, &done_units));
        runner::replications_phase(pb);
        let mut results = runner::run_units(plan, &todo, pb, &|u| journal.record(u))?;
        results.extend(done);
        results.sort_by_key(|u| (u.point, u.replication));
        runner::phase(pb, "judging the claims");
        let progress = |m: &str| pb.set_message(m.to_string());
        let (summary, rows) = summarise(plan, &results, shard, real, &progress)?;
        pb.set_message("writing the report and charts");
        let mut summary = summary;
        summary.provenance = Provenance {
            git_commit: commit.to_string(),
            git_dirty: dirty,
            lab_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: plan.seed,
            replications: plan.replications,
            host: host.clone(),
            started_at,
            wall_s: started.elapsed().as_secs_f64(),
            quick: plan.quick,
            overrides: plan.overrides.clone(),
            probe_replications: summary.provenance.probe_replications,
            robustness: summary.provenance.robustness.clone(),
        };
        let units = crate::units::jsonl(&header, &results)?;
        let dir = write_scenario_dir(out_root, plan, &summary, &rows, &units)?;
        journal.finish(out_root, &plan.id);
        printed.push((summary, dir));
    }
    Ok(printed)
}

fn print_results(json: bool, printed: &[(Summary, PathBuf)], out_root: &Path) {
    if json {
        for (s, dir) in printed {
            let t = analysis::tally(s.verdicts.iter().map(|v| v.verdict));
            let line = serde_json::json!({
                "scenario": s.scenario.id,
                "dir": dir.display().to_string(),
                "preview": s.provenance.quick,
                "verdicts": {"holds": t[0], "fails": t[1], "inconclusive": t[2], "not_run": t[3], "depends": t[4]},
                "claims": s.verdicts.iter().map(|v| serde_json::json!({
                    "id": v.id, "kind": v.kind, "verdict": v.verdict, "rule": v.rule, "reason": v.reason,
                })).collect::<Vec<_>>(),
            });
            crate::outln!("{line}");
        }
    } else {
        for (s, dir) in printed {
            print_verdicts(s, dir);
        }
        crate::outln!("results in {}", out_root.display());
    }
}

/// Builds the summary (provenance left for the caller) and the per-replication rows; judges
/// every claim and probes its verdict of record (`progress` names the claim being probed).
pub fn summarise(
    plan: &ScenarioPlan,
    results: &[runner::UnitResult],
    shard: Option<Shard>,
    real: Option<RealResult>,
    progress: &dyn Fn(&str),
) -> Result<(Summary, Vec<ResultRow>), LabError> {
    let unit_of = |name: &str| {
        plan.sim
            .metric_def(name)
            .map(|m| m.unit.to_string())
            .unwrap_or_default()
    };
    let values = runner::by_point_metric(results);
    let points: Vec<PointResult> = plan
        .points
        .iter()
        .filter(|p| shard.is_none_or(|_| values.contains_key(&p.index)))
        .map(|p| PointResult {
            index: p.index,
            label: p.label.clone(),
            params: to_json(&toml::Value::Table(p.params().clone())),
            metrics: values
                .get(&p.index)
                .map(|v| analysis::estimates(v, |m| plan.sim.metric_def(m)))
                .unwrap_or_default(),
        })
        .collect();
    // A part of a sweep holds some replications of some points: its claims are judged by
    // `lab merge` on the pooled units, not here.
    let judged = if shard.is_some_and(|s| s.is_partial()) {
        crate::verdicts::Judged {
            claims: Vec::new(),
            verdicts: Vec::new(),
            probe_replications: 0,
            robustness: None,
        }
    } else {
        crate::verdicts::judge_all(plan, &points, real.as_ref(), progress)?
    };
    let rows = results
        .iter()
        .flat_map(|r| {
            r.outcome.metrics.iter().map(move |(k, v)| ResultRow {
                point: r.point,
                replication: r.replication,
                seed: r.seed_key,
                metric: k.clone(),
                value: *v,
                unit: unit_of(k),
            })
        })
        .collect();
    let summary = Summary {
        schema: SCHEMA,
        scenario: ScenarioInfo {
            id: plan.id.clone(),
            sim: plan.sim.name().to_string(),
            file_sha256: plan.sha256.clone(),
            title: plan.title.clone(),
            article: plan.article.clone(),
        },
        provenance: Provenance {
            git_commit: String::new(),
            git_dirty: false,
            lab_version: String::new(),
            seed: plan.seed,
            replications: plan.replications,
            host: String::new(),
            started_at: String::new(),
            wall_s: 0.0,
            quick: plan.quick,
            overrides: plan.overrides.clone(),
            probe_replications: judged.probe_replications,
            robustness: judged.robustness,
        },
        points,
        claims: judged.claims,
        verdicts: judged.verdicts,
        real: real.into_iter().collect(),
        charts: plan.charts.clone(),
        sources: plan.sources.clone(),
    };
    Ok((summary, rows))
}

/// Writes everything for one scenario (`units` is `units.jsonl`'s text) under a temporary
/// name, then renames it into place. Two runs writing the same `--out` both succeed: each works
/// in its own hidden directory, and the last complete one takes the final name.
pub fn write_scenario_dir(
    root: &Path,
    plan: &ScenarioPlan,
    summary: &Summary,
    rows: &[ResultRow],
    units: &str,
) -> Result<PathBuf, LabError> {
    let final_dir = root.join(&plan.id);
    let pid = std::process::id();
    let tmp = root.join(format!(".{}.partial-{pid}", plan.id));
    let old = root.join(format!(".{}.old-{pid}", plan.id));
    let _ = std::fs::remove_dir_all(&tmp);
    remove_leftovers(root, &plan.id);
    let write = || -> Result<(), LabError> {
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(tmp.join("scenario.toml"), &plan.source)?;
        std::fs::write(tmp.join(crate::units::UNITS_FILE), units)?;
        crate::output::write_all(&tmp, summary, rows)
            .map_err(|e| LabError::internal(e.to_string()))?;
        // summary.json last: its presence marks a complete directory.
        let json = serde_json::to_string_pretty(summary)
            .map_err(|e| LabError::internal(format!("serialising summary: {e}")))?;
        std::fs::write(tmp.join("summary.json"), json + "\n")?;
        replace_dir(&tmp, &final_dir, &old)?;
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&tmp);
    })?;
    Ok(final_dir)
}

/// Puts `tmp` at `final_dir`, moving a previous result aside to `old` first (a directory cannot
/// be renamed over a non-empty one). Another run may place its own result in between: then
/// that one is moved aside too, and the last to finish wins.
fn replace_dir(tmp: &Path, final_dir: &Path, old: &Path) -> std::io::Result<()> {
    let mut last = None;
    for _ in 0..20 {
        let _ = std::fs::remove_dir_all(old);
        match std::fs::rename(final_dir, old) {
            Ok(()) => {}
            // Nothing there yet, or another run moved it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match std::fs::rename(tmp, final_dir) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(old);
                return Ok(());
            }
            Err(e) if final_dir.exists() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("could not move the result into place")))
}

/// Hidden work directories of this scenario left by runs that died before cleaning up. A
/// directory whose process still runs is another run at work and is left alone.
fn remove_leftovers(root: &Path, id: &str) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = [".partial-", ".old-"].iter().find_map(|kind| {
            name.strip_prefix(&format!(".{id}{kind}"))?
                .parse::<u32>()
                .ok()
        });
        if let Some(pid) = pid
            && pid != std::process::id()
            && !sims::real::process_alive(pid)
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The terminal's width for verdict lines: longer text is cut (the report has it whole).
const TERMINAL_COLUMNS: usize = 100;

fn print_verdicts(s: &Summary, dir: &Path) {
    let (mechanism, arithmetic): (Vec<&VerdictRecord>, Vec<&VerdictRecord>) =
        s.verdicts.iter().partition(|v| v.kind != "arithmetic");
    let colour = colour_wanted();
    if s.provenance.quick {
        crate::outln!(
            "{}",
            paint(
                colour,
                "1;33",
                "PREVIEW (--quick): a rough run; the full run's verdicts are the record"
            )
        );
    }
    crate::outln!(
        "{} ({}): {} points x {} replications, {:.1} s",
        s.scenario.id,
        s.scenario.sim,
        s.points.len(),
        s.provenance.replications,
        s.provenance.wall_s
    );
    crate::outln!("  {}", crate::output::counts_line(&mechanism));
    if !arithmetic.is_empty() {
        crate::outln!("  arithmetic: {}", crate::output::counts_line(&arithmetic));
    }
    let w_id = s
        .verdicts
        .iter()
        .map(|v| v.id.chars().count())
        .max()
        .unwrap_or(0)
        .min(28);
    for v in mechanism.iter().chain(&arithmetic) {
        let row = v.rows.first().and_then(|&i| s.claims.get(i));
        let measured = row
            .and_then(|c| c.measured.as_ref().map(|m| (c, m)))
            .map(|(c, m)| {
                format!(
                    "{} vs {}",
                    fmt_est(m.mean, m.ci95, &m.unit),
                    c.expected.describe_in(&m.unit)
                )
            })
            .unwrap_or_else(|| v.reason.clone());
        let id = cut(&v.id, w_id);
        let text = format!(
            "{}{measured}",
            if v.kind == "arithmetic" {
                "(arithmetic) "
            } else {
                ""
            }
        );
        // 2 + 12 + 2 + id + 2 columns before the text.
        let room = TERMINAL_COLUMNS.saturating_sub(18 + w_id).max(20);
        crate::outln!(
            "  {}  {id:w_id$}  {}",
            paint(
                colour,
                verdict_colour(v.verdict),
                &format!("{:12}", v.verdict.as_str())
            ),
            cut(&text, room)
        );
        let unchecked = !crate::output::unchecked_assumptions(v).is_empty();
        if matches!(v.verdict, Verdict::Depends | Verdict::Fails) || unchecked {
            let flip = crate::output::flip_condition(v);
            let flips: Vec<&str> = flip
                .split("; ")
                .filter(|p| *p != "-" && !p.starts_with("each alone: stable"))
                .collect();
            for (i, line) in wrap(&flips.join("; "), TERMINAL_COLUMNS - 8)
                .iter()
                .enumerate()
            {
                crate::outln!("      {} {line}", if i == 0 { "↳" } else { " " });
            }
        }
    }
    crate::outln!("  report: {}", dir.join("report.html").display());
}

/// Whether stdout takes colour: a terminal, and `NO_COLOR` unset.
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "32",
        Verdict::Fails => "1;31",
        Verdict::Depends => "33",
        Verdict::Inconclusive | Verdict::NotRun => "2",
    }
}

/// `text` in an ANSI colour when `on`.
fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `text` cut to `width` characters, with an ellipsis when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// `text` broken into lines of at most `width` characters at spaces (at most 4 lines, the
/// last cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > 4 {
        lines.truncate(4);
        let last = format!("{} …", lines[3]);
        lines[3] = cut(&last, width);
    }
    lines.into_iter().map(|l| cut(&l, width)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_lines_fit_their_width() {
        let long = "holds when error_rate ≤ 0.01495 (assumed 0.01; range 0.001–0.05); ".repeat(9);
        let lines = wrap(&long, 92);
        assert!(lines.len() <= 4 && lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 92), "{lines:?}");
        assert!(lines[3].ends_with('…'));
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(paint(false, "31", "fails"), "fails");
        assert_eq!(paint(true, "31", "fails"), "\x1b[31mfails\x1b[0m");
    }
}
