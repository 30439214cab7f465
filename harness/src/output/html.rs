//! The HTML writer: any [`Document`] as one self-contained page (inline CSS, charts inlined as
//! base64 PNG), every piece of text escaped, verdict cells coloured.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::doc::{Block, Document, Table};
use super::{ReportError, io_err};
use crate::summary::Verdict;

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
th{background:#f3f3f3}td.holds{background:#d9f2d9}td.fails{background:#f8d0d0}td.inconclusive{background:#fde7c4}td.not-run{background:#e6e6e6}td.depends{background:#e6d9f5}\
img{max-width:100%;border:1px solid #ddd}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}dd{margin:0}";

/// A verdict's CSS class (its colour in [`STYLE`]).
fn verdict_class(v: &str) -> &'static str {
    match v {
        x if x == Verdict::Holds.as_str() => "holds",
        x if x == Verdict::Fails.as_str() => "fails",
        x if x == Verdict::Inconclusive.as_str() => "inconclusive",
        x if x == Verdict::Depends.as_str() => "depends",
        // `lab compare`'s calls share the verdicts' colours.
        "regressed" => "fails",
        "improved" => "holds",
        "increased" | "decreased" => "depends",
        _ => "not-run",
    }
}

fn table(out: &mut String, t: &Table) {
    table_links(out, t, None);
}

fn table_links(out: &mut String, t: &Table, links: Option<(usize, &[String])>) {
    out.push_str("<table>\n<tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", escape_html(h));
    }
    out.push_str("</tr>\n");
    for (ri, r) in t.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if let Some((_, hrefs)) = links.filter(|(col, h)| *col == i && ri < h.len()) {
                let _ = write!(
                    out,
                    "<td><a href=\"{}\">{}</a></td>",
                    escape_html(&hrefs[ri]),
                    escape_html(c)
                );
            } else if t.verdict_col == Some(i) {
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

/// `d` as an HTML page; images are read from `charts_dir/<slug>.png` and inlined.
pub fn to_html(d: &Document, charts_dir: &Path) -> Result<String, ReportError> {
    let mut out = String::new();
    let title = escape_html(&d.title);
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>",
    );
    for b in &d.blocks {
        match b {
            Block::Heading {
                level,
                text,
                anchor,
            } => {
                let id = anchor
                    .as_deref()
                    .map(|a| format!(" id=\"{}\"", escape_html(a)))
                    .unwrap_or_default();
                let _ = writeln!(out, "<h{level}{id}>{}</h{level}>", escape_html(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape_html(text));
            }
            Block::Definitions(facts) => {
                out.push_str("<dl>\n");
                for (k, v) in facts {
                    let _ = writeln!(
                        out,
                        "<dt>{}</dt><dd>{}</dd>",
                        escape_html(k),
                        escape_html(v)
                    );
                }
                out.push_str("</dl>\n");
            }
            Block::Table(t) => table(&mut out, t),
            Block::Bullets(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", escape_html(i));
                }
                out.push_str("</ul>\n");
            }
            Block::Quote(text) => {
                let _ = writeln!(out, "<blockquote>{}</blockquote>", escape_html(text));
            }
            Block::Image { title, slug } => {
                let path = charts_dir.join(format!("{slug}.png"));
                let png = std::fs::read(&path).map_err(io_err(&path))?;
                let b64 = base64::engine::general_purpose::STANDARD.encode(png);
                let title = escape_html(title);
                let _ = writeln!(
                    out,
                    "<figure><img alt=\"{title}\" src=\"data:image/png;base64,{b64}\"><figcaption>{title}</figcaption></figure>",
                );
            }
            Block::Svg { title, svg } => {
                let _ = writeln!(
                    out,
                    "<figure>{svg}<figcaption>{}</figcaption></figure>",
                    escape_html(title)
                );
            }
            Block::LinkedTable {
                table,
                link_col,
                hrefs,
            } => table_links(&mut out, table, Some((*link_col, hrefs))),
        }
    }
    out.push_str("</body></html>\n");
    Ok(out)
}
