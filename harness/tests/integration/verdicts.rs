//! Verdicts of record: rollups, sources and their warnings, `depends` across assumed ranges,
//! requested flip points, bounds, claim kinds and previews.

use crate::util::*;

/// An M/M/1 queue with service mean 1 s: the mean wait in queue is λ/(1 − λ).
const MM1: &str = r#"
[scenario]
id = "mm1"
sim = "queue"
seed = 3
replications = 8

[params]
arrival_rate = 0.6
customers = 60000
warmup = 5000
"#;

/// The M/M/1 scenario with these `[sources]` entries for arrival_rate (service is sourced),
/// then `rest` (claims, points, quick).
fn mm1(arrival_source: &str, rest: &str) -> String {
    format!(
        "{MM1}\n[sources]\n\"service.mean\" = {{ kind = \"sourced\", ref = \"mu = 1\" }}\n{arrival_source}\n{rest}"
    )
}

fn run_toml(t: &std::path::Path, toml: &str, extra: &[&str]) -> (Run, serde_json::Value) {
    let f = write(t, "s.toml", toml);
    let out = t.join("out");
    let mut args = vec!["run", f.as_str(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = lab(t, &args).expect_code(0);
    let id = toml
        .lines()
        .find_map(|l| l.strip_prefix("id = \""))
        .and_then(|l| l.split('"').next())
        .unwrap();
    let s = summary(&out.join(id));
    (r, s)
}

fn record<'a>(s: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    s["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no verdict of record {id}: {s}"))
}

#[test]
fn the_mm1_wait_flips_at_two_thirds() {
    // W_q = λ/(1 − λ) < 2 s  ⇔  λ < 2/3.
    let t = tempdir();
    let toml = mm1(
        "arrival_rate = { kind = \"article\" }",
        "
[[claims]]
id = \"wait-under-2\"
text = \"waits under 2 s\"
metric = \"wait_mean\"
expect = { lt = 2.0 }
boundary = { param = \"arrival_rate\", min = 0.1, max = 0.95 }
",
    );
    let (_, s) = run_toml(t.path(), &toml, &[]);
    let v = record(&s, "wait-under-2");
    assert_eq!(v["verdict"], "holds", "{v}");
    let b = &v["boundary"];
    let x = b["value"].as_f64().unwrap();
    let [lo, hi] = [
        b["ci95"][0].as_f64().unwrap(),
        b["ci95"][1].as_f64().unwrap(),
    ];
    assert!((x - 2.0 / 3.0).abs() < 0.015, "{b}");
    assert!(lo <= x && x <= hi && hi - lo < 0.05, "{b}");
    assert!(lo - 0.01 <= 2.0 / 3.0 && 2.0 / 3.0 <= hi + 0.01, "{b}");
    assert_eq!(b["holds_when"], "below");
}

#[test]
fn an_assumed_range_that_crosses_the_flip_point_gives_depends() {
    let t = tempdir();
    let toml = mm1(
        "arrival_rate = { kind = \"assumed\", range = [0.5, 0.8], note = \"a plausible load\" }",
        "
[[claims]]
id = \"wait-under-2\"
text = \"waits under 2 s\"
metric = \"wait_mean\"
expect = { lt = 2.0 }

[[claims]]
id = \"wait-under-10\"
text = \"waits under 10 s\"
metric = \"wait_mean\"
expect = { lt = 10.0 }
",
    );
    let (r, s) = run_toml(t.path(), &toml, &[]);
    let v = record(&s, "wait-under-2");
    assert_eq!(v["verdict"], "depends", "{v}");
    let d = &v["depends_on"][0];
    assert_eq!(d["param"], "arrival_rate");
    assert_eq!(
        d["verdicts"],
        serde_json::json!(["holds", "holds", "fails"])
    );
    let f = d["flips_at"].as_f64().unwrap();
    assert!((0.6..0.7).contains(&f), "{d}");
    assert_eq!(d["holds_when"], "below");
    assert!(
        joined(&r.stdout).contains("holds when arrival_rate ≤"),
        "{}",
        r.stdout
    );
    // W_q(0.8) = 4 s < 10 s: stable across the range.
    let v = record(&s, "wait-under-10");
    assert_eq!(v["verdict"], "holds", "{v}");
    assert!(v["depends_on"][0].get("flips_at").is_none(), "{v}");
}

#[test]
fn several_points_need_a_rule_and_the_article_point_decides() {
    let t = tempdir();
    let base = mm1(
        "arrival_rate = { kind = \"article\" }",
        "
[[points]]
name = \"low\"
params = { arrival_rate = 0.5 }

[[points]]
name = \"high\"
article = true
params = { arrival_rate = 0.8 }
",
    );
    let claim = |rollup: &str| {
        format!(
            "{base}
[[claims]]
id = \"under-2\"
text = \"waits under 2 s\"
metric = \"wait_mean\"
expect = {{ lt = 2.0 }}
{rollup}"
        )
    };
    let f = write(t.path(), "none.toml", &claim(""));
    let r = lab(t.path(), &["check", &f]).expect_code(1);
    assert!(
        r.stderr.contains("claims[0].rollup") && r.stderr.contains("matches 2 points"),
        "{}",
        r.stderr
    );
    let (_, s) = run_toml(t.path(), &claim("rollup = \"article\""), &[]);
    let v = record(&s, "under-2");
    assert_eq!(
        (&v["verdict"], &v["rule"]),
        (&"fails".into(), &"article".into())
    );
    // The point of record's row comes first, the what-if row after it.
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(
        s["claims"][rows[0].as_u64().unwrap() as usize]["of_record"],
        true
    );
    assert_eq!(
        s["claims"][rows[1].as_u64().unwrap() as usize]["of_record"],
        false
    );
    let (_, s) = run_toml(t.path(), &claim("rollup = \"any\""), &[]);
    assert_eq!(record(&s, "under-2")["verdict"], "holds");
    let (_, s) = run_toml(t.path(), &claim("rollup = \"all\""), &[]);
    assert_eq!(record(&s, "under-2")["verdict"], "fails");
}

#[test]
fn a_lower_bound_refutes_an_upper_limit_and_never_confirms_it() {
    let t = tempdir();
    let toml = mm1(
        "arrival_rate = { kind = \"article\" }",
        "
[[claims]]
id = \"bound-cannot-confirm\"
text = \"waits under 5 s\"
metric = \"wait_mean\"
model_bound = \"lower\"
expect = { lt = 5.0 }

[[claims]]
id = \"bound-refutes\"
text = \"waits under 0.5 s\"
metric = \"wait_mean\"
model_bound = \"lower\"
expect = { lt = 0.5 }

[[claims]]
id = \"bound-confirms\"
text = \"waits over 0.5 s\"
metric = \"wait_mean\"
model_bound = \"lower\"
expect = { gt = 0.5 }
",
    );
    let (_, s) = run_toml(t.path(), &toml, &[]);
    let v = record(&s, "bound-cannot-confirm");
    assert_eq!(v["verdict"], "inconclusive", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("lower bound"), "{v}");
    assert_eq!(record(&s, "bound-refutes")["verdict"], "fails");
    assert_eq!(record(&s, "bound-confirms")["verdict"], "holds");
}

#[test]
fn check_warns_about_assumed_values_without_a_range() {
    let t = tempdir();
    let claim = "
[[claims]]
id = \"under-2\"
text = \"waits under 2 s\"
metric = \"wait_mean\"
expect = { lt = 2.0 }
";
    let f = write(t.path(), "s.toml", &mm1("", claim));
    let r = lab(t.path(), &["check", &f]).expect_code(0);
    assert!(
        r.stderr.contains("warning:")
            && r.stderr
                .contains("`arrival_rate` is assumed without a plausible range")
            && r.stderr.contains("claim `under-2`"),
        "{}",
        r.stderr
    );
    let f = write(
        t.path(),
        "ok.toml",
        &mm1("arrival_rate = { kind = \"article\" }", claim),
    );
    let r = lab(t.path(), &["check", &f]).expect_code(0);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// A table given in part (`[params.p0]` with one field) sets that field; the fields the room
/// fills in around it keep the room's defaults, like a parameter the file leaves out, and are
/// not the scenario's assumptions.
#[test]
fn only_what_the_file_writes_in_a_table_is_assumed() {
    let t = tempdir();
    let f = write(
        t.path(),
        "s.toml",
        "[scenario]\nid = \"partial\"\nsim = \"gpu_serving\"\n\n[params]\ngpus = 1\n\n\
         [params.p0]\nshare = 0.5\n\n[sources]\ngpus = { kind = \"article\" }\n\n\
         [[claims]]\nid = \"cheap\"\ntext = \"t\"\nmetric = \"self_hosted_usd_month\"\n\
         expect = { lt = 5000 }\n",
    );
    let r = lab(t.path(), &["check", &f]).expect_code(0);
    assert!(
        r.stderr
            .contains("`p0.share` is assumed without a plausible range"),
        "{}",
        r.stderr
    );
    for filled in [
        "p0.burst_on_s",
        "p0.tenants",
        "p0.prompt_tokens",
        "p1.share",
    ] {
        assert!(!r.stderr.contains(filled), "{filled}: {}", r.stderr);
    }
}

#[test]
fn sources_are_checked() {
    let t = tempdir();
    for (source, says) in [
        (
            "arival_rate = { kind = \"article\" }",
            "did you mean `arrival_rate`?",
        ),
        ("arrival_rate = { kind = \"measured\" }", "needs `ref`"),
        (
            "arrival_rate = { kind = \"article\", range = [0.1, 0.9] }",
            "a range goes with kind = \"assumed\"",
        ),
        (
            "arrival_rate = { kind = \"assumed\", range = [0.7, 0.9] }",
            "lies outside its range",
        ),
        (
            "arrival_rate = { kind = \"guessed\" }",
            "unknown variant `guessed`",
        ),
    ] {
        let f = write(t.path(), "s.toml", &mm1(source, ""));
        let r = lab(t.path(), &["check", &f]).expect_code(1);
        assert!(r.stderr.contains(says), "{source}: {}", r.stderr);
    }
}

#[test]
fn a_mechanism_claim_on_a_formula_of_the_inputs_is_refused() {
    let t = tempdir();
    let toml = "
[scenario]
id = \"ab\"
sim = \"ab_testing\"

[[claims]]
id = \"n\"
text = \"10% lift at CV 3 needs 14k users per arm\"
metric = \"n_per_arm\"
expect = { approx = 14000, rel_tol = 0.05 }
";
    let f = write(t.path(), "s.toml", toml);
    let r = lab(t.path(), &["check", &f]).expect_code(1);
    assert!(
        r.stderr.contains("computed from the parameters alone")
            && r.stderr.contains("kind = \"arithmetic\""),
        "{}",
        r.stderr
    );
    let f = write(
        t.path(),
        "ok.toml",
        &toml.replace(
            "metric = \"n_per_arm\"",
            "metric = \"n_per_arm\"\nkind = \"arithmetic\"",
        ),
    );
    lab(t.path(), &["check", &f]).expect_code(0);
}

#[test]
fn a_quick_change_of_the_question_makes_the_preview_inconclusive() {
    let t = tempdir();
    let toml = mm1(
        "arrival_rate = { kind = \"article\" }",
        "
[quick]
replications = 3
params = { arrival_rate = 0.3, customers = 20000 }

[[claims]]
id = \"under-2\"
text = \"waits under 2 s\"
metric = \"wait_mean\"
expect = { lt = 2.0 }
",
    );
    let (r, s) = run_toml(t.path(), &toml, &["--quick"]);
    let v = record(&s, "under-2");
    assert_eq!(v["verdict"], "inconclusive", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("preview at other parameters: --quick sets arrival_rate"),
        "{v}"
    );
    assert!(r.stdout.starts_with("PREVIEW "), "{}", r.stdout);
    let report = std::fs::read_to_string(t.path().join("out/mm1/report.md")).unwrap();
    assert!(report.contains("PREVIEW (--quick)"), "{report}");
}

/// "Waits about 2 s" with λ assumed in [0.5, 0.8] and set to `lambda`: W_q = λ/(1 − λ) is
/// 2 s ± 10% for λ in about [0.643, 0.688]. Checks the window found, and returns its verdicts
/// at [low end, the scenario's value, high end].
fn about_two_seconds_window(lambda: &str) -> serde_json::Value {
    let t = tempdir();
    let toml = mm1(
        "arrival_rate = { kind = \"assumed\", range = [0.5, 0.8], note = \"a plausible load\" }",
        "
[[claims]]
id = \"about-2\"
text = \"waits about 2 s\"
metric = \"wait_mean\"
expect = { approx = 2.0, rel_tol = 0.1 }
",
    )
    .replace("arrival_rate = 0.6", &format!("arrival_rate = {lambda}"));
    let (r, s) = run_toml(t.path(), &toml, &[]);
    let v = record(&s, "about-2");
    assert_eq!(v["verdict"], "depends", "{v}");
    let d = &v["depends_on"][0];
    let [a, b] = [
        d["window"][0].as_f64().unwrap(),
        d["window"][1].as_f64().unwrap(),
    ];
    assert!(
        (0.62..0.66).contains(&a) && (0.67..0.71).contains(&b),
        "{d}"
    );
    assert_eq!(d["holds_when"], "between");
    assert!(
        joined(&r.stdout).contains("holds when arrival_rate is in [")
            && joined(&r.stdout).contains("fails at both ends"),
        "{}",
        r.stdout
    );
    d["verdicts"].clone()
}

#[test]
fn a_window_inside_the_range_where_an_about_claim_holds_is_found() {
    // At λ = 0.5 it fails, as at both ends; it holds in between.
    assert_eq!(
        about_two_seconds_window("0.5"),
        serde_json::json!(["fails", "fails", "fails"])
    );
}

#[test]
fn a_value_inside_the_window_reports_both_flips() {
    // At λ = 0.66, inside the window, it holds: the report gives both edges.
    assert_eq!(
        about_two_seconds_window("0.66"),
        serde_json::json!(["fails", "holds", "fails"])
    );
}

/// The terminal's text with its line breaks undone (long flip conditions wrap).
fn joined(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
