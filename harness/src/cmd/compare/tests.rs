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
        point: Some("p0".into()),
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
        about: [
            "commit abc, full run, 20 replications",
            "commit def, --quick, 3 replications",
        ],
        summary_line: "1 metrics compared",
        flips: &flips,
        notes: &["scenario <y> only in A".to_string()],
        rows: &[&row],
    };
    let doc = report.document();
    let h = to_html(&doc, Path::new("/nonexistent")).unwrap();
    for escaped in [
        "&lt;x&gt;",
        "c &amp; d",
        "a | &lt;b&gt;",
        "runs/&lt;a&gt;",
        "scenario &lt;y&gt; only in A",
    ] {
        assert!(h.contains(escaped), "{escaped} in {h}");
    }
    assert!(!h.contains("<x>") && !h.contains("<b>") && !h.contains("<y>"));
    assert!(h.contains("<td class=\"fails\">fails</td>"));
    let md = to_markdown(&doc);
    assert!(md.contains("| s | a \\| &lt;b&gt; | m |"), "{md}");
    assert!(!md.contains("<a>") && !md.contains("<y>"), "{md}");
    // The call column is coloured like a verdict.
    assert!(h.contains("<td class=\"depends\">increased</td>"), "{h}");
}
