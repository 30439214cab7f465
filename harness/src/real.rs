//! Real kernels in the harness: running the scenario's kernel (its checked `[real]` table is
//! a [`RealPlan`](crate::scenario::RealPlan)) before the model, feeding its calibration to the
//! chosen points, and the `real` section of `summary.json`. Rooms name their kernels; the
//! harness finds them through the registry.

use std::collections::BTreeMap;
use std::time::Instant;

use sims::real::{KernelContext, KernelReport};

use crate::error::LabError;
use crate::scenario::values::{set_path, to_json};
use crate::scenario::{Calibrate, RealPlan, ScenarioPlan};
use crate::summary::{RealResult, RealSeriesJson, SeriesLine};

/// `--real`: whether kernels run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RealMode {
    /// Run kernels whose hardware or service is present; `not_run` otherwise.
    #[default]
    Auto,
    /// Never run kernels (the model uses its sourced defaults).
    Off,
    /// Run kernels and fail (exit 1) when one cannot run.
    Require,
}

/// The output directory a run created, and this process's work directories in it: what an
/// interrupt removes.
static RUN_OUTPUT: std::sync::Mutex<Option<(std::path::PathBuf, bool)>> =
    std::sync::Mutex::new(None);

/// Tells the interrupt handler where this run writes (`created`: the run made the directory).
pub fn note_run_output(dir: &std::path::Path, created: bool) {
    *RUN_OUTPUT.lock().unwrap_or_else(|e| e.into_inner()) = Some((dir.to_path_buf(), created));
}

/// Stops the servers kernels started, removes this run's unfinished work (its hidden work
/// directories and journals without a finished unit, and the output directory if the run made
/// it and it is empty; a journal with units stays for `--resume`), says so, and
/// exits 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
fn on_interrupt(signal: i32) -> ! {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let stopped = sims::real::postgres::stop_all();
    if let Some((dir, created)) = RUN_OUTPUT.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        let mine = format!(".partial-{}", std::process::id());
        // Finished units stay for `lab run --resume`; a journal without any goes.
        if let Some(kept) = crate::units::tidy_journals(&dir) {
            eprintln!(
                "{kept} finished units kept in {}: `lab run ... --resume {}` finishes the run",
                dir.display(),
                dir.display()
            );
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with(&mine) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        if created && dir.read_dir().is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&dir);
        }
    }
    if stopped > 0 {
        eprintln!("interrupted: stopped the lab's {stopped} throwaway PostgreSQL server(s)");
    } else {
        eprintln!("interrupted");
    }
    std::process::exit(128 + signal);
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether an interrupt is being handled. Stopping the servers breaks the kernel's connections,
/// so the main thread may see an error that is only the interrupt's doing: it must then leave
/// the exit (128 + the signal) to the handler, not report the error (found by the soak test).
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Installs the handler for Ctrl-C, SIGTERM and SIGHUP (see [`on_interrupt`]).
#[cfg(unix)]
pub fn install_interrupt_handler() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            on_interrupt(signal);
        }
    });
}

/// Installs the handler for Ctrl-C (see [`on_interrupt`]).
#[cfg(not(unix))]
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| on_interrupt(2));
}

/// Runs the plan's kernel (when it has one and `mode` allows) and applies its calibration to
/// the chosen points. Returns the summary entry.
pub fn run(
    plan: &mut ScenarioPlan,
    mode: RealMode,
    pb: &indicatif::ProgressBar,
) -> Result<Option<RealResult>, LabError> {
    let Some(real) = plan.real.clone() else {
        return Ok(None);
    };
    let name = real.kernel.name();
    let started = Instant::now();
    let report = if mode == RealMode::Off {
        KernelReport::not_run("disabled by --real off")
    } else if !real.enabled {
        KernelReport::not_run("disabled in the scenario ([real] enabled = false)")
    } else {
        pb.set_message(format!("real kernel {name}"));
        let progress = |m: &str| pb.set_message(format!("{name}: {m}"));
        let ctx = KernelContext {
            seed: plan.seed,
            quick: plan.quick,
            progress: &progress,
        };
        let r = real.kernel.run(&real.params, &ctx);
        pb.set_message("");
        r
    };
    if let (RealMode::Require, Some(why)) = (mode, &report.not_run) {
        return Err(LabError::bad(format!(
            "{}: real kernel `{name}` did not run: {why} (--real require)",
            plan.file.display()
        )));
    }
    let calibrated = if report.not_run.is_none() {
        calibrate(plan, &real, &report)?
    } else {
        Vec::new()
    };
    Ok(Some(to_result(
        name,
        &report,
        calibrated,
        started.elapsed().as_secs_f64(),
    )))
}

/// Writes the kernel's measured values into the chosen points and lets the room re-check them.
fn calibrate(
    plan: &mut ScenarioPlan,
    real: &RealPlan,
    report: &KernelReport,
) -> Result<Vec<usize>, LabError> {
    if report.calibration.is_empty() {
        return Ok(Vec::new());
    }
    let mut touched = Vec::new();
    for pt in &mut plan.points {
        let chosen = match &real.calibrate {
            Calibrate::None => false,
            Calibrate::All => true,
            Calibrate::Points(names) => pt.name.as_ref().is_some_and(|n| names.contains(n)),
        };
        if !chosen {
            continue;
        }
        let mut params = pt.params().clone();
        for (k, v) in &report.calibration {
            if !real.pinned.iter().any(|p| p == k) {
                set_path(&mut params, k, v.clone());
            }
        }
        pt.prepared = plan.sim.prepare(&params).map_err(|e| {
            LabError::internal(format!(
                "kernel `{}` measured a value the model rejects: {e}",
                real.kernel.name()
            ))
        })?;
        touched.push(pt.index);
    }
    Ok(touched)
}

fn to_result(name: &str, r: &KernelReport, calibrated: Vec<usize>, wall_s: f64) -> RealResult {
    let metrics = r
        .metrics
        .iter()
        .map(|(k, m)| (k.clone(), m.value))
        .collect();
    let units = r
        .metrics
        .iter()
        .map(|(k, m)| (k.clone(), m.unit.clone()))
        .collect();
    let ci95 = r
        .metrics
        .iter()
        .filter_map(|(k, m)| m.ci95.map(|c| (k.clone(), c)))
        .collect();
    let n = r.metrics.iter().map(|(k, m)| (k.clone(), m.n)).collect();
    let exact = r
        .metrics
        .iter()
        .filter(|(_, m)| m.exact)
        .map(|(k, _)| k.clone())
        .collect();
    let calibration = match to_json(&toml::Value::Table(r.calibration.clone())) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    RealResult {
        kernel: name.to_string(),
        status: if r.not_run.is_some() { "not_run" } else { "ok" }.to_string(),
        reason: r.not_run.clone().unwrap_or_default(),
        metrics,
        units,
        ci95,
        n,
        exact,
        calibration,
        calibrated_points: calibrated,
        findings: r.findings.clone(),
        environment: r.environment.clone(),
        unmeasured: r.unmeasured.clone(),
        series: r
            .series
            .iter()
            .map(|s| RealSeriesJson {
                id: s.id.clone(),
                title: s.title.clone(),
                x_label: s.x_label.clone(),
                y_label: s.y_label.clone(),
                log_y: s.log_y,
                lines: s
                    .lines
                    .iter()
                    .map(|(n, pts)| SeriesLine {
                        name: n.clone(),
                        points: pts.iter().map(|&(x, y)| [x, y]).collect(),
                    })
                    .collect(),
            })
            .collect(),
        wall_s,
    }
}

/// What `lab hw` shows about kernels: name, simulation, and whether it can run here.
pub fn availability() -> BTreeMap<String, (String, Result<String, String>)> {
    sims::registry::kernels()
        .map(|(sim, k)| {
            (
                k.name().to_string(),
                (sim.to_string(), k.available(&toml::Table::new())),
            )
        })
        .collect()
}
