//! `lab run`: load and check every scenario first, then run them and write one directory per
//! scenario. A scenario's directory appears only when complete (written under a temporary name,
//! then renamed), so a failure never leaves a half-written report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::analysis;
use crate::cli::RunArgs;
use crate::error::{LabError, exit_code};
use crate::provenance;
use crate::real::RealMode;
use crate::runner::{self, Shard};
use crate::scenario::values::to_json;
use crate::scenario::{LoadOptions, Override, ScenarioPlan, load_all, work};
use crate::summary::{
    PointResult, Provenance, RealResult, ResultRow, SCHEMA, ScenarioInfo, Summary, Verdict,
    VerdictRecord, fmt_num,
};

/// Runs `lab run` and returns the exit status.
pub fn run(args: &RunArgs) -> Result<u8, LabError> {
    let overrides = args
        .set
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let shard = args.shard;
    let opts = LoadOptions {
        quick: args.quick,
        seed: args.seed,
        replications: args.replications,
        overrides,
    };
    let mut plans = load_all(&args.paths, &opts)?;
    for w in plans.iter().flat_map(|p| &p.warnings) {
        eprint!("{w}");
    }
    check_work(&plans, args.force)?;

    let cwd = std::env::current_dir()?;
    let (commit, dirty) = provenance::git_state(&cwd);
    let out_root = match &args.out {
        Some(o) => o.clone(),
        None => {
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
        .map(|p| runner::units(p, shard).len() as u64)
        .sum();
    let pb = runner::progress(total, "running");
    let printed = run_plans(&mut plans, args.real, &out_root, shard, &commit, dirty, &pb)
        .inspect_err(|_| {
            // Nothing of this run is worth keeping in a directory it made itself.
            if created_root && out_root.read_dir().is_ok_and(|mut d| d.next().is_none()) {
                let _ = std::fs::remove_dir(&out_root);
            }
        })?;
    pb.finish_and_clear();
    print_results(args.json, &printed, &out_root);
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

/// Runs every plan and writes its directory; returns each summary with its directory.
fn run_plans(
    plans: &mut [ScenarioPlan],
    real_mode: RealMode,
    out_root: &Path,
    shard: Option<Shard>,
    commit: &str,
    dirty: bool,
    pb: &indicatif::ProgressBar,
) -> Result<Vec<(Summary, PathBuf)>, LabError> {
    let host = provenance::host();
    let mut printed = Vec::new();
    for plan in plans.iter_mut() {
        pb.set_prefix(plan.id.clone());
        let started = Instant::now();
        let started_at = provenance::rfc3339(provenance::unix_now());
        // The kernel first: its measurements may become the model's parameters.
        let real = crate::real::run(plan, real_mode, pb)?;
        let plan = &*plan;
        let units = runner::units(plan, shard);
        let results = runner::run_units(plan, &units, pb)?;
        let progress = |m: &str| pb.set_message(m.to_string());
        let (summary, rows) = summarise(plan, &results, shard, real, &progress)?;
        pb.set_message("");
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
        };
        let dir = write_scenario_dir(out_root, plan, &summary, &rows)?;
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
        .filter(|p| shard.is_none_or(|s| s.takes(p.index)))
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
    let judged = crate::verdicts::judge_all(plan, &points, real.as_ref(), progress)?;
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

/// Writes everything for one scenario under a temporary name, then renames it into place.
/// Two runs writing the same `--out` both succeed: each works in its own hidden directory, and
/// the last complete one takes the final name.
fn write_scenario_dir(
    root: &Path,
    plan: &ScenarioPlan,
    summary: &Summary,
    rows: &[ResultRow],
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

fn print_verdicts(s: &Summary, dir: &Path) {
    let (mechanism, arithmetic): (Vec<&VerdictRecord>, Vec<&VerdictRecord>) =
        s.verdicts.iter().partition(|v| v.kind != "arithmetic");
    crate::outln!(
        "{}{} ({}): {}{}  [{} points x {} replications, {:.1} s]",
        if s.provenance.quick { "PREVIEW " } else { "" },
        s.scenario.id,
        s.scenario.sim,
        crate::output::counts_line(&mechanism),
        if arithmetic.is_empty() {
            String::new()
        } else {
            format!(" Arithmetic: {}", crate::output::counts_line(&arithmetic))
        },
        s.points.len(),
        s.provenance.replications,
        s.provenance.wall_s
    );
    let w_id = s.verdicts.iter().map(|v| v.id.len()).max().unwrap_or(0);
    for v in mechanism.iter().chain(&arithmetic) {
        let row = v.rows.first().and_then(|&i| s.claims.get(i));
        let measured = row
            .and_then(|c| c.measured.as_ref().map(|m| (c, m)))
            .map(|(c, m)| {
                format!(
                    "{} = {} [{}, {}] {}, expected {}",
                    c.metric,
                    fmt_num(m.mean),
                    fmt_num(m.ci95[0]),
                    fmt_num(m.ci95[1]),
                    m.unit,
                    c.expected.describe()
                )
            })
            .unwrap_or_else(|| v.reason.clone());
        crate::outln!(
            "  {:12}  {:w_id$}  {}{measured}",
            v.verdict.as_str(),
            v.id,
            if v.kind == "arithmetic" {
                "(arithmetic) "
            } else {
                ""
            }
        );
        if matches!(v.verdict, Verdict::Depends | Verdict::Fails) {
            let flip = crate::output::flip_condition(v);
            if flip != "-" {
                crate::outln!("  {:12}  {:w_id$}  ↳ {flip}", "", "");
            }
        }
    }
    crate::outln!("  report: {}", dir.join("report.md").display());
}
