//! Everything `lab run` writes besides `summary.json`: the result tables (`results.csv`,
//! `results.parquet`), the reports (`report.md`, `report.html`) and the charts
//! (`charts/*.png`, `charts/*.svg`). `lab report` calls [`rerender`], which reads back only what
//! `lab run` wrote.
//!
//! Reports are [`Document`]s written by one Markdown and one HTML writer ([`to_markdown`],
//! [`to_html`]); `lab compare` builds its report the same way.

mod chart;
mod csv;
mod decision;
mod doc;
mod html;
mod markdown;
mod parquet;
mod report;

use std::path::Path;

use crate::summary::{ResultRow, Summary};

pub use chart::render_chart;
pub use csv::read_rows_csv;
pub use decision::unchecked_assumptions;
pub use doc::{Block, ClaimEntry, ClaimGroup, Document, GroupedTable, Link, Table};
pub use html::{escape_html, to_html};
pub use markdown::to_markdown;
pub use report::{counts_line, flip_condition};

/// A problem writing or reading report files. Messages name the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A results file is not in the format `lab run` writes.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The Parquet writer failed.
    #[error("{path}: parquet: {message}")]
    Parquet {
        /// The file.
        path: String,
        /// What the writer said.
        message: String,
    },
    /// Drawing a chart failed.
    #[error("{path}: chart: {message}")]
    Chart {
        /// The chart file.
        path: String,
        /// What the renderer said.
        message: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a CSV table as Parquet (integer columns INT64, others UTF8).
pub fn csv_table_to_parquet(path: &Path, csv: &str) -> Result<(), ReportError> {
    parquet::write_csv_table_parquet(path, csv)
}

/// Writes results.csv, results.parquet, report.md, report.html and charts into `dir`.
pub fn write_all(dir: &Path, summary: &Summary, rows: &[ResultRow]) -> Result<(), ReportError> {
    csv::write_rows_csv(&dir.join("results.csv"), rows)?;
    parquet::write_rows_parquet(&dir.join("results.parquet"), rows)?;
    render_reports(dir, summary)
}

/// Redraws report.md, report.html and charts from `dir/summary.json` (and checks that
/// `dir/results.csv` is readable).
pub fn rerender(dir: &Path) -> Result<(), ReportError> {
    let path = dir.join("summary.json");
    let summary = Summary::read(&path).map_err(|message| ReportError::Format {
        path: path.display().to_string(),
        message,
    })?;
    read_rows_csv(&dir.join("results.csv"))?;
    render_reports(dir, &summary)
}

fn render_reports(dir: &Path, summary: &Summary) -> Result<(), ReportError> {
    let charts_dir = dir.join("charts");
    if charts_dir.exists() {
        std::fs::remove_dir_all(&charts_dir).map_err(io_err(&charts_dir))?;
    }
    std::fs::create_dir_all(&charts_dir).map_err(io_err(&charts_dir))?;
    let mut charts = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for spec in &summary.charts {
        let mut slug = slug(&spec.title);
        let base = slug.clone();
        let mut n = 2;
        while !used.insert(slug.clone()) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        let png = charts_dir.join(format!("{slug}.png"));
        let svg = charts_dir.join(format!("{slug}.svg"));
        render_chart(spec, summary, &png, &svg)?;
        charts.push(decision::ChartRef {
            title: spec.title.clone(),
            slug,
            metrics: spec.y.clone(),
            kernel: None,
        });
    }
    for r in &summary.real {
        for series in &r.series {
            let mut slug = slug(&series.id);
            let base = slug.clone();
            let mut n = 2;
            while !used.insert(slug.clone()) {
                slug = format!("{base}-{n}");
                n += 1;
            }
            let png = charts_dir.join(format!("{slug}.png"));
            let svg = charts_dir.join(format!("{slug}.svg"));
            chart::render_series(series, &png, &svg)?;
            charts.push(decision::ChartRef {
                title: series.title.clone(),
                slug,
                metrics: Vec::new(),
                kernel: Some(r.kernel.clone()),
            });
        }
    }
    let doc = report::build(summary, &charts);
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, to_markdown(&doc)).map_err(io_err(&md_path))?;
    let html = to_html(&doc, &charts_dir)?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, html).map_err(io_err(&html_path))?;
    Ok(())
}

/// A file-name-safe slug: lowercase ASCII letters, digits and single dashes.
pub fn slug(title: &str) -> String {
    let mut s = String::new();
    for c in title.chars().flat_map(|c| c.to_lowercase()) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "chart".into() } else { s }
}

/// Short form of the parameters that differ between points (`arrival_rate=0.9, servers=8`).
pub(crate) fn point_label(summary: &Summary, index: usize) -> String {
    let Some(p) = summary.points.iter().find(|p| p.index == index) else {
        return format!("point {index}");
    };
    if let Some(l) = &p.label {
        return l.clone();
    }
    let varying = varying_params(summary);
    let parts: Vec<String> = varying
        .iter()
        .filter_map(|k| p.params.get(k).map(|v| format!("{k}={}", json_short(v))))
        .collect();
    if parts.is_empty() {
        format!("point {index}")
    } else {
        parts.join(", ")
    }
}

/// Top-level parameter names whose values differ between points.
pub(crate) fn varying_params(summary: &Summary) -> Vec<String> {
    let Some(first) = summary.points.first() else {
        return Vec::new();
    };
    let Some(obj) = first.params.as_object() else {
        return Vec::new();
    };
    obj.keys()
        .filter(|k| {
            summary
                .points
                .iter()
                .any(|p| p.params.get(*k) != first.params.get(*k))
        })
        .cloned()
        .collect()
}

/// A compact rendering of a JSON parameter value.
pub(crate) fn json_short(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(crate::summary::fmt_num)
            .unwrap_or_else(|| n.to_string()),
        serde_json::Value::Object(o) => {
            let inner: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{k}={}", json_short(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        serde_json::Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(json_short).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
