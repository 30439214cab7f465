//! The Markdown writer: any [`Document`] as GitHub-flavoured Markdown, every block followed by
//! a blank line. Text is written as given except that HTML's `&`, `<` and `>` become entities
//! (Markdown renderers pass raw HTML through: a claim's text must not run as a script), pipes
//! are escaped and newlines become spaces, so that a cell or a list item stays on its line.

use std::fmt::Write as _;

use super::doc::{Block, ClaimGroup, Document, Table};

/// `s` on one line, inert as HTML and safe in a table cell. Code spans (between backticks) are
/// left as written: Markdown shows them literally anyway.
fn md_cell(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                part.to_string()
            } else {
                part.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            }
        })
        .collect::<Vec<_>>()
        .join("`")
        .replace('|', "\\|")
        .replace('\n', " ")
}

fn md_table(out: &mut String, t: &Table) {
    md_table_links(out, t, None);
}

/// A Markdown link target: spaces and parentheses percent-encoded.
fn md_href(h: &str) -> String {
    h.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
}

fn md_table_links(out: &mut String, t: &Table, links: Option<(usize, &[String])>) {
    let _ = writeln!(
        out,
        "| {} |",
        t.headers
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(t.headers.len()));
    for (ri, r) in t.rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(ci, c)| match links {
                Some((col, hrefs)) if col == ci && ri < hrefs.len() => {
                    format!("[{}]({})", md_cell(c), md_href(&hrefs[ri]))
                }
                _ => md_cell(c),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// `d` as Markdown; images link to `charts/<slug>.png`.
pub fn to_markdown(d: &Document) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md_cell(&d.title));
    for b in &d.blocks {
        match b {
            Block::Heading { level, text, .. } => {
                let _ = writeln!(out, "{} {}\n", "#".repeat(*level as usize), md_cell(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{}\n", md_cell(text));
            }
            Block::Definitions(facts) => {
                for (k, v) in facts {
                    let _ = writeln!(out, "- **{}**: {}", md_cell(k), md_cell(v));
                }
                out.push('\n');
            }
            Block::Table(t) => md_table(&mut out, t),
            Block::Bullets(items) => {
                for i in items {
                    let _ = writeln!(out, "- {}", md_cell(i));
                }
                out.push('\n');
            }
            Block::Quote(text) => {
                let _ = writeln!(out, "> {}\n", md_cell(text));
            }
            Block::Image { title, slug } => {
                let _ = writeln!(out, "![{}](charts/{slug}.png)\n", md_cell(title));
            }
            Block::Links(items) => {
                for l in items {
                    let badge = l
                        .verdict
                        .as_deref()
                        .map(|v| format!("**{v}** "))
                        .unwrap_or_default();
                    let after = if l.after.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", md_cell(&l.after))
                    };
                    let _ = writeln!(out, "- {badge}[{}](#{}){after}", md_cell(&l.text), l.anchor);
                }
                out.push('\n');
            }
            Block::Claims(g) => md_claims(&mut out, g),
            Block::Grouped(t) => {
                let mut flat =
                    Table::new(std::iter::once("point".to_string()).chain(t.headers.clone()));
                for (head, rows) in &t.groups {
                    for (i, r) in rows.iter().enumerate() {
                        let first = if i == 0 { head.clone() } else { String::new() };
                        flat.rows
                            .push(std::iter::once(first).chain(r.clone()).collect());
                    }
                }
                md_table(&mut out, &flat);
            }
            Block::Svg { title, .. } => {
                let _ = writeln!(out, "*Chart: {} (in the HTML page).*\n", md_cell(title));
            }
            Block::LinkedTable {
                table,
                link_col,
                hrefs,
            } => md_table_links(&mut out, table, Some((*link_col, hrefs))),
        }
    }
    out
}

/// Claims as a compact table, then each claim's details under its anchor.
fn md_claims(out: &mut String, g: &ClaimGroup) {
    let mut t = Table::new([
        "claim",
        "verdict",
        "measured vs expected",
        "what would flip it",
    ]);
    t.rows = g
        .claims
        .iter()
        .map(|c| {
            vec![
                format!("[{}](#{}): {}", c.id, c.anchor, c.text),
                format!("**{}**", c.verdict),
                c.measured.clone(),
                c.flip.clone(),
            ]
        })
        .collect();
    md_table(out, &t);
    if !g.see_also.is_empty() {
        let links: Vec<String> = g
            .see_also
            .iter()
            .map(|(title, slug)| format!("[{}](charts/{slug}.png)", md_cell(title)))
            .collect();
        let _ = writeln!(
            out,
            "Also judged on the chart above: {}\n",
            links.join(", ")
        );
    }
    for (title, slug) in &g.charts {
        let _ = writeln!(out, "![{}](charts/{slug}.png)\n", md_cell(title));
    }
    for c in &g.claims {
        // An anchor the links above reach (ids are slugs: nothing to escape).
        let _ = writeln!(
            out,
            "<a id=\"{}\"></a>\n**{}** ({})\n",
            c.anchor,
            md_cell(&c.id),
            c.verdict
        );
        for (k, v) in &c.details {
            let _ = writeln!(out, "- {}: {}", md_cell(k), md_cell(v));
        }
        out.push('\n');
        if let Some(w) = &c.what_if {
            md_table(out, w);
        }
    }
}
