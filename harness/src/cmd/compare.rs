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
    /// The point it was judged at; `None` for the verdict of record.
    pub point: Option<usize>,
    /// The verdict in A.
    pub a: Verdict,
    /// The verdict in B.
    pub b: Verdict,
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
        notes.push(format!("scenario `{id}` only in A"));
    }
    for id in b.keys().filter(|k| !a.contains_key(*k)) {
        notes.push(format!("scenario `{id}` only in B"));
    }
    for (id, sa) in a {
        let Some(sb) = b.get(id) else { continue };
        let sim = sims::registry::find(&sa.scenario.sim);
        if sa.scenario.file_sha256 != sb.scenario.file_sha256 {
            notes.push(format!(
                "scenario `{id}`: the scenario files differ between A and B"
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
                    flips.push(Flip {
                        scenario: id.clone(),
                        claim: ca.id.clone(),
                        point: Some(ca.point),
                        a: ca.verdict,
                        b: cb.verdict,
                    });
                }
            }
        }
        for pa in &sa.points {
            let Some(pb) = sb.points.iter().find(|p| p.index == pa.index) else {
                notes.push(format!("scenario `{id}`: point {} only in A", pa.index));
                continue;
            };
            if pa.params != pb.params {
                notes.push(format!(
                    "scenario `{id}`: point {} has different parameters in A and B",
                    pa.index
                ));
            }
            let label = pa
                .label
                .clone()
                .unwrap_or_else(|| format!("point {}", pa.index));
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
    (rows, flips, notes)
}

fn pct(x: f64) -> String {
    format!("{}{}%", if x >= 0.0 { "+" } else { "" }, fmt_num(x * 100.0))
}

fn est(e: &MetricEstimate) -> String {
    format!(
        "{} ± {} {}",
        fmt_num(e.mean),
        fmt_num((e.ci95[1] - e.ci95[0]) / 2.0),
        e.unit
    )
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
    let threshold = args.threshold / 100.0;
    let (rows, flips, notes) = compare(&a, &b, threshold);

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
            format!("A: `{}`", self.a.display()),
            format!("B: `{}`", self.b.display()),
        ]));
        d.paragraph(self.summary_line);
        if !self.flips.is_empty() {
            d.heading(2, "Verdicts that flipped", Some("flips"));
            let mut t = Table::new(["scenario", "claim", "point", "A", "B"]);
            t.rows = self
                .flips
                .iter()
                .map(|f| {
                    vec![
                        f.scenario.clone(),
                        f.claim.clone(),
                        f.point
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "of record".into()),
                        f.a.as_str().to_string(),
                        f.b.as_str().to_string(),
                    ]
                })
                .collect();
            // B's verdict is the one that now stands.
            t.verdict_col = Some(4);
            d.push(Block::Table(t));
        }
        if !self.notes.is_empty() {
            d.heading(2, "Notes", Some("notes"));
            d.push(Block::Bullets(self.notes.to_vec()));
        }
        d.heading(2, "Metrics", Some("metrics"));
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
                    r.p_value.to_string(),
                    r.call.as_str().to_string(),
                ]
            })
            .collect();
        d.push(Block::Table(t));
        d
    }
}

#[cfg(test)]
mod tests {
    use sims::stats::student_t_975;

    use super::*;

    fn e(mean: f64, std: f64, n: u32) -> MetricEstimate {
        let half = student_t_975((n - 1) as f64) * std / (n as f64).sqrt();
        MetricEstimate {
            mean,
            ci95: [mean - half, mean + half],
            std,
            n,
            unit: "s".into(),
        }
    }

    #[test]
    fn three_way_calls() {
        let a = e(10.0, 0.1, 20);
        assert_eq!(
            call(&a, &e(10.0, 0.1, 20), 0.02, Better::Lower).0,
            Call::NoChange
        );
        assert_eq!(
            call(&a, &e(10.5, 0.1, 20), 0.02, Better::Lower).0,
            Call::Regressed
        );
        assert_eq!(
            call(&a, &e(9.5, 0.1, 20), 0.02, Better::Lower).0,
            Call::Improved
        );
        assert_eq!(
            call(&a, &e(10.1, 0.1, 20), 0.02, Better::Lower).0,
            Call::WithinNoise
        );
        assert_eq!(
            call(&a, &e(10.5, 0.1, 20), 0.02, Better::Neither).0,
            Call::Increased
        );
    }

    #[test]
    fn html_is_escaped() {
        let flips = [Flip {
            scenario: "<x>".into(),
            claim: "c & d".into(),
            point: Some(0),
            a: Verdict::Holds,
            b: Verdict::Fails,
        }];
        let row = Row {
            scenario: "s".into(),
            point: 0,
            point_label: "a | <b>".into(),
            metric: "m".into(),
            a: e(1.0, 0.1, 5),
            b: e(2.0, 0.1, 5),
            rel_change: 1.0,
            rel_ci: (0.9, 1.1),
            p_value: 0.001,
            call: Call::Increased,
        };
        let report = Report {
            a: Path::new("runs/<a>"),
            b: Path::new("runs/b"),
            summary_line: "1 metrics compared",
            flips: &flips,
            notes: &["scenario `<y>` only in A".to_string()],
            rows: &[&row],
        };
        let doc = report.document();
        let h = to_html(&doc, Path::new("/nonexistent")).unwrap();
        for escaped in [
            "&lt;x&gt;",
            "c &amp; d",
            "a | &lt;b&gt;",
            "runs/&lt;a&gt;",
            "`&lt;y&gt;`",
        ] {
            assert!(h.contains(escaped), "{escaped} in {h}");
        }
        assert!(!h.contains("<x>") && !h.contains("<b>") && !h.contains("<y>"));
        assert!(h.contains("<td class=\"fails\">fails</td>"));
        let md = to_markdown(&doc);
        assert!(md.contains("| s | a \\| &lt;b&gt; | m |"), "{md}");
        // Paths in code spans stay as written: Markdown shows them literally.
        assert!(md.contains("`runs/<a>`") && md.contains("`<y>`"), "{md}");
    }
}
