//! Engine throughput on M/M/1 at ρ = 0.9 with 1,000,000 measured customers.
//!
//! Events are counted as in the research anchors: arrival + service start + departure, 3 per
//! customer, so the figure compares directly with the bare binary-heap loop (~29 M events per
//! CPU-second on the 2-core machine), NeXosim (~4.4 M) and SimPy (~0.14 M).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sims::des::{EventQueue, Priority, RngStreams, SimTime};
use sims::registry;
use sims::simulation::RunContext;

const CUSTOMERS: u64 = 1_000_000;

fn mm1(c: &mut Criterion) {
    let params: toml::Table = format!("arrival_rate = 0.9\ncustomers = {CUSTOMERS}\nwarmup = 0")
        .parse()
        .expect("valid params");
    // Prepared once, as the harness prepares each point once for all its replications.
    let sim = registry::find("queue").expect("registered");
    let prepared = sim.prepare(&params).expect("valid params");
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(3 * CUSTOMERS));
    let mut rep = 0u64;
    g.bench_function("mm1_rho0.9_1M_customers", |b| {
        b.iter(|| {
            rep += 1;
            let ctx = RunContext {
                streams: RngStreams::new(42, 0, rep),
                point: 0,
                replication: rep as u32,
            };
            sim.run(&prepared, &ctx).expect("runs")
        })
    });
    g.finish();
}

fn event_queue(c: &mut Criterion) {
    // Hold-model: a queue of 1,000 pending events, pop one, push one later.
    let mut g = c.benchmark_group("event_queue");
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("hold_1000_pending_1M_ops", |b| {
        b.iter(|| {
            let mut q: EventQueue<u32> = EventQueue::with_capacity(1024);
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for i in 0..1000 {
                q.push(SimTime(i * 7), Priority::NORMAL, i as u32);
            }
            for _ in 0..1_000_000 {
                let (t, e) = q.pop().expect("non-empty");
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                q.push(SimTime(t.0 + (x % 10_000)), Priority::NORMAL, e);
            }
            q.len()
        })
    });
    g.finish();
}

criterion_group!(benches, mm1, event_queue);
criterion_main!(benches);
