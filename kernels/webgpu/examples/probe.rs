//! Lists the adapters and runs a small measurement:
//! `cargo run --release -p webgpu-kernel --features gpu --example probe [quick|full]`.

use webgpu_kernel::{Mapping, Options};

fn main() {
    match webgpu_kernel::adapters() {
        Ok(list) => list.iter().for_each(|a| println!("adapter: {}", a.line())),
        Err(e) => println!("adapters: {e}"),
    }
    let full = std::env::args().nth(1).as_deref() == Some("full");
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
        mappings: vec![Mapping::Article2d, Mapping::Flat, Mapping::RowPerWorkgroup],
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
