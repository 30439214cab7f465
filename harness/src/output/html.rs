//! `report.html`: the same content as `report.md`, self-contained (inline CSS, charts as
//! base64 PNG), every piece of text escaped.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::markdown::{Table, build, verdict_class};
use super::{ReportError, io_err};
use crate::summary::Summary;

/// Escapes `& < > " '` for HTML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.holds{background:#d9f2d9}td.fails{background:#f8d0d0}td.inconclusive{background:#fde7c4}td.not-run{background:#e6e6e6}\
img{max-width:100%;border:1px solid #ddd}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}dd{margin:0}";

fn table(out: &mut String, t: &Table) {
    out.push_str("<table>\n<tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", escape_html(h));
    }
    out.push_str("</tr>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if t.verdict_col == Some(i) {
                let _ = write!(
                    out,
                    "<td class=\"{}\">{}</td>",
                    verdict_class(c),
                    escape_html(c)
                );
            } else {
                let _ = write!(out, "<td>{}</td>", escape_html(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The HTML report; chart PNGs are read from `charts_dir` and inlined.
pub(crate) fn report(
    s: &Summary,
    charts: &[(String, String)],
    charts_dir: &Path,
) -> Result<String, ReportError> {
    let d = build(s, charts);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<dl>\n",
        escape_html(&d.title),
        escape_html(&d.title)
    );
    for (k, v) in &d.meta {
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            escape_html(k),
            escape_html(v)
        );
    }
    let _ = writeln!(
        out,
        "</dl>\n<h2 id=\"verdicts\">Verdicts</h2>\n<p>{}</p>",
        escape_html(&d.verdict_counts)
    );
    if d.verdicts.rows.is_empty() {
        out.push_str("<p>This scenario makes no claims.</p>\n");
    } else {
        table(&mut out, &d.verdicts);
    }
    if let Some(r) = &d.real {
        out.push_str("<h2 id=\"real\">Real kernels</h2>\n");
        table(&mut out, r);
    }
    for k in &d.real_details {
        let _ = writeln!(out, "<h3>{}</h3>\n<dl>", escape_html(&k.heading));
        for (f, v) in &k.facts {
            let _ = writeln!(
                out,
                "<dt>{}</dt><dd>{}</dd>",
                escape_html(f),
                escape_html(v)
            );
        }
        out.push_str("</dl>\n");
        for f in &k.findings {
            let _ = writeln!(out, "<blockquote>{}</blockquote>", escape_html(f));
        }
        table(&mut out, &k.metrics);
    }
    out.push_str("<h2 id=\"points\">Points</h2>\n<p>Mean ± half-width of the 95% confidence interval across replications.</p>\n");
    table(&mut out, &d.points);
    if !d.charts.is_empty() {
        out.push_str("<h2 id=\"charts\">Charts</h2>\n");
        for (title, slug) in &d.charts {
            let path = charts_dir.join(format!("{slug}.png"));
            let png = std::fs::read(&path).map_err(io_err(&path))?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(png);
            let _ = writeln!(
                out,
                "<figure><img alt=\"{}\" src=\"data:image/png;base64,{b64}\"><figcaption>{}</figcaption></figure>",
                escape_html(title),
                escape_html(title)
            );
        }
    }
    out.push_str("</body></html>\n");
    Ok(out)
}
