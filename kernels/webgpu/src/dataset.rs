//! A measurement kept as a dataset file: `datasets/webgpu/<adapter>/measurements.json`, the
//! whole [`Report`] (every sample, the adapter, its checks) with where and when it was taken.
//! The `probe` example writes one (`--dataset PATH`); the `webgpu` room reads one when a
//! point's `dataset` parameter names it and takes its [`Report::calibration`] as inputs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Calibration, Report};

/// The `format` every dataset file carries.
pub const FORMAT: &str = "claimlab-webgpu-measurements/1";

/// One adapter's measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// [`FORMAT`].
    pub format: String,
    /// Free text: the machine, the driver's source, the commit measured.
    pub provenance: String,
    /// Seconds since the Unix epoch when it was written.
    pub written_unix_s: u64,
    /// The measurement.
    pub report: Report,
}

impl Dataset {
    /// Wraps a report, stamped now.
    pub fn new(report: Report, provenance: impl Into<String>) -> Dataset {
        Dataset {
            format: FORMAT.into(),
            provenance: provenance.into(),
            written_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            report,
        }
    }

    /// Writes it as pretty JSON (creating the folder), whole or not at all.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a dataset's text; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<Dataset, String> {
        let d: Dataset = serde_json::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        if d.format != FORMAT {
            return Err(format!(
                "{what}: format `{}`, expected `{FORMAT}` (written by the probe example's --dataset)",
                d.format
            ));
        }
        Ok(d)
    }

    /// Reads and parses a dataset file.
    pub fn read(path: &Path) -> Result<Dataset, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Dataset::parse(&text, &path.display().to_string())
    }

    /// What it calibrates.
    pub fn calibration(&self) -> Calibration {
        self.report.calibration()
    }
}
