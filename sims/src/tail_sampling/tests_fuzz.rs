//! Fuzzing the collector YAML config parser and the OTTL parser (issue #24): random and
//! mutated inputs never panic; each gives a config or a clear error. A fixed case budget and
//! a fixed seed keep the run short and repeatable in the normal test suite.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::config::parse;
use super::ottl::{Context, parse_condition};

const CASES: u32 = 400;

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

/// Configs that load, as seeds for mutation.
const SEEDS: &[&str] = &[
    include_str!("../../../datasets/otel/article-01.yaml"),
    include_str!("../../../datasets/otel/drop-health-fix.yaml"),
    include_str!("../../../datasets/otel/upstream-tail-sampling-config.yaml"),
    include_str!("../../../datasets/otel/upstream-readme-example.yaml"),
];

const OTTL_SEEDS: &[&str] = &[
    r#"attributes["http.status_code"] >= 500 and not IsMatch(name, "^GET /health")"#,
    r#"resource.attributes["service.name"] == "checkout" or (kind == SPAN_KIND_SERVER and status.code == STATUS_CODE_ERROR)"#,
    "end_time_unix_nano - start_time_unix_nano > 2000000000",
    r#"span.attributes["a"] != nil and name == "exception""#,
];

/// Applies `edits` (position, operation, byte) to `s`: delete, insert or replace a byte.
fn mutate(s: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = s.as_bytes().to_vec();
    for &(pos, op, byte) in edits {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match op % 3 {
            0 if at < b.len() => {
                b.remove(at);
            }
            1 => b.insert(at, byte),
            _ if at < b.len() => b[at] = byte,
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Bytes that matter to YAML and OTTL, to make mutations likely to reach deep code.
fn interesting() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b":-[]{},\"'\\#&*!|>%@` \n\t=<()._0123456789aZ".to_vec()),
        any::<u8>(),
    ]
}

#[test]
fn the_config_parser_never_panics() {
    let strat = (
        0..SEEDS.len(),
        prop::collection::vec((any::<usize>(), any::<u8>(), interesting()), 0..12),
    );
    runner()
        .run(&strat, |(seed, edits)| {
            let text = mutate(SEEDS[seed], &edits);
            if let Err(e) = parse(&text) {
                prop_assert!(!e.message.is_empty(), "an error says what is wrong");
            }
            Ok(())
        })
        .expect("no panic, an answer for every input");
    runner()
        .run(&".{0,400}", |text| {
            let _ = parse(&text);
            Ok(())
        })
        .expect("random text never panics");
}

#[test]
fn the_ottl_parser_never_panics() {
    let strat = (
        0..OTTL_SEEDS.len(),
        prop::collection::vec((any::<usize>(), any::<u8>(), interesting()), 0..8),
        any::<bool>(),
    );
    runner()
        .run(&strat, |(seed, edits, event)| {
            let src = mutate(OTTL_SEEDS[seed], &edits);
            let ctx = if event {
                Context::SpanEvent
            } else {
                Context::Span
            };
            if let Err(e) = parse_condition(&src, ctx) {
                prop_assert!(e.column >= 1 && e.column <= src.len() + 1, "{e} in {src:?}");
                prop_assert!(!e.message.is_empty());
            }
            Ok(())
        })
        .expect("no panic, an answer for every condition");
    runner()
        .run(&"[ -~]{0,120}", |src| {
            let _ = parse_condition(&src, Context::Span);
            Ok(())
        })
        .expect("random conditions never panic");
}
