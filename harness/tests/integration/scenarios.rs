//! The scenarios are the test of record: every file in scenarios/ checks and runs in --quick.

use crate::util::*;

#[test]
fn every_scenario_checks_without_a_warning() {
    let r = lab(&root(), &["check", "scenarios"]).expect_code(0);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// Whether two verdicts of record say opposite things.
fn contradict(a: &str, b: &str) -> bool {
    matches!((a, b), ("holds", "fails") | ("fails", "holds"))
}

#[test]
fn every_scenario_runs_quick_and_writes_a_report() {
    let t = tempdir();
    let out = t.path().join("quick");
    let r = lab(
        &root(),
        &[
            "run",
            "scenarios",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .collect();
    let dirs: Vec<String> = entries(&out)
        .into_iter()
        .filter(|d| out.join(d).is_dir())
        .collect();
    assert_eq!(dirs.len(), files.len(), "{dirs:?}\n{}", r.stdout);
    // CI names the services it provides (CLAIMLAB_REQUIRE_REAL=postgres): their kernels must run.
    let required = std::env::var("CLAIMLAB_REQUIRE_REAL").unwrap_or_default();
    for d in dirs {
        let s = summary(&out.join(&d));
        assert_eq!(s["provenance"]["quick"], true);
        // No interval leaves its metric's range.
        let sim = sims::registry::find(s["scenario"]["sim"].as_str().unwrap()).unwrap();
        for p in s["points"].as_array().unwrap() {
            for (name, e) in p["metrics"].as_object().unwrap() {
                let (lo, hi) = sim.metric_def(name).unwrap().range();
                let [a, b] = [
                    e["ci95"][0].as_f64().unwrap(),
                    e["ci95"][1].as_f64().unwrap(),
                ];
                assert!(
                    lo <= a && a <= b && b <= hi,
                    "{d}: point {}: {name} interval [{a}, {b}] leaves [{lo}, {hi}]",
                    p["index"]
                );
            }
        }
        // Every claim has one verdict of record, and a preview never contradicts the
        // baseline's (it may be less certain, never opposite).
        let records = s["verdicts"].as_array().unwrap();
        let ids: std::collections::BTreeSet<&str> = s["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            records.len(),
            ids.len(),
            "{d}: one verdict of record per claim"
        );
        let base = root()
            .join("reports/baseline")
            .join(&d)
            .join("summary.json");
        let base: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
        for v in records {
            let Some(b) = base["verdicts"]
                .as_array()
                .and_then(|a| a.iter().find(|b| b["id"] == v["id"]))
            else {
                panic!(
                    "{d}: claim {} has no verdict of record in the baseline",
                    v["id"]
                );
            };
            let (q, f) = (
                v["verdict"].as_str().unwrap(),
                b["verdict"].as_str().unwrap(),
            );
            assert!(
                !contradict(q, f),
                "{d}: claim {} is {q} in --quick and {f} in the baseline: {}",
                v["id"],
                v["reason"]
            );
        }
        assert!(out.join(&d).join("report.html").is_file());
        check_charts(&out.join(&d), &s, sim);
        if let Some(real) = s["real"].as_array().and_then(|a| a.first()) {
            let kernel = real["kernel"].as_str().unwrap();
            let service = kernel.split('_').next().unwrap().replace("pg", "postgres");
            // The hashing kernel needs no service and is built by default: it must run.
            if required.split(',').any(|k| k == service) || kernel == "build_cache_fingerprints" {
                assert_eq!(real["status"], "ok", "{d}: {real}");
            }
        }
    }
    // Every report in a real browser: no sideways scroll at 1280 px, every chart loaded.
    crate::browser::check_reports(&out);
}

/// Every chart of a run: finite axes inside its metrics' range (a fraction axis stops at 100%),
/// a legend naming each drawn line in words with the symbol drawn, every claim marker on a
/// drawn line, dots when a line has one x value.
fn check_charts(
    dir: &std::path::Path,
    s: &serde_json::Value,
    sim: &dyn sims::simulation::Simulation,
) {
    let specs = s["charts"].as_array().cloned().unwrap_or_default();
    let charts = dir.join("charts");
    let mut seen = 0;
    for f in entries(&charts).iter().filter(|f| f.ends_with(".json")) {
        seen += 1;
        let facts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(charts.join(f)).unwrap()).unwrap();
        let [y0, y1] = [
            facts["y_range"][0].as_f64().unwrap(),
            facts["y_range"][1].as_f64().unwrap(),
        ];
        let [x0, x1] = [
            facts["x_range"][0].as_f64().unwrap(),
            facts["x_range"][1].as_f64().unwrap(),
        ];
        assert!(
            y0.is_finite() && y1.is_finite() && y0 < y1,
            "{f}: y {facts}"
        );
        assert!(
            x0.is_finite() && x1.is_finite() && x0 < x1,
            "{f}: x {facts}"
        );
        let legend = facts["legend"].as_array().unwrap();
        let dots = facts["dots"].as_bool().unwrap();
        for l in legend {
            let (name, symbol) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
            assert!(
                ["line", "dot", "diamond", "threshold"].contains(&symbol),
                "{f}: {l}"
            );
            assert!(
                !(dots && symbol == "line"),
                "{f}: one x value drawn as a line"
            );
            // No raw `param=value` ids.
            let raw = name.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && !k.contains(' ')
                    && k.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            });
            assert!(!raw, "{f}: raw id in the legend: {name}");
        }
        let lines: Vec<&str> = legend
            .iter()
            .filter(|l| l[1] == "line" || l[1] == "dot")
            .map(|l| l[0].as_str().unwrap())
            .collect();
        for c in facts["claims"].as_array().unwrap() {
            assert!(
                lines.contains(&c[1].as_str().unwrap()),
                "{f}: claim {} is not on a drawn line",
                c[0]
            );
        }
        let Some(spec) = specs.iter().find(|sp| sp["title"] == facts["title"]) else {
            continue; // a real kernel's measured series
        };
        if spec.get("y_label").is_none() {
            let label = facts["y_label"].as_str().unwrap();
            assert!(!label.contains("[fraction]"), "{f}: {label}");
        }
        if facts["log_y"] == false {
            for m in spec["y"].as_array().unwrap() {
                let (lo, hi) = sim.metric_def(m.as_str().unwrap()).unwrap().range();
                if spec["y"].as_array().unwrap().len() == 1 {
                    assert!(
                        lo <= y0 && y1 <= hi,
                        "{f}: axis [{y0}, {y1}] leaves {m}'s range [{lo}, {hi}]"
                    );
                }
            }
        }
    }
    assert!(
        seen >= specs.len(),
        "{}: {seen} chart facts for {} charts",
        dir.display(),
        specs.len()
    );
}
