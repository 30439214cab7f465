//! One file per verb.

pub mod check;
pub mod compare;
pub mod history;
pub mod hw;
pub mod hw_nvml;
pub mod index;
pub mod list;
pub mod merge;
pub mod new;
pub mod report;
pub mod run;
pub mod tool;

use std::path::{Path, PathBuf};

use crate::error::LabError;

/// Writes to stdout. A closed pipe (`lab run ... | head`) ends the process quietly with status
/// 0, as ripgrep does, instead of panicking.
pub fn write_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `println!` to stdout through [`write_stdout`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cmd::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// The scenario directories under `dir`: `dir` itself if it holds a `summary.json`, else its
/// subdirectories that do, sorted by name.
pub fn scenario_dirs(dir: &Path) -> Result<Vec<PathBuf>, LabError> {
    if !dir.is_dir() {
        return Err(LabError::bad(format!("{}: not a directory", dir.display())));
    }
    if dir.join("summary.json").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Hidden entries are `lab run`'s work in progress (`.<id>.partial-<pid>`), never results.
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .filter(|p| p.join("summary.json").is_file())
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(LabError::bad(format!(
            "{}: no summary.json here or in its subdirectories: is it a `lab run` output directory?",
            dir.display()
        )));
    }
    Ok(out)
}
