//! Lists the adapters and runs a measurement, optionally kept as a dataset file:
//! `cargo run --release -p webgpu-kernel --features gpu --example probe [quick|full]
//! [--dataset datasets/webgpu/<adapter>/measurements.json] [--provenance TEXT]`.

use webgpu_kernel::dataset::Dataset;
use webgpu_kernel::{Mapping, Options};

fn main() {
    match webgpu_kernel::adapters() {
        Ok(list) => list.iter().for_each(|a| println!("adapter: {}", a.line())),
        Err(e) => println!("adapters: {e}"),
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "full");
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let opts = Options {
        seed: 7,
        trials: if full { 7 } else { 3 },
        matvec_nk: if full { (4096, 4096) } else { (1024, 1024) },
        matmul_mnk: if full {
            (32, 512, 2048)
        } else {
            (16, 256, 512)
        },
        shapes: vec![(4, 4), (8, 8), (16, 16), (64, 1), (256, 1)],
        subgroup_shapes: true,
        mappings: Mapping::ALL.to_vec(),
        chain_dims: vec![64, 1024],
        chain_layers: 12,
        chain_trials: 10,
        checked_outputs: 64,
    };
    let t = std::time::Instant::now();
    match webgpu_kernel::measure(&opts, &|m| eprintln!("  {m}")) {
        Ok(r) => {
            println!(
                "verbatim compiles: {} ({})",
                r.article_verbatim_compiles, r.article_verbatim_error
            );
            println!(
                "completed max rel error: {}",
                r.article_completed_max_rel_error
            );
            for c in &r.checks {
                println!("check {} n={} err={:.2e}", c.label, c.n, c.max_rel_error);
            }
            for s in &r.sweep {
                let med = {
                    let mut v = s.samples_ms.clone();
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                println!(
                    "{} {} {} ({},{}) median {:.2} ms  {:.2} GB/s  {:.2} GFLOP/s",
                    s.op,
                    s.act.name(),
                    s.mapping.name(),
                    s.shape.0,
                    s.shape.1,
                    med,
                    s.bytes / med / 1e6,
                    s.flops / med / 1e6
                );
            }
            println!(
                "subgroup shapes {:?}, subgroupAdd matvec ran: {} {}",
                r.subgroup_shapes, r.subgroup_ran, r.subgroup_not_run
            );
            for c in &r.intermediates {
                let mean = c.samples_ms.iter().sum::<f64>() / c.samples_ms.len() as f64;
                println!(
                    "intermediates dim {} {} mean {:.2} ms agrees {}",
                    c.dim, c.intermediates, mean, c.agrees
                );
            }
            if let Some(path) = flag("--dataset") {
                let provenance = flag("--provenance").unwrap_or_else(|| {
                    format!(
                        "probe {}, adapter {}",
                        if full { "full" } else { "quick" },
                        r.adapter.line()
                    )
                });
                match Dataset::new(r.clone(), provenance).write(std::path::Path::new(&path)) {
                    Ok(()) => println!("dataset written: {path}"),
                    Err(e) => {
                        eprintln!("dataset: {e}");
                        std::process::exit(1);
                    }
                }
            }
            for c in &r.chains {
                let mean = c.samples_ms.iter().sum::<f64>() / c.samples_ms.len() as f64;
                println!(
                    "chain dim {} {} mean {:.2} ms agrees {}",
                    c.dim, c.structure, mean, c.agrees
                );
            }
        }
        Err(e) => println!("measure: {e}"),
    }
    println!("wall {:.1} s", t.elapsed().as_secs_f64());
}
