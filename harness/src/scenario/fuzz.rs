//! Fuzzing the scenario loader: every scenario in `scenarios/` and the test fixtures, mutated
//! at random (bytes cut, inserted, repeated; numbers and strings swapped for hostile values),
//! must load or be refused with a message, never panic. The budget and the seed are fixed, so
//! the suite runs the same cases everywhere; a crash found becomes a case in
//! `regressions_stay_fixed`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::{LoadOptions, load_bytes};
use crate::error::LabError;

/// Cases per seed file and mode: about a minute of CI for the whole target.
const CASES: u32 = 48;

fn corpus() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for dir in [root.join("scenarios"), root.join("harness/tests/fixtures")] {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        names.sort();
        for p in names {
            let text = std::fs::read_to_string(&p).unwrap();
            files.push((p, text));
        }
    }
    files
}

/// Values that have broken parsers before: signs, extremes, wrong types, odd text.
const HOSTILE: &[&str] = &[
    "-1",
    "0",
    "-0.0",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "9999999999999",
    "\"\"",
    "\"x\"",
    "[]",
    "[1, 2, 3]",
    "{}",
    "{ a = 1 }",
    "true",
    "\"../../etc/passwd\"",
    "\"<script>\"",
    "1979-05-27",
    "\"\\u0000\"",
    "[[1], [\"a\"]]",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Cut `len` bytes at a position (as fractions of the text).
    Cut(f64, usize),
    /// Insert text at a position.
    Insert(f64, String),
    /// Repeat the line at a position.
    RepeatLine(f64),
    /// Replace the value after the n-th `=` with a hostile one.
    Value(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64, 1usize..40).prop_map(|(at, n)| Mutation::Cut(at, n)),
        (0.0..1.0f64, "[\\[\\]{}=\"'#.,\\n a-z0-9_-]{1,12}")
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
        (0.0..1.0f64).prop_map(Mutation::RepeatLine),
        (0usize..400, 0..HOSTILE.len()).prop_map(|(n, v)| Mutation::Value(n, v)),
    ]
}

/// The byte index at fraction `at` of `s`, moved back to a character boundary.
fn boundary(s: &str, at: f64) -> usize {
    let mut i = ((s.len() as f64) * at) as usize;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.min(s.len())
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut s = text.to_string();
    match m {
        Mutation::Cut(at, n) => {
            let a = boundary(&s, *at);
            let b = boundary(&s, ((a + n) as f64 / s.len().max(1) as f64).min(1.0));
            s.replace_range(a..b.max(a), "");
        }
        Mutation::Insert(at, t) => s.insert_str(boundary(&s, *at), t),
        Mutation::RepeatLine(at) => {
            let a = boundary(&s, *at);
            let start = s[..a].rfind('\n').map_or(0, |i| i + 1);
            let end = s[a..].find('\n').map_or(s.len(), |i| a + i + 1);
            let line = s[start..end].to_string();
            s.insert_str(end, &line);
        }
        Mutation::Value(n, v) => {
            let eqs: Vec<usize> = s.match_indices('=').map(|(i, _)| i).collect();
            if let Some(&i) = eqs.get(n % eqs.len().max(1)) {
                let end = s[i..].find(['\n', ',', '}']).map_or(s.len(), |j| i + j);
                s.replace_range(i + 1..end, &format!(" {}", HOSTILE[*v]));
            }
        }
    }
    s
}

/// Loads a mutated text as `file`: Ok or a message for people, never an internal error.
fn loads_or_refuses(file: &Path, text: String, quick: bool) -> Result<(), TestCaseError> {
    let opts = LoadOptions {
        quick,
        ..LoadOptions::default()
    };
    match load_bytes(file, text.clone().into_bytes(), &opts) {
        Ok(_) => Ok(()),
        Err(LabError::BadInput(msg)) => {
            prop_assert!(msg.starts_with("error"), "unlabelled message: {msg}");
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!("{e:?} for\n{text}"))),
    }
}

#[test]
fn mutated_scenarios_load_or_are_refused_never_panic() {
    for (file, text) in corpus() {
        for quick in [false, true] {
            let config = Config {
                cases: CASES,
                failure_persistence: None,
                ..Config::default()
            };
            let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
            let mut runner = TestRunner::new_with_rng(config, rng);
            let muts = prop::collection::vec(mutation(), 1..4);
            let result = runner.run(&muts, |ms| {
                let mutated = ms.iter().fold(text.clone(), |t, m| apply(&t, m));
                loads_or_refuses(&file, mutated, quick)
            });
            if let Err(e) = result {
                panic!("{}: {e}", file.display());
            }
        }
    }
}

#[test]
fn random_text_is_refused_with_a_message() {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let file = Path::new("fuzz.toml");
    runner
        .run(&"\\PC{0,200}", |text| loads_or_refuses(file, text, false))
        .unwrap();
}
