//! `lab report`: redraw reports and charts from a run directory, without rerunning anything.

use std::path::Path;

use crate::error::{LabError, exit_code};

/// Re-renders every scenario directory under `run_dir`.
pub fn run(run_dir: &Path) -> Result<u8, LabError> {
    for dir in super::scenario_dirs(run_dir)? {
        crate::output::rerender(&dir).map_err(|e| LabError::bad(e.to_string()))?;
        crate::outln!("rendered {}", dir.join("report.md").display());
    }
    Ok(exit_code::OK)
}
