//! Same commit, seed and scenario give the same summary.json bytes (timing fields aside),
//! whatever the thread count.

use crate::util::*;

fn run_with_threads(threads: &str, tag: &str, t: &std::path::Path) -> String {
    let out = t.join(tag);
    let f = fixture("mini.toml");
    lab_env(
        t,
        &["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &[("RAYON_NUM_THREADS", threads)],
    )
    .expect_code(0);
    let mut v = summary(&out.join("mini"));
    let p = v["provenance"].as_object_mut().unwrap();
    p.remove("started_at");
    p.remove("wall_s");
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn summary_is_identical_across_thread_counts() {
    let t = tempdir();
    let one = run_with_threads("1", "one", t.path());
    let two = run_with_threads("2", "two", t.path());
    let four = run_with_threads("4", "four", t.path());
    assert_eq!(one, two);
    assert_eq!(one, four);
    // And the CSV rows too.
    let a = std::fs::read(t.path().join("one/mini/results.csv")).unwrap();
    let b = std::fs::read(t.path().join("four/mini/results.csv")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_different_seed_gives_different_numbers() {
    let t = tempdir();
    let f = fixture("mini.toml");
    let o1 = t.path().join("a");
    let o2 = t.path().join("b");
    lab(
        t.path(),
        &[
            "run",
            f.to_str().unwrap(),
            "--quick",
            "--out",
            o1.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    lab(
        t.path(),
        &[
            "run",
            f.to_str().unwrap(),
            "--quick",
            "--seed",
            "8",
            "--out",
            o2.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert_ne!(
        summary(&o1.join("mini"))["points"],
        summary(&o2.join("mini"))["points"]
    );
}
