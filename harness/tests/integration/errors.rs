//! Bad input: exit 1, file:line:column, the field, what was expected; nothing written.

use crate::util::*;

const HEAD: &str = "[scenario]\nid = \"bad\"\nsim = \"queue\"\n";

/// Runs `lab run` on `text`, expects exit 1 and no output directory contents.
fn bad(text: &str, extra: &[&str]) -> String {
    let t = tempdir();
    let f = write(t.path(), "s.toml", text);
    let out = t.path().join("out");
    let mut args = vec!["run", f.as_str(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = lab(t.path(), &args).expect_code(1);
    assert!(
        entries(&out).is_empty(),
        "output left behind: {:?}",
        entries(&out)
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r.stderr
}

#[test]
fn malformed_toml() {
    let e = bad("[scenario\nid = 1\n", &[]);
    assert!(e.contains("s.toml:1:"), "{e}");
}

#[test]
fn wrong_type_names_line_column_and_field() {
    let e = bad(&format!("{HEAD}replications = \"ten\"\n"), &[]);
    assert!(
        e.contains(
            "s.toml:4:16: scenario.replications: invalid type: string \"ten\", expected u32"
        ),
        "{e}"
    );
    assert!(e.contains("^^^^^"), "{e}");
}

#[test]
fn unknown_field_suggests_the_nearest_name() {
    let e = bad(&format!("{HEAD}replicatons = 3\n"), &[]);
    assert!(e.contains("unknown field `replicatons`"), "{e}");
    assert!(e.contains("did you mean `replications`?"), "{e}");
    let e = bad(&format!("{HEAD}[params]\narival_rate = 0.5\n"), &[]);
    assert!(
        e.contains("s.toml:5:1: params.arival_rate: unknown field"),
        "{e}"
    );
    assert!(e.contains("did you mean `arrival_rate`?"), "{e}");
}

#[test]
fn out_of_range_values() {
    let e = bad(&format!("{HEAD}[params]\narrival_rate = -2.0\n"), &[]);
    assert!(
        e.contains(
            "s.toml:5:16: params.arrival_rate: -2 is out of range: expected a finite number > 0"
        ),
        "{e}"
    );
    let e = bad(&format!("{HEAD}[params]\nservers = 0\n"), &[]);
    assert!(e.contains("params.servers"), "{e}");
    let e = bad(&format!("{HEAD}[params]\nclasses = [0.5, 1.5, -1]\n"), &[]);
    assert!(e.contains("params.classes[2]"), "{e}");
    let e = bad(
        &format!(
            "{HEAD}[[claims]]\nid = \"p\"\ntext = \"t\"\nmetric = \"p_wait\"\nexpect = {{ approx = 0.5, rel_tol = -1 }}\n"
        ),
        &[],
    );
    assert!(e.contains("claims[0].expect.rel_tol"), "{e}");
    let e = bad(
        &format!("{HEAD}[[points]]\nparams = {{ service = {{ dist = \"exp\", mean = -1 }} }}\n"),
        &[],
    );
    assert!(
        e.contains("s.toml:5:45: points[0].params.service.mean"),
        "{e}"
    );
}

#[test]
fn unknown_sim_metric_and_point() {
    let e = bad("[scenario]\nid = \"bad\"\nsim = \"queu\"\n", &[]);
    assert!(
        e.contains("unknown simulation `queu`") && e.contains("did you mean `queue`?"),
        "{e}"
    );
    let e = bad(
        &format!(
            "{HEAD}[[claims]]\nid = \"c\"\ntext = \"t\"\nmetric = \"wait_men\"\nexpect = {{ lt = 1 }}\n"
        ),
        &[],
    );
    assert!(
        e.contains("claims[0].metric") && e.contains("did you mean `wait_mean`?"),
        "{e}"
    );
    let e = bad(
        &format!(
            "{HEAD}[[claims]]\nid = \"c\"\ntext = \"t\"\nmetric = \"wait_mean\"\nwhere = {{ servers = 4 }}\nexpect = {{ lt = 1 }}\n"
        ),
        &[],
    );
    assert!(e.contains("claims[0].where: matches no point"), "{e}");
}

#[test]
fn bad_set_keys_and_values() {
    let e = bad(HEAD, &["--set", "arival_rate=1"]);
    assert!(
        e.contains("--set arival_rate=1") && e.contains("did you mean `arrival_rate`?"),
        "{e}"
    );
    let e = bad(HEAD, &["--set", "servers=0"]);
    assert!(
        e.contains("--set servers=0") && e.contains("at least 1 server"),
        "{e}"
    );
    let e = bad(HEAD, &["--set", "servers"]);
    assert!(e.contains("expected key=value"), "{e}");
    let e = bad(HEAD, &["--shard", "3/2"]);
    assert!(
        e.contains("'3/2'") && e.contains("--shard") && e.contains("1 ≤ I ≤ N"),
        "{e}"
    );
}

#[test]
fn missing_file_and_bad_flags() {
    let t = tempdir();
    let r = lab(t.path(), &["run", "nope.toml"]).expect_code(1);
    assert!(
        r.stderr.contains("nope.toml: no such file or directory"),
        "{}",
        r.stderr
    );
    lab(t.path(), &["run", "--no-such-flag", "x.toml"]).expect_code(1);
    lab(t.path(), &["frobnicate"]).expect_code(1);
    lab(t.path(), &["--help"]).expect_code(0);
}

#[test]
fn every_problem_in_a_file_is_reported_at_once() {
    let e = bad(
        &format!(
            "{HEAD}[[claims]]\nid = \"a\"\ntext = \"t\"\nmetric = \"nope\"\nexpect = {{ lt = 1 }}\n[[claims]]\nid = \"a\"\ntext = \"t\"\nmetric = \"p_wait\"\nexpect = {{ gt = 2, lt = 1 }}\n"
        ),
        &[],
    );
    assert_eq!(e.matches("error:").count(), 3, "{e}");
}

#[test]
fn filters_and_expectations_are_checked() {
    let claim = |extra: &str| {
        format!("{HEAD}[[claims]]\nid = \"c\"\ntext = \"t\"\nmetric = \"wait_mean\"\n{extra}\n")
    };
    let e = bad(&claim("where = { point = 1 }\nexpect = { lt = 1 }"), &[]);
    assert!(e.contains("`point` must be a point name"), "{e}");
    let e = bad(&claim("expect = { approx = nan, rel_tol = 0.1 }"), &[]);
    assert!(
        e.contains("claims[0].expect.approx") && e.contains("not a finite number"),
        "{e}"
    );
    let e = bad(&claim("expect = { between = [0, inf] }"), &[]);
    assert!(e.contains("finite ends"), "{e}");
    let e = bad(
        &format!(
            "{HEAD}[[charts]]\ntitle = \"t\"\nx = \"arrival_rate\"\ny = [\"wait_mean\"]\nwhere = {{ nosuch = 3 }}\n"
        ),
        &[],
    );
    assert!(
        e.contains("charts[0].where.nosuch: no parameter `nosuch`"),
        "{e}"
    );
}

#[test]
fn check_also_validates_the_quick_section() {
    let t = tempdir();
    let f = write(
        t.path(),
        "s.toml",
        &format!("{HEAD}[quick]\nparams = {{ custmers = 5 }}\n"),
    );
    let r = lab(t.path(), &["check", &f]).expect_code(1);
    assert!(
        r.stderr.contains("quick.params.custmers")
            && r.stderr.contains("did you mean `customers`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn overloaded_systems_and_absurd_sizes_are_refused_not_crashed() {
    let e = bad(&format!("{HEAD}[params]\nservers = 4000000000\n"), &[]);
    assert!(
        e.contains("params.servers") && e.contains("at most 1,000,000"),
        "{e}"
    );
    let e = bad(&format!("{HEAD}[params]\narrival_rate = 1e300\n"), &[]);
    assert!(e.contains("at most 1e9 per second"), "{e}");
    let e = bad(
        &format!("{HEAD}[params]\nservice = {{ dist = \"lognormal\", mean = 1.0, cv = 1e200 }}\n"),
        &[],
    );
    assert!(e.contains("params.service.cv"), "{e}");
    // Class 0 alone saturates the server: class 1 would never be served.
    let e = bad(
        &format!(
            "{HEAD}[params]\narrival_rate = 2.5\nclasses = [0.5, 0.5]\ncustomers = 2000\nwarmup = 0\n"
        ),
        &[],
    );
    assert!(e.contains("overloaded"), "{e}");
}

#[test]
fn real_table_on_a_sim_without_a_kernel() {
    let e = bad(&format!("{HEAD}[real]\ntrials = 2\n"), &[]);
    assert!(e.contains("s.toml:4:"), "{e}");
    assert!(e.contains("simulation `queue` has no real kernel"), "{e}");
}

#[test]
fn unknown_real_key_names_the_line_and_field() {
    let text = "[scenario]\nid = \"bad\"\nsim = \"idempotency\"\n[real]\ntrails = 2\n";
    let e = bad(text, &[]);
    assert!(
        e.contains("s.toml:5:1: real.trails: unknown field `trails`"),
        "{e}"
    );
    assert!(e.contains("trials"), "{e}");
}

#[test]
fn bad_real_value_from_set() {
    let text = "[scenario]\nid = \"bad\"\nsim = \"idempotency\"\n[real]\n";
    let e = bad(text, &["--set", "real.trials=0"]);
    assert!(e.contains("--set real.trials=0"), "{e}");
    assert!(e.contains("1 to 1000"), "{e}");
}

#[test]
fn calibrate_names_a_missing_point() {
    let text = "[scenario]\nid = \"bad\"\nsim = \"idempotency\"\n[[points]]\nname = \"a\"\n[real]\ncalibrate = [\"b\"]\n";
    let e = bad(text, &[]);
    assert!(e.contains("real.calibrate[0]"), "{e}");
    assert!(e.contains("named points: a"), "{e}");
}

#[test]
fn real_metric_without_a_real_table() {
    let text = "[scenario]\nid = \"bad\"\nsim = \"idempotency\"\n[[claims]]\nid = \"x\"\ntext = \"x\"\nmetric = \"real.db_round_trip_ms\"\nexpect = { lt = 1 }\n";
    let e = bad(text, &[]);
    assert!(e.contains("claims[0].metric"), "{e}");
    assert!(e.contains("no [real] table"), "{e}");
}

#[test]
fn llama_kernel_keys_are_checked_with_every_accepted_name() {
    // The model-choice keys and the kernel's own keys are accepted together; a typo is named
    // with its line, and a claim on the kernel is not reported as an orphan besides.
    let text = "[scenario]\nid = \"bad\"\nsim = \"speculative\"\n[real]\nthreds = 2\n\
                [[claims]]\nid = \"x\"\ntext = \"x\"\nmetric = \"real.draft_cost_ratio\"\nexpect = { lt = 1 }\n";
    let e = bad(text, &[]);
    assert!(
        e.contains("s.toml:5:1: real.threds: unknown field `threds`"),
        "{e}"
    );
    assert!(e.contains("did you mean `threads`?"), "{e}");
    assert!(!e.contains("no [real] table"), "{e}");
    let e = bad(
        "[scenario]\nid = \"bad\"\nsim = \"gpu_serving\"\n[real]\n",
        &["--set", "real.draft=\"d.gguf\""],
    );
    assert!(e.contains("real.draft"), "{e}");
    assert!(e.contains("this kernel measures one model"), "{e}");
}

#[test]
fn a_run_far_too_big_is_refused_up_front_unless_forced() {
    let t = tempdir();
    let q = root().join("scenarios/queueing.toml");
    let r = lab(
        t.path(),
        &[
            "run",
            q.to_str().unwrap(),
            "--quick",
            "--set",
            "customers=5000000000",
            "--out",
            t.path().join("big").to_str().unwrap(),
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("customers") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("h of one core"), "{}", r.stderr);
    assert!(!t.path().join("big").exists(), "nothing is written");
}

#[test]
fn a_problem_at_some_points_names_them() {
    let t = tempdir();
    let q = root().join("scenarios/queueing.toml");
    let r = lab(
        t.path(),
        &[
            "run",
            q.to_str().unwrap(),
            "--quick",
            "--set",
            "service.mean=2",
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr
            .contains("points `md1-rho0.5`, `md1-rho0.7`, `md1-rho0.9`"),
        "{}",
        r.stderr
    );
}

#[test]
fn huge_values_are_shown_in_scientific_notation() {
    let e = bad(
        &format!("{HEAD}[params]\nservice = {{ dist = \"exp\", mean = 1e308 }}\n"),
        &[],
    );
    assert!(e.contains("1e308") && e.len() < 2000, "{e}");
}
