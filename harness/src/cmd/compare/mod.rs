//! `lab compare A B`: per scenario, point and metric, the two estimates, the relative change
//! with its 95% interval, a Welch t-test, and a three-way call in criterion's manner:
//! - **no change**: the Welch test does not reject equal means (p ≥ 0.05);
//! - **within noise**: it does, but the change's interval reaches inside ±threshold;
//! - **improved / regressed** (or **increased / decreased** for metrics with no better
//!   direction): the whole interval lies beyond the threshold.
//!
//! Claims whose verdict flipped are listed first.

use std::collections::BTreeMap;
use std::path::Path;

use sims::simulation::Better;
use sims::stats::{SampleMoments, welch};

use crate::cli::CompareArgs;
use crate::error::{LabError, exit_code};
use crate::format::{fmt_est, fmt_p};
use crate::output::{Block, Document, Table, to_html, to_markdown};
use crate::summary::{MetricEstimate, Summary, Verdict, fmt_num};

/// Significance level of the Welch test.
const ALPHA: f64 = 0.05;

/// The call for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    /// Fewer than two replications on a side: no variance, no test.
    NotTestable,
    /// The change is worse, beyond the threshold.
    Regressed,
    /// The change is better, beyond the threshold.
    Improved,
    /// Up beyond the threshold (a metric with no better direction).
    Increased,
    /// Down beyond the threshold (a metric with no better direction).
    Decreased,
    /// A significant change whose interval reaches inside ±threshold.
    WithinNoise,
    /// The Welch test does not reject equal means.
    NoChange,
}

impl Call {
    /// Order of a report: what needs attention first, no change last.
    fn severity(self) -> u8 {
        match self {
            Call::Regressed => 0,
            Call::Improved => 1,
            Call::Increased | Call::Decreased => 2,
            Call::WithinNoise => 3,
            Call::NotTestable => 4,
            Call::NoChange => 5,
        }
    }

    /// The call in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Call::Regressed => "regressed",
            Call::Improved => "improved",
            Call::Increased => "increased",
            Call::Decreased => "decreased",
            Call::WithinNoise => "within noise",
            Call::NoChange => "no change",
            Call::NotTestable => "not testable (n < 2)",
        }
    }
}

/// One compared metric.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario's id.
    pub scenario: String,
    /// The point's index.
    pub point: usize,
    /// The point's label.
    pub point_label: String,
    /// The metric.
    pub metric: String,
    /// The estimate in A.
    pub a: MetricEstimate,
    /// The estimate in B.
    pub b: MetricEstimate,
    /// (B − A) / |A|.
    pub rel_change: f64,
    /// 95% interval of the relative change.
    pub rel_ci: (f64, f64),
    /// The Welch test's two-sided p-value.
    pub p_value: f64,
    /// The call.
    pub call: Call,
}

/// A claim whose verdict differs between A and B.
#[derive(Debug, Clone)]
pub struct Flip {
    /// The scenario's id.
    pub scenario: String,
    /// The claim's id.
    pub claim: String,
    /// The point it was judged at (its label); `None` for the verdict of record.
    pub point: Option<String>,
    /// The verdict in A.
    pub a: Verdict,
    /// The verdict in B.
    pub b: Verdict,
}

/// The flipped verdicts as a table: scenario, claim, point, then the two runs' verdicts under
/// `a` and `b`, the second (the one that now stands) coloured.
pub fn flip_table<'f>(flips: impl IntoIterator<Item = &'f Flip>, a: &str, b: &str) -> Table {
    let mut t = Table::new(["scenario", "claim", "point", a, b]);
    t.rows = flips
        .into_iter()
        .map(|f| {
            vec![
                f.scenario.clone(),
                f.claim.clone(),
                f.point.clone().unwrap_or_else(|| "of record".into()),
                f.a.as_str().to_string(),
                f.b.as_str().to_string(),
            ]
        })
        .collect();
    t.verdict_col = Some(4);
    t
}

/// The moments Welch's test needs from an estimate.
fn moments(e: &MetricEstimate) -> SampleMoments {
    SampleMoments {
        mean: e.mean,
        std: e.std,
        n: e.n,
    }
}

/// The three-way call for one metric.
pub fn call(
    a: &MetricEstimate,
    b: &MetricEstimate,
    threshold: f64,
    better: Better,
) -> (Call, f64, (f64, f64), f64) {
    if a.n < 2 || b.n < 2 {
        let base = [a.mean.abs(), b.mean.abs()]
            .into_iter()
            .find(|x| *x > 0.0)
            .unwrap_or(1.0);
        let rel = (b.mean - a.mean) / base;
        let c = if a.mean == b.mean {
            Call::NoChange
        } else {
            Call::NotTestable
        };
        return (c, rel, (rel, rel), f64::NAN);
    }
    let w = welch(moments(a), moments(b));
    let (p, diff, half) = (w.p_value, w.diff, w.ci95_half);
    let base = [a.mean.abs(), b.mean.abs()]
        .into_iter()
        .find(|x| *x > 0.0)
        .unwrap_or(1.0);
    let rel = diff / base;
    let ci = ((diff - half) / base, (diff + half) / base);
    let c = if p >= ALPHA {
        Call::NoChange
    } else if ci.0 > threshold || ci.1 < -threshold {
        let up = ci.0 > threshold;
        match (better, up) {
            (Better::Lower, true) | (Better::Higher, false) => Call::Regressed,
            (Better::Lower, false) | (Better::Higher, true) => Call::Improved,
            (Better::Neither, true) => Call::Increased,
            (Better::Neither, false) => Call::Decreased,
        }
    } else {
        Call::WithinNoise
    };
    (c, rel, ci, p)
}

fn load(dir: &Path) -> Result<BTreeMap<String, Summary>, LabError> {
    let mut out = BTreeMap::new();
    for d in super::scenario_dirs(dir)? {
        let s = Summary::read(&d.join("summary.json")).map_err(LabError::bad)?;
        out.insert(s.scenario.id.clone(), s);
    }
    Ok(out)
}

/// Compares every scenario present in both runs.
pub fn compare(
    a: &BTreeMap<String, Summary>,
    b: &BTreeMap<String, Summary>,
    threshold: f64,
) -> (Vec<Row>, Vec<Flip>, Vec<String>) {
    let mut rows = Vec::new();
    let mut flips = Vec::new();
    let mut notes = Vec::new();
    for id in a.keys().filter(|k| !b.contains_key(*k)) {
        notes.push(format!("scenario {id} only in A"));
    }
    for id in b.keys().filter(|k| !a.contains_key(*k)) {
        notes.push(format!("scenario {id} only in B"));
    }
    for (id, sa) in a {
        let Some(sb) = b.get(id) else { continue };
        let sim = sims::registry::find(&sa.scenario.sim);
        if sa.scenario.file_sha256 != sb.scenario.file_sha256 {
            notes.push(format!(
                "scenario {id}: the scenario files differ between A and B"
            ));
        }
        // The verdicts of record first: the decision that changed.
        for va in &sa.verdicts {
            if let Some(vb) = sb.verdicts.iter().find(|v| v.id == va.id) {
                if va.verdict != vb.verdict {
                    flips.push(Flip {
                        scenario: id.clone(),
                        claim: va.id.clone(),
                        point: None,
                        a: va.verdict,
                        b: vb.verdict,
                    });
                }
            }
        }
        for ca in &sa.claims {
            if let Some(cb) = sb
                .claims
                .iter()
                .find(|c| c.id == ca.id && c.point == ca.point)
            {
                if ca.verdict != cb.verdict {
                    let label = sa
                        .points
                        .iter()
                        .find(|p| p.index == ca.point)
                        .and_then(|p| p.label.clone())
                        .unwrap_or_else(|| format!("point {}", ca.point));
                    flips.push(Flip {
                        scenario: id.clone(),
                        claim: ca.id.clone(),
                        point: Some(label),
                        a: ca.verdict,
                        b: cb.verdict,
                    });
                }
            }
        }
        for pa in &sa.points {
            let Some(pb) = sb.points.iter().find(|p| p.index == pa.index) else {
                notes.push(format!("scenario {id}: point {} only in A", pa.index));
                continue;
            };
            let label = pa
                .label
                .clone()
                .unwrap_or_else(|| format!("point {}", pa.index));
            let differ = differing_params(&pa.params, &pb.params);
            if !differ.is_empty() {
                notes.push(format!(
                    "scenario {id}: {label} has different parameters in A and B: {}",
                    differ.join(", ")
                ));
            }
            for (m, ea) in &pa.metrics {
                let Some(eb) = pb.metrics.get(m) else {
                    continue;
                };
                let better = sim
                    .and_then(|s| s.metric_def(m))
                    .map(|d| d.better)
                    .unwrap_or(Better::Neither);
                let (c, rel, ci, p) = call(ea, eb, threshold, better);
                rows.push(Row {
                    scenario: id.clone(),
                    point: pa.index,
                    point_label: label.clone(),
                    metric: m.clone(),
                    a: ea.clone(),
                    b: eb.clone(),
                    rel_change: rel,
                    rel_ci: ci,
                    p_value: p,
                    call: c,
                });
            }
        }
    }
    rows.sort_by_key(|r| r.call.severity());
    (rows, flips, notes)
}

/// The parameters (dotted paths) whose values differ between two points' parameter tables.
fn differing_params(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match (a.as_object(), b.as_object()) {
            (Some(ma), Some(mb)) => {
                let keys: std::collections::BTreeSet<&String> =
                    ma.keys().chain(mb.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match (ma.get(k), mb.get(k)) {
                        (Some(x), Some(y)) => walk(x, y, &p, out),
                        _ => out.push(p),
                    }
                }
            }
            _ if a != b => out.push(if path.is_empty() {
                "params".into()
            } else {
                path.into()
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out
}

/// What makes two runs of one scenario incomparable: a quick run against a full one, or
/// different parameters (`--set` included). Their changes would not be the code's. A seed or a
/// replication count alone only changes the noise, which the test accounts for.
pub fn settings_differences(a: &Summary, b: &Summary) -> Vec<String> {
    let (pa, pb) = (&a.provenance, &b.provenance);
    let id = &a.scenario.id;
    let mut out = Vec::new();
    let mode = |q: bool| if q { "--quick" } else { "a full run" };
    if pa.quick != pb.quick {
        out.push(format!(
            "{id}: A is {}, B is {}",
            mode(pa.quick),
            mode(pb.quick)
        ));
    }
    let mut params = std::collections::BTreeSet::new();
    for p in &a.points {
        if let Some(q) = b.points.iter().find(|q| q.index == p.index) {
            params.extend(differing_params(&p.params, &q.params));
        }
    }
    if !params.is_empty() {
        let names: Vec<String> = params.into_iter().collect();
        out.push(format!("{id}: parameters differ: {}", names.join(", ")));
    }
    // A budget that left probes out can keep a verdict its assumptions would flip: a budget
    // only matters where it cut.
    let cut = |p: &crate::summary::Provenance| p.robustness.as_ref().map_or(0, |r| r.skipped.len());
    let budget =
        |p: &crate::summary::Provenance| match p.robustness.as_ref().map(|r| r.budget_ratio) {
            Some(Some(r)) => format!("{}x the plain run", fmt_num(r)),
            Some(None) | None => "none".to_string(),
        };
    if (cut(pa) > 0 || cut(pb) > 0) && budget(pa) != budget(pb) {
        out.push(format!(
            "{id}: robustness budgets differ (A: {}, {} probes left out; B: {}, {} left out): \
             a verdict may be `depends` in one and not the other",
            budget(pa),
            cut(pa),
            budget(pb),
            cut(pb)
        ));
    }
    out
}

fn pct(x: f64) -> String {
    format!("{}{}%", if x >= 0.0 { "+" } else { "" }, fmt_num(x * 100.0))
}

fn est(e: &MetricEstimate) -> String {
    fmt_est(e.mean, e.ci95, &e.unit)
}

/// Runs `lab compare`.
pub fn run(args: &CompareArgs) -> Result<u8, LabError> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        return Err(LabError::bad(format!(
            "--threshold {}: expected a percentage ≥ 0",
            args.threshold
        )));
    }
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    // Comparing nothing is never what was meant: a CI gate pointed at the wrong directory
    // must not pass.
    if !a.keys().any(|id| b.contains_key(id)) {
        let ids = |m: &BTreeMap<String, Summary>| {
            let v: Vec<&str> = m.keys().map(String::as_str).collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        return Err(LabError::bad(format!(
            "{} and {} have no scenario in common (A: {}; B: {}): nothing to compare",
            args.a.display(),
            args.b.display(),
            ids(&a),
            ids(&b)
        )));
    }
    let mut different = Vec::new();
    for (id, sa) in &a {
        if let Some(sb) = b.get(id) {
            different.extend(settings_differences(sa, sb));
        }
    }
    if !different.is_empty() && !args.allow_different {
        return Err(LabError::bad(format!(
            "{} and {} were run with different settings, so their changes are not the code's:\n  {}\ncompare runs made alike (the same --quick, replications, seed and parameters), or pass --allow-different",
            args.a.display(),
            args.b.display(),
            different.join("\n  ")
        )));
    }
    let threshold = args.threshold / 100.0;
    let (rows, flips, mut notes) = compare(&a, &b, threshold);
    if !different.is_empty() {
        notes.insert(
            0,
            format!("compared with --allow-different: {}", different.join("; ")),
        );
    }
    let describe = |runs: &BTreeMap<String, Summary>| {
        runs.values()
            .next()
            .map(|s| {
                let p = &s.provenance;
                format!(
                    "commit {}{}, {}, {} replications",
                    p.git_commit.chars().take(10).collect::<String>(),
                    if p.git_dirty { " (dirty)" } else { "" },
                    if p.quick { "--quick" } else { "full run" },
                    p.replications
                )
            })
            .unwrap_or_default()
    };
    let (about_a, about_b) = (describe(&a), describe(&b));

    let mut counts: BTreeMap<Call, usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.call).or_default() += 1;
    }
    let summary_line = format!(
        "{} metrics compared (noise threshold {}%): {}; {} verdict(s) flipped",
        rows.len(),
        fmt_num(args.threshold),
        counts
            .iter()
            .map(|(c, n)| format!("{n} {}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        flips.len()
    );

    let changed: Vec<&Row> = rows.iter().filter(|r| r.call != Call::NoChange).collect();
    let all: Vec<&Row> = rows.iter().collect();
    let report = Report {
        a: &args.a,
        b: &args.b,
        about: [&about_a, &about_b],
        summary_line: &summary_line,
        flips: &flips,
        notes: &notes,
        rows: &all,
    };
    // The terminal gets only what changed; the files get every metric.
    let terminal = Report {
        rows: &changed,
        ..report
    };
    super::write_stdout(&to_markdown(&terminal.document()));

    let out = args.out.clone().unwrap_or_else(|| args.b.clone());
    std::fs::create_dir_all(&out)?;
    let doc = report.document();
    std::fs::write(out.join("compare.md"), to_markdown(&doc))?;
    // No images in a comparison: the charts directory is never read.
    let html = to_html(&doc, &out).map_err(|e| LabError::internal(e.to_string()))?;
    std::fs::write(out.join("compare.html"), html)?;
    crate::outln!(
        "written: {} and compare.html",
        out.join("compare.md").display()
    );

    let regressed = rows.iter().any(|r| r.call == Call::Regressed) || !flips.is_empty();
    Ok(if args.fail_on_regression && regressed {
        exit_code::REGRESSION
    } else {
        exit_code::OK
    })
}

/// What the comparison report shows; `rows` are all metrics (the files) or the changed ones
/// (the terminal).
struct Report<'a> {
    a: &'a Path,
    b: &'a Path,
    /// How each run was made: commit, quick or full, replications.
    about: [&'a str; 2],
    summary_line: &'a str,
    flips: &'a [Flip],
    notes: &'a [String],
    rows: &'a [&'a Row],
}

impl Report<'_> {
    /// The report as a document: the runs compared, the summary line, flipped verdicts, notes,
    /// then the metrics.
    fn document(&self) -> Document {
        let mut d = Document::new("lab compare");
        d.push(Block::Bullets(vec![
            format!("A: {} ({})", self.a.display(), self.about[0]),
            format!("B: {} ({})", self.b.display(), self.about[1]),
        ]));
        d.paragraph(self.summary_line);
        if !self.flips.is_empty() {
            d.heading(2, "Verdicts that flipped", Some("flips"));
            d.push(Block::Table(flip_table(self.flips, "A", "B")));
        }
        if !self.notes.is_empty() {
            d.heading(2, "Notes", Some("notes"));
            d.push(Block::Bullets(self.notes.to_vec()));
        }
        d.heading(2, "Metrics", Some("metrics"));
        if self.rows.is_empty() {
            d.paragraph("No metric changed: every difference is within the noise.");
            return d;
        }
        let mut t = Table::new([
            "scenario",
            "point",
            "metric",
            "A",
            "B",
            "change [95% CI]",
            "p",
            "call",
        ]);
        t.rows = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.scenario.clone(),
                    r.point_label.clone(),
                    r.metric.clone(),
                    est(&r.a),
                    est(&r.b),
                    format!(
                        "{} [{}, {}]",
                        pct(r.rel_change),
                        pct(r.rel_ci.0),
                        pct(r.rel_ci.1)
                    ),
                    fmt_p(r.p_value),
                    r.call.as_str().to_string(),
                ]
            })
            .collect();
        t.verdict_col = Some(7);
        d.push(Block::Table(t));
        d
    }
}

#[cfg(test)]
mod tests;
