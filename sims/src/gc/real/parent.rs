//! The parent side of `gc_allocators`: finds the children, starts them, folds their results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

use super::RealParams;
use super::workload::ChildArgs;
use crate::real::{KernelContext, KernelReport, RealSeries};

/// The children's executable names, by allocator.
const BINARIES: [&str; 3] = [
    "lab-alloc-system",
    "lab-alloc-mimalloc",
    "lab-alloc-jemalloc",
];

/// The article's three variables with its recommended values.
const ARTICLE_ENV: &[(&str, &str)] = &[
    ("MIMALLOC_ARENA_EAGER_COMMIT", "1"),
    ("MIMALLOC_PURGE_DELAY", "50"),
    ("MIMALLOC_ALLOW_LARGE_OS_PAGES", "1"),
];

/// The same settings under the names mimalloc 1.7.1 (the runtime's bundled one) reads.
const LEGACY_ENV: &[(&str, &str)] = &[
    ("MIMALLOC_EAGER_REGION_COMMIT", "1"),
    ("MIMALLOC_RESET_DELAY", "50"),
    ("MIMALLOC_LARGE_OS_PAGES", "1"),
];

/// A measured configuration: its name, its child, its environment.
struct Config {
    name: &'static str,
    binary: usize,
    env: &'static [(&'static str, &'static str)],
}

const CONFIGS: [Config; 4] = [
    Config {
        name: "system",
        binary: 0,
        env: &[],
    },
    Config {
        name: "mimalloc",
        binary: 1,
        env: &[],
    },
    Config {
        name: "mimalloc_env",
        binary: 1,
        env: ARTICLE_ENV,
    },
    Config {
        name: "jemalloc",
        binary: 2,
        env: &[],
    },
];

/// Where the children are.
pub(super) struct Children {
    pub(super) dir: PathBuf,
}

impl Children {
    fn path(&self, i: usize) -> PathBuf {
        self.dir
            .join(format!("{}{}", BINARIES[i], std::env::consts::EXE_SUFFIX))
    }
}

/// The directory holding all three children: `children_dir`, or the running executable's
/// directory, or its parent (a test binary runs from `target/<profile>/deps`).
pub(super) fn children(p: &RealParams) -> Result<Children, String> {
    let dirs: Vec<PathBuf> = if p.children_dir.is_empty() {
        let exe = std::env::current_exe().map_err(|e| format!("no current executable: {e}"))?;
        exe.ancestors()
            .skip(1)
            .take(2)
            .map(Path::to_path_buf)
            .collect()
    } else {
        vec![PathBuf::from(&p.children_dir)]
    };
    for dir in &dirs {
        let c = Children { dir: dir.clone() };
        if (0..BINARIES.len()).all(|i| c.path(i).is_file()) {
            return Ok(c);
        }
    }
    Err(format!(
        "the allocator children ({}) are not in {}: build lab with the `allocators` feature \
         (on by default: cargo build --release -p harness)",
        BINARIES.join(", "),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    ))
}

fn spawn(
    c: &Children,
    binary: usize,
    env: &[(&str, &str)],
    args: &ChildArgs,
) -> Result<Map<String, Value>, String> {
    let mut cmd = Command::new(c.path(binary));
    cmd.args(args.to_words());
    // Only the variables asked for reach mimalloc.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MIMALLOC_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", BINARIES[binary]))?;
    if !out.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            BINARIES[binary],
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    match serde_json::from_str(line) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(format!("{}: no JSON result in `{line}`", BINARIES[binary])),
    }
}

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64)
}

/// Measures every configuration `trials` times.
pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    let c = match children(p) {
        Ok(c) => c,
        Err(e) => return KernelReport::not_run(e),
    };
    match measure(p, ctx, &c) {
        Ok(r) => r,
        Err(e) => KernelReport::not_run(e),
    }
}

fn measure(p: &RealParams, ctx: &KernelContext, c: &Children) -> Result<KernelReport, String> {
    let workers = if p.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
    } else {
        p.workers
    };
    let mut args = ChildArgs {
        rate: 0.0,
        duration_s: p.duration_s,
        workers: workers as usize,
        body_bytes: p.body_bytes as usize,
        seed: ctx.seed,
        micro_ops: 1_000,
    };
    (ctx.progress)("gc_allocators: probing service time and allocations");
    let probe = spawn(c, 0, &[], &args)?;
    let service_ms = num(&probe, "plain_service_probe_ms").ok_or("probe: no service time")?;
    let rate = p.utilization * f64::from(workers) / (service_ms / 1e3);
    let mi_default = spawn(c, 1, &[], &args)?;
    let mi_article = spawn(c, 1, ARTICLE_ENV, &args)?;
    let mi_legacy = spawn(c, 1, LEGACY_ENV, &args)?;

    args.rate = rate;
    args.micro_ops = u64::from(p.micro_ops);
    let mut runs: BTreeMap<&str, Vec<Map<String, Value>>> = BTreeMap::new();
    for t in 0..p.trials {
        for cfg in &CONFIGS {
            (ctx.progress)(&format!(
                "gc_allocators: trial {}/{} {}",
                t + 1,
                p.trials,
                cfg.name
            ));
            args.seed = ctx.seed.wrapping_add(u64::from(t));
            let m = spawn(c, cfg.binary, cfg.env, &args)?;
            runs.entry(cfg.name).or_default().push(m);
        }
    }

    let mut r = KernelReport::default();
    let samples = |cfg: &str, k: &str| -> Vec<f64> {
        runs.get(cfg)
            .map(|v| v.iter().filter_map(|m| num(m, k)).collect())
            .unwrap_or_default()
    };
    for cfg in &CONFIGS {
        for v in ["plain", "pooled"] {
            for (k, unit) in [
                ("p50_ms", "ms"),
                ("p99_ms", "ms"),
                ("p999_ms", "ms"),
                ("max_ms", "ms"),
                ("service_mean_ms", "ms"),
            ] {
                r.set_samples(
                    format!("{}_{v}_{k}", cfg.name),
                    &samples(cfg.name, &format!("{v}_{k}")),
                    unit,
                );
            }
        }
        r.set_samples(
            format!("{}_alloc_ns_per_object", cfg.name),
            &samples(cfg.name, "alloc_ns_per_object"),
            "ns",
        );
        r.set_samples(
            format!("{}_peak_rss_mb", cfg.name),
            &samples(cfg.name, "peak_rss_mb"),
            "MB",
        );
    }
    // Paired changes of p99 (same trial, same schedule seed).
    let change = |a: &str, va: &str, b: &str, vb: &str| -> Vec<f64> {
        let (xa, xb) = (
            samples(a, &format!("{va}_p99_ms")),
            samples(b, &format!("{vb}_p99_ms")),
        );
        xa.iter()
            .zip(&xb)
            .filter(|(x, _)| **x > 0.0)
            .map(|(x, y)| (y / x - 1.0) * 100.0)
            .collect()
    };
    r.set_rise_pct_samples(
        "mimalloc_env_p99_change_pct",
        &change("mimalloc", "plain", "mimalloc_env", "plain"),
    );
    r.set_rise_pct_samples(
        "mimalloc_vs_system_p99_change_pct",
        &change("system", "plain", "mimalloc", "plain"),
    );
    r.set_rise_pct_samples(
        "pooling_p99_change_pct",
        &change("mimalloc", "plain", "mimalloc", "pooled"),
    );

    // Facts the probe counted (deterministic: the same request, the same code).
    for k in [
        "plain_allocs_per_request",
        "pooled_allocs_per_request",
        "plain_kb_per_request",
        "pooled_kb_per_request",
        "body_bytes",
    ] {
        if let Some(x) = num(&probe, k) {
            r.set_exact(
                k,
                x,
                if k.ends_with("kb_per_request") {
                    "kB"
                } else {
                    "count"
                },
            );
        }
    }
    let cut = |a: &str, b: &str| Some(1.0 - num(&probe, b)? / num(&probe, a)?);
    if let Some(x) = cut("plain_kb_per_request", "pooled_kb_per_request") {
        r.set_exact("pooling_byte_cut", x, "fraction");
    }
    if let Some(x) = cut("plain_allocs_per_request", "pooled_allocs_per_request") {
        r.set_exact("pooling_object_cut", x, "fraction");
    }
    for (tag, m) in [
        ("default", &mi_default),
        ("article_env", &mi_article),
        ("legacy_env", &mi_legacy),
    ] {
        for k in [
            "mi_arena_eager_commit",
            "mi_allow_large_os_pages",
            "mi_purge_delay",
        ] {
            if let Some(x) = num(m, k) {
                r.set_exact(format!("{k}_{tag}"), x, "value");
            }
        }
    }
    let version = num(&mi_default, "mimalloc_version").unwrap_or(0.0);
    r.set_exact("mimalloc_version", version, "version");

    calibrate(&mut r, &samples, rate, workers);
    series(&mut r);
    r.environment.insert("workers".into(), workers.to_string());
    r.environment.insert(
        "rate".into(),
        format!("{rate:.0} requests/s (fixed for every allocator)"),
    );
    r.environment.insert(
        "mimalloc".into(),
        format!(
            "{}.{}.{} (linked)",
            version as u32 / 10_000,
            version as u32 / 100 % 100,
            version as u32 % 100
        ),
    );
    if let Ok(thp) = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled") {
        r.environment
            .insert("transparent_hugepage".into(), thp.trim().to_string());
    }
    r.environment.insert(
        "trials".into(),
        format!("{} per configuration, one process each", p.trials),
    );
    findings(&mut r);
    Ok(r)
}

fn calibrate(
    r: &mut KernelReport,
    samples: &dyn Fn(&str, &str) -> Vec<f64>,
    rate: f64,
    workers: u32,
) {
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let mut cal = toml::Table::new();
    let mut put = |k: &str, x: Option<f64>| {
        if let Some(x) = x {
            cal.insert(
                k.into(),
                toml::Value::Float(crate::real::round_calibration(x)),
            );
        }
    };
    for a in ["system", "mimalloc", "jemalloc"] {
        put(
            &format!("alloc_ns_{a}"),
            mean(samples(a, "alloc_ns_per_object")),
        );
    }
    // The lognormal with the measured median and mean (the mean sets the load).
    let median = mean(samples("system", "plain_service_p50_ms"));
    let avg = mean(samples("system", "plain_service_mean_ms"));
    let load = avg.map(|a| rate * a / 1e3 / f64::from(workers));
    match (median, avg, load) {
        (Some(m), Some(a), Some(l)) if l < 0.95 => {
            put("service_median_ms", Some(m));
            let sigma = (2.0 * (a / m).ln().max(0.0)).sqrt().min(3.0);
            put("service_sigma", Some(sigma));
            put("arrival_rate", Some(rate));
            cal.insert("cores".into(), toml::Value::Integer(i64::from(workers)));
        }
        (_, _, Some(l)) => r.findings.push(format!(
            "the offered rate loaded each worker to {l:.2} (the machine's other processes slowed \
             the handler down after the probe): the this-machine point is not calibrated, its \
             queue would have no steady state"
        )),
        _ => {}
    }
    r.calibration.extend(cal);
}

fn series(r: &mut KernelReport) {
    let line = |r: &KernelReport, v: &str, k: &str| -> Vec<(f64, f64)> {
        CONFIGS
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let m = r.metrics.get(&format!("{}_{v}_{k}", c.name))?;
                Some((i as f64, m.value))
            })
            .collect()
    };
    let lines = vec![
        ("p99 Value".to_string(), line(r, "plain", "p99_ms")),
        ("p99 pooled".to_string(), line(r, "pooled", "p99_ms")),
        ("p50 Value".to_string(), line(r, "plain", "p50_ms")),
        ("p50 pooled".to_string(), line(r, "pooled", "p50_ms")),
    ];
    r.series.push(RealSeries {
        id: "real-latency-per-allocator".into(),
        title: "Real handler latency per allocator (open loop, this machine)".into(),
        x_label: "0 system · 1 mimalloc · 2 mimalloc + article variables · 3 jemalloc".into(),
        y_label: "latency [ms]".into(),
        lines,
        log_y: false,
    });
}

fn findings(r: &mut KernelReport) {
    let get = |k: &str| r.metrics.get(k).map(|m| m.value);
    let mut f = Vec::new();
    if let (Some(d), Some(a), Some(l)) = (
        get("mi_purge_delay_default"),
        get("mi_purge_delay_article_env"),
        get("mi_purge_delay_legacy_env"),
    ) {
        f.push(format!(
            "the linked mimalloc reads MIMALLOC_PURGE_DELAY (default {d}, set 50 → {a}) and its \
             legacy name MIMALLOC_RESET_DELAY (→ {l}); the runtime's bundled mimalloc 1.7.1 \
             knows only the legacy name (research §2.1)"
        ));
    }
    if let (Some(d), Some(a)) = (
        get("mi_allow_large_os_pages_default"),
        get("mi_allow_large_os_pages_article_env"),
    ) {
        f.push(format!(
            "MIMALLOC_ALLOW_LARGE_OS_PAGES: default {d}, set 1 → {a} (whether the OS then gives \
             huge pages depends on its settings; see transparent_hugepage)"
        ));
    }
    if let (Some(p), Some(q)) = (
        get("plain_allocs_per_request"),
        get("pooled_allocs_per_request"),
    ) {
        f.push(format!(
            "a ~50 KB body parsed into serde_json::Value allocates {p:.0} times per request; the \
             borrowed parse with reused buffers {q:.0} times"
        ));
    }
    r.findings.extend(f);
}
