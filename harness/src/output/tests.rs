//! Output files: exact round trips, escaping, slugs, and charts that render.

use std::collections::BTreeMap;

use super::*;
use crate::summary::*;

fn row(point: usize, metric: &str, value: f64, unit: &str) -> ResultRow {
    ResultRow {
        point,
        replication: 3,
        seed: u64::MAX - 5,
        metric: metric.into(),
        value,
        unit: unit.into(),
    }
}

fn rows() -> Vec<ResultRow> {
    vec![
        row(0, "wait_mean", 0.1 + 0.2, "s"),
        row(1, "odd,\"name\"", -1.5e-300, "a,b"),
        row(2, "p_wait", 1.0 / 3.0, ""),
    ]
}

#[test]
fn csv_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("results.csv");
    csv::write_rows_csv(&p, &rows()).unwrap();
    assert_eq!(read_rows_csv(&p).unwrap(), rows());
}

#[test]
fn csv_reader_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("results.csv");
    std::fs::write(
        &p,
        "point,replication,seed,metric,value,unit\n0,1,2,m,notanumber,s\n",
    )
    .unwrap();
    let e = read_rows_csv(&p).unwrap_err().to_string();
    assert!(e.contains("results.csv:2") && e.contains("value"), "{e}");
}

#[test]
fn parquet_reads_back() {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use ::parquet::record::RowAccessor;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("results.parquet");
    parquet::write_rows_parquet(&p, &rows()).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
    let got: Vec<_> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (
                r.get_long(0).unwrap() as usize,
                r.get_long(2).unwrap() as u64,
                r.get_string(3).unwrap().clone(),
                r.get_double(4).unwrap(),
            )
        })
        .collect();
    let want: Vec<_> = rows()
        .into_iter()
        .map(|r| (r.point, r.seed, r.metric, r.value))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn escaping_and_slugs() {
    assert_eq!(
        escape_html("<a href=\"x\">'&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(slug("M/M/1: mean wait vs λ (ρ)"), "m-m-1-mean-wait-vs");
    assert_eq!(slug("***"), "chart");
}

fn estimate(mean: f64, half: f64) -> MetricEstimate {
    MetricEstimate {
        mean,
        ci95: [mean - half, mean + half],
        std: half,
        n: 10,
        unit: "s".into(),
    }
}

fn mm1_summary() -> Summary {
    let points = [0.3, 0.5, 0.7, 0.9]
        .iter()
        .enumerate()
        .map(|(i, &rho)| {
            let mut metrics = BTreeMap::new();
            metrics.insert("wait_mean".to_string(), estimate(rho / (1.0 - rho), 0.05));
            PointResult {
                index: i,
                label: None,
                params: serde_json::json!({"arrival_rate": rho, "servers": 1}),
                metrics,
            }
        })
        .collect();
    let claim = |point, v, verdict| ClaimResult {
        id: format!("c{point}"),
        text: "<script>alert(1)</script> | pipes".into(),
        metric: "wait_mean".into(),
        point,
        expected: Expected {
            approx: Some(v),
            rel_tol: Some(0.05),
            ..Default::default()
        },
        measured: None,
        verdict,
        reason: "r".into(),
        note: String::new(),
        kind: "mechanism".into(),
        of_record: true,
    };
    let record = |row: usize, c: &ClaimResult| VerdictRecord {
        id: c.id.clone(),
        text: c.text.clone(),
        kind: c.kind.clone(),
        metric: c.metric.clone(),
        verdict: c.verdict,
        rule: "single".into(),
        rows: vec![row],
        reason: c.reason.clone(),
        note: String::new(),
        depends_on: Vec::new(),
        boundary: None,
    };
    let claims = vec![
        claim(1, 1.0, Verdict::Holds),
        claim(3, 9.5, Verdict::Inconclusive),
    ];
    let verdicts = claims
        .iter()
        .enumerate()
        .map(|(i, c)| record(i, c))
        .collect();
    Summary {
        schema: SCHEMA,
        scenario: ScenarioInfo {
            id: "t".into(),
            sim: "example_room".into(),
            file_sha256: "0".repeat(64),
            title: "Test & <title>".into(),
            article: String::new(),
        },
        provenance: Provenance {
            git_commit: "abc".into(),
            git_dirty: false,
            lab_version: "0".into(),
            seed: 1,
            replications: 10,
            host: "h".into(),
            started_at: "now".into(),
            wall_s: 1.0,
            quick: false,
            overrides: vec![],
            probe_replications: 0,
            robustness: None,
        },
        points,
        claims,
        verdicts,
        sources: Default::default(),
        real: vec![],
        charts: vec![ChartSpec {
            title: "Mean wait vs load".into(),
            x: "arrival_rate".into(),
            y: vec!["wait_mean".into()],
            claims: true,
            log_y: true,
            ..Default::default()
        }],
    }
}

#[test]
fn charts_render_to_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let s = mm1_summary();
    let (png, svg) = (dir.path().join("c.png"), dir.path().join("c.svg"));
    render_chart(&s.charts[0], &s, &png, &svg).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.contains("Mean wait vs load"));
    assert!(svg_text.contains("claim (holds)"));
    assert!(svg_text.contains("claim (inconclusive)"));
}

#[test]
fn a_chart_with_no_numeric_points_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = mm1_summary();
    s.charts[0].x = "servers_missing".into();
    let (png, svg) = (dir.path().join("c.png"), dir.path().join("c.svg"));
    render_chart(&s.charts[0], &s, &png, &svg).unwrap();
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("no numeric points")
    );
}

#[test]
fn reports_put_the_decision_first_charts_by_their_claims_and_points_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = mm1_summary();
    s.claims[1].verdict = Verdict::Fails;
    s.verdicts[1].verdict = Verdict::Fails;
    s.verdicts[1].reason = "measured far above. More words.".into();
    write_all(dir.path(), &s, &rows()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let at = |h: &str| md.find(h).unwrap_or_else(|| panic!("{h} in {md}"));
    assert!(at("## Decision") < at("## Contents"));
    assert!(at("## Contents") < at("## Claims"));
    assert!(at("## Claims") < at("![Mean wait vs load](charts/mean-wait-vs-load.png)"));
    assert!(at("![Mean wait vs load]") < at("## Run"));
    assert!(at("## Run") < at("## Points"));
    assert!(md.contains("2 claims: 1 holds, 1 fails, 0 depends, 0 inconclusive."));
    // The claims the decision turns on, linked, with their one-line why.
    assert!(
        md.contains("- **fails** [c3](#claim-c3) — measured far above."),
        "{md}"
    );
    assert!(md.contains("<a id=\"claim-c3\"></a>"));
    // Every row of the claims table has as many cells as the header.
    let table: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("| claim"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let cells = |l: &str| l.replace("\\|", "").matches('|').count();
    assert!(
        table.len() >= 4 && table.iter().all(|l| cells(l) == cells(table[0])),
        "{table:#?}"
    );
    assert!(md.contains("\\| pipes"), "pipes in cells are escaped");
    assert!(
        md.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !md.contains("<script>"),
        "raw HTML in a claim's text is escaped in Markdown too"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("Test &amp; &lt;title&gt;"));
    assert!(html.contains("<span class=\"badge fails\">fails</span>"));
    assert!(html.contains("<tr class=\"head\" id=\"claim-c3\">"));
    assert!(html.contains("<a href=\"#claim-c3\">c3</a>"));
    assert!(html.contains("<details>"));
    assert!(html.contains("@media print"));
    // The chart sits right after the claims it judges, before the points.
    let h = |x: &str| html.find(x).unwrap_or_else(|| panic!("{x}"));
    assert!(h("</table></div>\n<div class=\"figs\">") < h("data:image/png;base64,"));
    assert!(h("data:image/png;base64,") < h("id=\"points\""));
}

/// A long points table is grouped by point: the point's name once, then its metrics.
#[test]
fn many_metrics_group_the_points_table_by_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = mm1_summary();
    for p in &mut s.points {
        for k in 0..9 {
            p.metrics.insert(format!("m{k}"), estimate(1.0, 0.1));
        }
    }
    write_all(dir.path(), &s, &rows()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let groups = html.matches("<tr class=\"group\">").count();
    assert_eq!(groups, 4, "one group row per point");
    assert_eq!(html.matches(">0 (arrival_rate=0.3)<").count(), 1);
}

#[test]
fn absurd_claimed_values_do_not_break_the_axes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = mm1_summary();
    s.claims[0].expected = Expected {
        lt: Some(1.7e308),
        ..Default::default()
    };
    s.claims[1].expected = Expected {
        between: Some([-1e308, 1e308]),
        ..Default::default()
    };
    s.charts[0].log_y = false;
    let (png, svg) = (dir.path().join("c.png"), dir.path().join("c.svg"));
    render_chart(&s.charts[0], &s, &png, &svg).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
}

#[test]
fn writers_render_every_block_and_escape_it() {
    let mut d = Document::new("A | <b>");
    d.push(Block::Definitions(vec![("k".into(), "v\nw".into())]));
    d.heading(2, "Section", Some("sec"));
    d.paragraph("text & more");
    let mut t = Table::new(["x", "verdict"]);
    t.rows = vec![vec!["a|b".into(), "fails".into()]];
    t.verdict_col = Some(1);
    d.push(Block::Table(t));
    d.push(Block::Bullets(vec!["one".into(), "<two>".into()]));
    d.push(Block::Quote("said".into()));
    d.heading(3, "Sub", None);
    let md = to_markdown(&d);
    assert_eq!(
        md,
        "# A \\| &lt;b&gt;\n\n- **k**: v w\n\n## Section\n\ntext &amp; more\n\n| x | verdict |\n|---|---|\n\
         | a\\|b | fails |\n\n- one\n- &lt;two&gt;\n\n> said\n\n### Sub\n\n"
    );
    let html = to_html(&d, std::path::Path::new("/nonexistent")).unwrap();
    for want in [
        "<title>A | &lt;b&gt;</title>",
        "<h1>A | &lt;b&gt;</h1>\n<dl>\n<dt>k</dt><dd>v\nw</dd>\n</dl>\n",
        "<h2 id=\"sec\">Section</h2>\n<p>text &amp; more</p>\n",
        "<td>a|b</td><td class=\"fails\">fails</td>",
        "<div class=\"scroll\"><table>",
        "<ul>\n<li>one</li>\n<li>&lt;two&gt;</li>\n</ul>\n<blockquote>said</blockquote>\n<h3>Sub</h3>\n",
    ] {
        assert!(html.contains(want), "{want:?} in {html}");
    }
}

/// One x value: dots, not a line to nowhere; a claim sits on (and wears the colour of) the
/// line it was judged against; a bound is drawn as a threshold with its legend entry.
#[test]
fn chart_facts_name_dots_claim_lines_and_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = mm1_summary();
    s.points.truncate(2);
    s.points[1].params = s.points[0].params.clone();
    s.points[1].params["servers"] = serde_json::json!(2);
    s.charts[0].series = Some("servers".into());
    s.claims.truncate(1);
    s.claims[0].expected = Expected {
        lt: Some(2.0),
        ..Default::default()
    };
    let (png, svg) = (dir.path().join("c.png"), dir.path().join("c.svg"));
    render_chart(&s.charts[0], &s, &png, &svg).unwrap();
    let facts: super::chart::ChartFacts =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c.json")).unwrap()).unwrap();
    assert!(facts.dots, "{facts:?}");
    let names: Vec<&str> = facts.legend.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "servers = 1",
            "servers = 2",
            "claim (holds)",
            "claimed bound (shaded: the claimed side)"
        ]
    );
    assert_eq!(facts.legend[0][1], "dot");
    assert_eq!(
        facts.claims,
        [["c1".to_string(), "servers = 2".to_string()]]
    );
}

#[test]
fn a_chart_shared_by_two_claim_groups_is_drawn_once_and_linked_from_the_second() {
    let mut s = mm1_summary();
    s.verdicts[1].metric = "p_wait".into();
    let chart = |slug: &str, metrics: &[&str]| decision::ChartRef {
        title: format!("chart {slug}"),
        slug: slug.into(),
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        kernel: None,
    };
    // `p_wait` is judged first on its own chart, then on the one it shares with `wait_mean`.
    let charts = vec![
        chart("own", &["p_wait"]),
        chart("shared", &["wait_mean", "p_wait"]),
    ];
    let records: Vec<&VerdictRecord> = s.verdicts.iter().collect();
    let mut placed = Vec::new();
    let groups = decision::groups(&s, &records, &charts, &mut placed);
    assert_eq!(groups.len(), 2);
    let slugs = |v: &[(String, String)]| v.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
    assert_eq!(slugs(&groups[0].charts), ["shared"]);
    assert!(groups[0].see_also.is_empty());
    assert_eq!(slugs(&groups[1].charts), ["own"]);
    assert_eq!(slugs(&groups[1].see_also), ["shared"]);
}
