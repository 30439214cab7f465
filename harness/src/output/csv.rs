//! `results.csv`: one row per (point, replication, metric), RFC 4180 quoting, values in Rust's
//! shortest round-trip form so reading back is exact.

use std::fmt::Write as _;
use std::path::Path;

use super::{ReportError, io_err};
use crate::summary::ResultRow;

const HEADER: &str = "point,replication,seed,metric,value,unit";

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes the rows.
pub(crate) fn write_rows_csv(path: &Path, rows: &[ResultRow]) -> Result<(), ReportError> {
    let mut out = String::with_capacity(rows.len() * 48 + 64);
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            r.point,
            r.replication,
            r.seed,
            field(&r.metric),
            r.value,
            field(&r.unit)
        );
    }
    std::fs::write(path, out).map_err(io_err(path))
}

/// Splits one CSV record (RFC 4180) into fields.
fn split_record(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

/// Reads rows written by `lab run`.
pub fn read_rows_csv(path: &Path) -> Result<Vec<ResultRow>, ReportError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let bad = |line: usize, what: &str| ReportError::Format {
        path: format!("{}:{line}", path.display()),
        message: what.to_string(),
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(bad(1, &format!("expected the header `{HEADER}`")));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let f = split_record(line).ok_or_else(|| bad(n, "unterminated quote"))?;
        if f.len() != 6 {
            return Err(bad(n, &format!("expected 6 fields, found {}", f.len())));
        }
        rows.push(ResultRow {
            point: f[0]
                .parse()
                .map_err(|_| bad(n, "point is not an integer"))?,
            replication: f[1]
                .parse()
                .map_err(|_| bad(n, "replication is not an integer"))?,
            seed: f[2].parse().map_err(|_| bad(n, "seed is not an integer"))?,
            metric: f[3].clone(),
            value: f[4].parse().map_err(|_| bad(n, "value is not a number"))?,
            unit: f[5].clone(),
        });
    }
    Ok(rows)
}
