//! The HTML writer: any [`Document`] as one self-contained page (inline CSS, charts inlined as
//! base64 PNG), every piece of text escaped, verdict cells coloured.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::doc::{Block, ClaimGroup, Document, GroupedTable, Link, Table};
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

// Laptop-first: the page never scrolls sideways at 1280 px (wide tables scroll inside their
// own box, long ones in a box of their own height too), charts side by side when two fit;
// printing shows everything (open details, no scroll boxes) without the contents list.
const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 16px;color:#222;line-height:1.4;overflow-wrap:anywhere}\
h1{font-size:1.7em;margin:.2em 0 .5em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
.preview{background:#fff4d6;border:1px solid #e6c36b;padding:8px 12px;border-radius:4px}\
.scroll{overflow:auto;max-width:100%;margin:1em 0}.scroll.tall{max-height:75vh;border:1px solid #ddd}\
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.scroll.tall th{position:sticky;top:0;z-index:1}\
tr.group th{background:#e8eef7;position:static}\
td.holds{background:#d9f2d9}td.fails{background:#f8d0d0}td.inconclusive{background:#fde7c4}td.not-run{background:#e6e6e6}td.depends{background:#e6d9f5}\
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:13px;font-weight:600;white-space:nowrap}\
.badge.holds{background:#d9f2d9;color:#145214}.badge.fails{background:#f8d0d0;color:#7a0d0d}.badge.inconclusive{background:#fde7c4;color:#6b4300}\
.badge.not-run{background:#e6e6e6;color:#444}.badge.depends{background:#e6d9f5;color:#4a2373}\
table.claims{width:100%;table-layout:fixed}table.claims col.c{width:34%}table.claims col.v{width:110px}\
table.claims tr.more td{border-top:none;padding:0 8px 4px}table.claims tr.head td{border-bottom:none}\
details summary{cursor:pointer;color:#3a5a8c;font-size:13px}details dl{margin:.5em 0}\
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:12px;margin:1em 0 2em}\
figure{margin:0}img{max-width:100%;height:auto;border:1px solid #ddd}figcaption{font-size:13px;color:#555}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px}dt{font-weight:bold}dd{margin:0}\
ul.links{padding-left:1.2em}nav ul.links{columns:2}\
@media print{body{max-width:none;margin:0;padding:0;font-size:11pt}.scroll,.scroll.tall{overflow:visible;max-height:none;border:none}\
nav{display:none}figure,tr{break-inside:avoid}.figs{grid-template-columns:1fr}h2{break-after:avoid}}";

/// Opens every `<details>` before printing, so a printed report has everything.
const SCRIPT: &str = "window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true})});";

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
    let tall = if t.rows.len() > 25 { " tall" } else { "" };
    let _ = write!(out, "<div class=\"scroll{tall}\"><table>\n<tr>");
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
    out.push_str("</table></div>\n");
}

fn badge(v: &str) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        verdict_class(v),
        escape_html(v)
    )
}

fn definitions(out: &mut String, facts: &[(String, String)]) {
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

fn links(out: &mut String, items: &[Link]) {
    out.push_str("<ul class=\"links\">\n");
    for l in items {
        let _ = writeln!(
            out,
            "<li>{}<a href=\"#{}\">{}</a> {}</li>",
            l.verdict
                .as_deref()
                .map(|v| badge(v) + " ")
                .unwrap_or_default(),
            escape_html(&l.anchor),
            escape_html(&l.text),
            escape_html(&l.after)
        );
    }
    out.push_str("</ul>\n");
}

fn figure(out: &mut String, charts_dir: &Path, title: &str, slug: &str) -> Result<(), ReportError> {
    let path = charts_dir.join(format!("{slug}.png"));
    let png = std::fs::read(&path).map_err(io_err(&path))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    let title = escape_html(title);
    let _ = writeln!(
        out,
        "<figure id=\"chart-{}\"><img alt=\"{title}\" src=\"data:image/png;base64,{b64}\"><figcaption>{title}</figcaption></figure>",
        escape_html(slug)
    );
    Ok(())
}

fn claims(out: &mut String, g: &ClaimGroup, charts_dir: &Path) -> Result<(), ReportError> {
    out.push_str(
        "<div class=\"scroll\"><table class=\"claims\"><colgroup><col class=\"c\"><col class=\"v\"><col><col></colgroup>\n\
         <tr><th>claim</th><th>verdict</th><th>measured vs expected</th><th>what would flip it</th></tr>\n",
    );
    for c in &g.claims {
        let _ = writeln!(
            out,
            "<tr class=\"head\" id=\"{}\"><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&c.anchor),
            escape_html(&c.id),
            escape_html(&c.text),
            badge(&c.verdict),
            escape_html(&c.measured),
            escape_html(&c.flip)
        );
        let n = c.what_if.as_ref().map_or(0, |t| t.rows.len());
        let _ = write!(
            out,
            "<tr class=\"more\"><td colspan=\"4\"><details><summary>why{}</summary>",
            if n > 0 {
                format!(
                    ", mechanism and {n} what-if row{}",
                    if n == 1 { "" } else { "s" }
                )
            } else {
                " and mechanism".to_string()
            }
        );
        definitions(out, &c.details);
        if let Some(t) = &c.what_if {
            table(out, t);
        }
        out.push_str("</details></td></tr>\n");
    }
    out.push_str("</table></div>\n");
    if !g.see_also.is_empty() {
        let links: Vec<String> = g
            .see_also
            .iter()
            .map(|(title, slug)| {
                format!(
                    "<a href=\"#chart-{}\">{}</a>",
                    escape_html(slug),
                    escape_html(title)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"also\">Also judged on the chart above: {}</p>",
            links.join(", ")
        );
    }
    if !g.charts.is_empty() {
        out.push_str("<div class=\"figs\">\n");
        for (title, slug) in &g.charts {
            figure(out, charts_dir, title, slug)?;
        }
        out.push_str("</div>\n");
    }
    Ok(())
}

fn grouped(out: &mut String, t: &GroupedTable) {
    let rows: usize = t.groups.iter().map(|(_, r)| r.len() + 1).sum();
    let tall = if rows > 25 { " tall" } else { "" };
    let _ = write!(out, "<div class=\"scroll{tall}\"><table>\n<thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", escape_html(h));
    }
    out.push_str("</tr></thead>\n");
    for (head, rows) in &t.groups {
        let _ = writeln!(
            out,
            "<tbody><tr class=\"group\"><th colspan=\"{}\">{}</th></tr>",
            t.headers.len(),
            escape_html(head)
        );
        for r in rows {
            out.push_str("<tr>");
            for c in r {
                let _ = write!(out, "<td>{}</td>", escape_html(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table></div>\n");
}

/// `d` as an HTML page; images are read from `charts_dir/<slug>.png` and inlined.
pub fn to_html(d: &Document, charts_dir: &Path) -> Result<String, ReportError> {
    let mut out = String::new();
    let title = escape_html(&d.title);
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\n<h1>{title}</h1>",
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
            Block::Paragraph(text) if text.starts_with("PREVIEW") => {
                let _ = writeln!(out, "<p class=\"preview\">{}</p>", escape_html(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape_html(text));
            }
            Block::Definitions(facts) => definitions(&mut out, facts),
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
                out.push_str("<div class=\"figs\">\n");
                figure(&mut out, charts_dir, title, slug)?;
                out.push_str("</div>\n");
            }
            // A contents list is navigation: left out of print.
            Block::Links(items) if items.iter().all(|l| l.verdict.is_none()) => {
                out.push_str("<nav>");
                links(&mut out, items);
                out.push_str("</nav>\n");
            }
            Block::Links(items) => links(&mut out, items),
            Block::Claims(g) => claims(&mut out, g, charts_dir)?,
            Block::Grouped(t) => grouped(&mut out, t),
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
