//! Policy evaluation throughput: the article's four policies deciding traces (traces/s), and a
//! simulated hour at 10k RPM through the collector model.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sims::registry;
use sims::simulation::RunContext;
use sims::tail_sampling::{Decider, InvertMode, Semantics, TraceInput};

const ARTICLE: &str = include_str!("../../datasets/otel/article-01.yaml");
const COMPOSITE: &str = include_str!("../../datasets/otel/composite-budget.yaml");

fn policies(c: &mut Criterion) {
    let sem = Semantics {
        invert: InvertMode::Legacy,
        latency_lower_inclusive: true,
        ..Semantics::CURRENT
    };
    let mut decider = Decider::from_yaml(ARTICLE, sem).expect("article config parses");
    let paths = ["/api/orders", "/api/search", "/health", "/api/checkout"];
    let traces: Vec<TraceInput> = (0..1024u32)
        .map(|i| {
            let line = format!(
                "{{\"trace_id_hex\": \"{:032x}\", \"spans\": [{{\"start_ns\": 0, \"end_ns\": {}, \"status\": \"{}\", \"attributes\": {{\"http.target\": \"{}\"}}}}, {{\"start_ns\": 1000, \"end_ns\": 2000}}]}}",
                (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
                (i as u64 % 50) * 60_000_000,
                if i % 97 == 0 { "ERROR" } else { "UNSET" },
                paths[i as usize % paths.len()]
            );
            TraceInput::from_json_line(&line).expect("valid")
        })
        .collect();
    let mut g = c.benchmark_group("tail_sampling");
    g.throughput(Throughput::Elements(traces.len() as u64));
    g.bench_function("decide_article_policies_1024_traces", |b| {
        b.iter(|| traces.iter().filter(|t| decider.sampled(t, 0)).count())
    });
    g.finish();
}

fn hour_at_10k(c: &mut Criterion) {
    let sim = registry::find("tail_sampling").expect("registered");
    let mut g = c.benchmark_group("tail_sampling");
    g.sample_size(10);
    g.throughput(Throughput::Elements(600_000));
    // The article's config, and a composite budget (stateful: every trace updates it).
    for (name, yaml, version, key) in [
        ("collector_hour_10k_rpm", ARTICLE, "0.143.0", "http.target"),
        (
            "collector_hour_10k_rpm_composite",
            COMPOSITE,
            "0.150.0",
            "url.path",
        ),
    ] {
        let params: toml::Table = format!(
            "config_yaml = '''{yaml}'''\nsim_hours = 1.0\ncollector_version = \"{version}\"\nattribute_key = \"{key}\""
        )
        .parse()
        .expect("params");
        let prepared = sim.prepare(&params).expect("valid params");
        g.bench_function(name, |b| {
            b.iter(|| {
                sim.run(&prepared, &RunContext::for_replication(1, 0))
                    .expect("runs")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, policies, hour_at_10k);
criterion_main!(benches);
