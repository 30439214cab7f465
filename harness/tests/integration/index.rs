//! The run index: `index.md`/`index.html` in every run directory, against a baseline, and
//! redrawn by `lab report`.

use crate::util::*;

#[test]
fn every_run_gets_an_index_with_links_counts_and_provenance() {
    let t = tempdir();
    let f = fixture("mini.toml");
    let base = t.path().join("base");
    lab(
        t.path(),
        &["run", f.to_str().unwrap(), "--out", base.to_str().unwrap()],
    )
    .expect_code(0);
    let md = std::fs::read_to_string(base.join("index.md")).unwrap();
    assert!(md.contains("[mini/report.html](mini/report.html)"), "{md}");
    assert!(md.contains("| mini |"), "{md}");
    assert!(md.contains("**seed**: 7"), "{md}");
    assert!(md.contains("**commit**"), "{md}");
    assert!(!md.contains("against the baseline"), "{md}");
    let html = std::fs::read_to_string(base.join("index.html")).unwrap();
    assert!(html.contains("<a href=\"mini/report.html\">"), "{html}");
    // The scenario's title is escaped.
    assert!(html.contains("&lt;b&gt;check&lt;/b&gt;") && !html.contains("<b>check"));

    // A run with slower service: the claim on it changes verdict against the baseline.
    let out = t.path().join("out");
    let r = lab(
        t.path(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "service.dist=exp",
            "--set",
            "service.mean=1.3",
            "--baseline",
            base.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("index: "), "{}", r.stdout);
    let md = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(md.contains("Verdicts changed against the baseline"), "{md}");
    assert!(
        md.contains("| mini | wait-rho0.5 | of record | holds | fails |"),
        "{md}"
    );
    assert!(md.contains("parameters differ: service.mean"), "{md}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<td class=\"fails\">fails</td>"), "{html}");

    // `lab report` redraws the index, still against the baseline it was drawn against.
    std::fs::remove_file(out.join("index.md")).unwrap();
    lab(t.path(), &["report", out.to_str().unwrap()]).expect_code(0);
    let again = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert_eq!(again, md);

    // A baseline that is not a run is refused before anything runs.
    let none = t.path().join("none");
    let r = lab(
        t.path(),
        &[
            "run",
            f.to_str().unwrap(),
            "--out",
            none.to_str().unwrap(),
            "--baseline",
            t.path().join("missing").to_str().unwrap(),
        ],
    )
    .expect_code(1);
    assert!(r.stderr.contains("--baseline"), "{}", r.stderr);
    assert!(!none.exists());
}
