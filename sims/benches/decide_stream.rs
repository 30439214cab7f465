//! `lab tail-sampling decide` on a large generated traces file: throughput (MB/s, traces/s) and
//! peak memory, which must stay bounded whatever the file size. Not a criterion bench: one pass
//! over a gigabyte is the measurement. `CLAIMLAB_DECIDE_MB` sets the size (default 1024).

use std::io::Write;
use std::time::Instant;

use sims::registry;
use sims::tool::ToolArgs;

const ARTICLE: &str = include_str!("../../datasets/otel/article-01.yaml");

/// Peak resident memory of this process so far (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Writes traces as a collector sees them: a request of 4-6 spans, some ERROR, some slow, one
/// trace per line, arrival times rising at 1,000 traces/s.
fn generate(path: &std::path::Path, bytes: u64) -> std::io::Result<u64> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let routes = [
        "/api/orders",
        "/api/search",
        "/health",
        "/api/checkout",
        "/api/cart",
    ];
    let (mut written, mut n) = (0u64, 0u64);
    let mut line = String::new();
    while written < bytes {
        line.clear();
        let t0 = n * 1_000_000;
        let dur = 20_000_000 + (n * 7919 % 3000) * 1_000_000;
        let status = if n % 101 == 0 { "ERROR" } else { "UNSET" };
        let route = routes[(n % 5) as usize];
        line.push_str(&format!(
            "{{\"trace_id_hex\": \"{:032x}\", \"resource_attributes\": {{\"service.name\": \"checkout\"}}, \"spans\": [",
            (u128::from(n) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
        ));
        let spans = 4 + n % 3;
        for s in 0..spans {
            if s > 0 {
                line.push_str(", ");
            }
            line.push_str(&format!(
                "{{\"name\": \"span-{s}\", \"start_ns\": {}, \"end_ns\": {}, \"status\": \"{}\", \"attributes\": {{\"http.target\": \"{route}\", \"http.status_code\": {}}}}}",
                t0 + s * 1000,
                t0 + dur - s * 1000,
                if s == 0 { status } else { "UNSET" },
                if status == "ERROR" { 503 } else { 200 }
            ));
        }
        line.push_str("]}\n");
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

fn main() {
    let mb: u64 = std::env::var("CLAIMLAB_DECIDE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = std::env::temp_dir().join(format!("claimlab-decide-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let traces = dir.join("traces.jsonl");
    let config = dir.join("collector.yaml");
    std::fs::write(&config, ARTICLE).expect("config written");
    let n = generate(&traces, mb << 20).expect("traces written");
    let size = std::fs::metadata(&traces).expect("file").len() as f64 / (1u64 << 20) as f64;
    let before = peak_rss_mib();

    let (_, tool) = registry::tools()
        .find(|(_, t)| t.name == "tail-sampling")
        .expect("the tail-sampling tool is registered");
    let decide = tool
        .commands
        .iter()
        .find(|c| c.name == "decide")
        .expect("decide");
    let mut args = ToolArgs::new();
    args.insert("config", config.display().to_string());
    args.insert("traces", traces.display().to_string());
    args.insert("collector-version", "0.150.0");
    let mut out = std::io::sink();
    let started = Instant::now();
    (decide.run)(&args, &mut out).expect("decide runs");
    let s = started.elapsed().as_secs_f64();
    let after = peak_rss_mib();
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "decide: {size:.0} MiB, {n} traces in {s:.1} s: {:.0} MiB/s, {:.0} traces/s (both passes: check, then decide)",
        size / s,
        n as f64 / s
    );
    match (before, after) {
        (Some(b), Some(a)) => println!("peak RSS: {a:.0} MiB (before decide: {b:.0} MiB)"),
        _ => println!("peak RSS: not available (no /proc/self/status)"),
    }
}
