//! Everything a run leaves behind for people and other tools, written from a [`Summary`] and its
//! [`ResultRow`]s alone (so `lab report` can redo it without rerunning a model):
//!
//! - `results.csv` and `results.parquet`: one row per metric, replication and point
//!   ([`csv`](self::csv), [`parquet`](self::parquet));
//! - `charts/<slug>.png` and `.svg`: one per `[[charts]]` entry ([`chart`](self::chart));
//! - `report.md` and a self-contained `report.html` ([`markdown`](self::markdown),
//!   [`html`](self::html)).
//!
//! This file holds the public entry points, the error type and what several outputs share: the
//! chart file names and the helpers that read a point's parameters (in [`params`](self::params)).

use std::path::{Path, PathBuf};

use crate::summary::{ChartSpec, ResultRow, Summary};

mod chart;
mod csv;
mod html;
mod markdown;
mod params;
mod parquet;

pub use self::chart::render_chart;
pub use self::csv::read_rows_csv;
pub use self::html::escape_html;

/// Why a report output could not be written or read. Every message names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be read, written, listed or removed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `results.csv` is not in the layout this module writes.
    #[error("{path}:{line}: {msg}")]
    Csv {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// The parquet writer refused the data.
    #[error("{path}: cannot write parquet: {msg}")]
    Parquet { path: PathBuf, msg: String },
    /// plotters could not draw or save a chart.
    #[error("{path}: cannot draw chart {title:?}: {msg}")]
    Chart {
        path: PathBuf,
        title: String,
        msg: String,
    },
    /// `summary.json` is missing or malformed (the message already names the file).
    #[error("{0}")]
    Summary(String),
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where the charts go, relative to the run folder; the reports link to it.
const CHARTS_DIR: &str = "charts";

/// Writes results.csv, results.parquet, report.md, report.html and charts/*.png + charts/*.svg into `dir` (which exists).
///
/// The data files are written first so that a chart that cannot be drawn never costs the results.
/// A failed chart does not stop the reports either: they are written with a note in its place,
/// and the first chart error is returned afterwards.
pub fn write_all(dir: &Path, summary: &Summary, rows: &[ResultRow]) -> Result<(), ReportError> {
    csv::write_rows_csv(&dir.join("results.csv"), rows)?;
    parquet::write_rows_parquet(&dir.join("results.parquet"), rows)?;
    render_reports(dir, summary, rows.len())
}

/// Re-renders report.md, report.html and the charts from summary.json and results.csv already in `dir` (for `lab report`). Does not rewrite results.*.
pub fn rerender(dir: &Path) -> Result<(), ReportError> {
    let summary = Summary::read(&dir.join("summary.json")).map_err(ReportError::Summary)?;
    // Read the rows even though the reports only count them: a report must not be redrawn over
    // results that no longer parse.
    let rows = read_rows_csv(&dir.join("results.csv"))?;
    remove_stale_charts(&dir.join(CHARTS_DIR))?;
    render_reports(dir, &summary, rows.len())
}

/// Draws the charts, then writes both reports (noting any chart that failed), then returns the
/// first chart error, if any.
fn render_reports(dir: &Path, summary: &Summary, n_rows: usize) -> Result<(), ReportError> {
    let charts_dir = dir.join(CHARTS_DIR);
    let files = chart_files(&summary.charts);
    if !files.is_empty() {
        std::fs::create_dir_all(&charts_dir).map_err(|e| ReportError::io(&charts_dir, e))?;
    }
    let mut first_err = None;
    let mut charts = Vec::with_capacity(files.len());
    for (spec, slug) in summary.charts.iter().zip(&files) {
        let png = charts_dir.join(format!("{slug}.png"));
        let svg = charts_dir.join(format!("{slug}.svg"));
        let outcome = match render_chart(spec, summary, &png, &svg) {
            Ok(()) => Ok(()),
            Err(e) => {
                let msg = e.to_string();
                first_err.get_or_insert(e);
                Err(msg)
            }
        };
        charts.push(ChartOut {
            title: spec.title.clone(),
            slug: slug.clone(),
            png,
            outcome,
        });
    }
    let md_path = dir.join("report.md");
    let md = markdown::render_markdown(summary, &charts, n_rows);
    std::fs::write(&md_path, md).map_err(|e| ReportError::io(&md_path, e))?;
    let html_path = dir.join("report.html");
    let html = html::render_html(summary, &charts, n_rows)?;
    std::fs::write(&html_path, html).map_err(|e| ReportError::io(&html_path, e))?;
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A chart as the reports see it.
pub(crate) struct ChartOut {
    pub title: String,
    /// File stem under `charts/`.
    pub slug: String,
    /// Where the PNG was written (the HTML report embeds it).
    pub png: PathBuf,
    /// `Err(message)` when it could not be drawn.
    pub outcome: Result<(), String>,
}

/// Deletes the charts a previous rendering left, so a renamed or removed `[[charts]]` entry leaves
/// no orphan behind. Only `.png` and `.svg` files are touched.
fn remove_stale_charts(charts_dir: &Path) -> Result<(), ReportError> {
    let entries = match std::fs::read_dir(charts_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::io(charts_dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| ReportError::io(charts_dir, e))?.path();
        let is_chart = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("png" | "svg")
        );
        if is_chart && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| ReportError::io(&path, e))?;
        }
    }
    Ok(())
}

/// The file stem of each chart, in order: the slug of its title, with `-2`, `-3`, … appended
/// when two titles give the same slug.
pub(crate) fn chart_files(charts: &[ChartSpec]) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    charts
        .iter()
        .map(|c| {
            let base = slug(&c.title);
            let mut name = base.clone();
            let mut k = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}-{k}");
                k += 1;
            }
            name
        })
        .collect()
}

/// A file-name-safe form of a title: lowercase ASCII letters, digits and single dashes; `chart`
/// when nothing is left.
pub(crate) fn slug(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "chart".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::summary::{
        ClaimResult, Expected, MetricEstimate, PointResult, Provenance, RealResult, ScenarioInfo,
        Verdict,
    };
    use std::collections::BTreeMap;

    /// A fresh, empty folder under the system temp dir (no `tempfile` in the scratch crate).
    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "claimlab-report-test-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    pub(crate) fn estimate(mean: f64, half: f64, unit: &str) -> MetricEstimate {
        MetricEstimate {
            mean,
            ci95: [mean - half, mean + half],
            std: half,
            n: 10,
            unit: unit.to_string(),
        }
    }

    /// An M/M/1-like summary: `wait_mean = ρ/(1-ρ)` over `arrival_rate` (service rate 1), with
    /// two claims on the chart and one outside it.
    pub(crate) fn mm1_summary() -> Summary {
        let rates = [0.3, 0.5, 0.7, 0.8, 0.9];
        let points = rates
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let w = r / (1.0 - r);
                let mut metrics = BTreeMap::new();
                metrics.insert("wait_mean".to_string(), estimate(w, 0.03 * w, "s"));
                metrics.insert(
                    "sojourn_mean".to_string(),
                    estimate(w + 1.0, 0.03 * (w + 1.0), "s"),
                );
                PointResult {
                    index: i,
                    label: (i == 4).then(|| "rho0.9".to_string()),
                    params: serde_json::json!({
                        "arrival_rate": r,
                        "service": {"dist": "exp", "mean": 1},
                        "horizon": 1000,
                    }),
                    metrics,
                }
            })
            .collect::<Vec<_>>();
        let claim = |id: &str, point: usize, v: f64, verdict: Verdict| ClaimResult {
            id: id.to_string(),
            text: format!("mean wait is about {v} <script>alert(1)</script>"),
            metric: "wait_mean".to_string(),
            point,
            expected: Expected {
                approx: Some(v),
                rel_tol: Some(0.05),
                ..Default::default()
            },
            measured: Some(points[point].metrics["wait_mean"].clone()),
            verdict,
            reason: "ci inside | range".to_string(),
        };
        let claims = vec![
            claim("wait-at-half", 1, 1.0, Verdict::Holds),
            claim("wait-at-0.9", 4, 9.0, Verdict::Inconclusive),
            ClaimResult {
                id: "gpu-fast".to_string(),
                text: "the GPU kernel is fast".to_string(),
                metric: "throughput".to_string(),
                point: 0,
                expected: Expected {
                    gt: Some(1e9),
                    ..Default::default()
                },
                measured: None,
                verdict: Verdict::NotRun,
                reason: "no GPU".to_string(),
            },
        ];
        Summary {
            schema: crate::summary::SCHEMA,
            scenario: ScenarioInfo {
                id: "mm1".to_string(),
                sim: "queue".to_string(),
                file_sha256: "00".repeat(32),
                title: "M/M/1 waiting time".to_string(),
                article: "https://example.org/queues".to_string(),
            },
            provenance: Provenance {
                git_commit: "abc123".to_string(),
                git_dirty: true,
                lab_version: "0.1.0".to_string(),
                seed: 42,
                replications: 10,
                host: "testhost".to_string(),
                started_at: "2025-01-01T00:00:00Z".to_string(),
                wall_s: 1.25,
                quick: true,
                overrides: vec![],
            },
            points,
            claims,
            real: vec![RealResult {
                kernel: "memcpy".to_string(),
                status: "not_run".to_string(),
                reason: "no GPU".to_string(),
                metrics: BTreeMap::new(),
            }],
            charts: vec![ChartSpec {
                title: "Mean wait vs arrival rate".to_string(),
                x: "arrival_rate".to_string(),
                y: vec!["wait_mean".to_string()],
                claims: true,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn slugs_are_file_safe_and_unique() {
        assert_eq!(slug("Mean wait vs. ρ (M/M/1)"), "mean-wait-vs-m-m-1");
        assert_eq!(slug("  --Hello__World--  "), "hello-world");
        assert_eq!(slug("ρ"), "chart");
        assert_eq!(slug(""), "chart");
        let specs = ["A b", "a-b", "a  b", "a-b-2", "x"]
            .iter()
            .map(|t| ChartSpec {
                title: t.to_string(),
                ..Default::default()
            })
            .collect::<Vec<_>>();
        assert_eq!(
            chart_files(&specs),
            ["a-b", "a-b-2", "a-b-3", "a-b-2-2", "x"]
        );
    }

    #[test]
    fn write_all_then_rerender() {
        let dir = temp_dir("write-all");
        let summary = mm1_summary();
        let rows = vec![ResultRow {
            point: 0,
            replication: 0,
            seed: 7,
            metric: "wait_mean".to_string(),
            value: 0.43,
            unit: "s".to_string(),
        }];
        write_all(&dir, &summary, &rows).unwrap();
        for f in [
            "results.csv",
            "results.parquet",
            "report.md",
            "report.html",
            "charts/mean-wait-vs-arrival-rate.png",
            "charts/mean-wait-vs-arrival-rate.svg",
        ] {
            assert!(dir.join(f).is_file(), "{f} missing");
        }
        // A stale chart from an earlier rendering is removed; other files are left alone.
        std::fs::write(dir.join("charts/old.png"), b"x").unwrap();
        std::fs::write(dir.join("charts/notes.txt"), b"x").unwrap();
        std::fs::write(
            dir.join("summary.json"),
            serde_json::to_string(&summary).unwrap(),
        )
        .unwrap();
        std::fs::remove_file(dir.join("report.md")).unwrap();
        rerender(&dir).unwrap();
        assert!(dir.join("report.md").is_file());
        assert!(!dir.join("charts/old.png").exists());
        assert!(dir.join("charts/notes.txt").exists());
        assert!(dir.join("charts/mean-wait-vs-arrival-rate.png").is_file());
    }

    #[test]
    fn rerender_names_the_missing_file() {
        let dir = temp_dir("rerender-missing");
        let err = rerender(&dir).unwrap_err().to_string();
        assert!(err.contains("summary.json"), "{err}");
    }
}
