//! `lab report`: redraw reports and charts from a run directory, without rerunning anything.

use std::path::Path;

use crate::error::{LabError, exit_code};

/// Re-renders every scenario directory under `run_dir`.
pub fn run(run_dir: &Path, baseline: Option<&Path>) -> Result<u8, LabError> {
    let index = super::index::is_run_dir(run_dir);
    if baseline.is_some() && !index {
        return Err(LabError::bad(format!(
            "{}: --baseline applies to a run directory's index, and this is one scenario's directory",
            run_dir.display()
        )));
    }
    for dir in super::scenario_dirs(run_dir)? {
        crate::output::rerender(&dir).map_err(|e| LabError::bad(e.to_string()))?;
        crate::outln!("rendered {}", dir.join("report.md").display());
    }
    if index {
        let index = super::index::write(run_dir, baseline)?;
        crate::outln!("rendered {}", index.display());
    }
    Ok(exit_code::OK)
}
