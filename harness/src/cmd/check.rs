//! `lab check`: validate scenario files, run nothing.

use std::path::PathBuf;

use crate::error::{LabError, exit_code};
use crate::scenario::{LoadOptions, load_all, work};

/// Validates every file; all problems in all files are reported together, then each file's
/// warnings (assumed values without a range) on stderr.
pub fn run(paths: &[PathBuf]) -> Result<u8, LabError> {
    let plans = load_all(paths, &LoadOptions::default())?;
    // `--quick` applies [quick]; a mistake there must not wait for the first quick run.
    load_all(
        paths,
        &LoadOptions {
            quick: true,
            ..LoadOptions::default()
        },
    )?;
    for p in &plans {
        for w in &p.warnings {
            eprint!("{w}");
        }
        let work = work::estimate(p).map_or(String::new(), |w| format!("; {}", w.describe()));
        crate::outln!(
            "ok  {}  ({}, sim {}: {} points x {} replications, {} claims, {} charts{work})",
            p.file.display(),
            p.id,
            p.sim.name(),
            p.points.len(),
            p.replications,
            p.claims.len(),
            p.charts.len()
        );
        if let Some(w) = work::estimate(p).filter(|w| w.too_big()) {
            eprintln!("warning: {}", work::refusal(p, &w));
        }
    }
    Ok(exit_code::OK)
}
