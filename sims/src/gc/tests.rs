use super::*;
use crate::real::{Kernel, KernelContext};
use crate::room::testing::{check, replicate, run_once};
use crate::stats::Estimate;

fn est(params: &str, reps: u32, seed: u64) -> std::collections::BTreeMap<String, Estimate> {
    replicate::<Gc>(params, reps, seed)
}

/// |estimate − exact| within `k` standard errors plus a small relative slack (the histogram's
/// 3 significant digits, the end of the run).
fn assert_near(e: &Estimate, exact: f64, k: f64, rel: f64, what: &str) {
    let tol = k * e.std_error() + rel * exact.abs();
    assert!(
        (e.mean - exact).abs() <= tol,
        "{what}: {} vs exact {exact} (tolerance {tol})",
        e.mean
    );
}

/// Erlang C: the probability an arrival waits in M/M/c with offered load `a` = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c);
    let rho = a / f64::from(c);
    let top = last / (1.0 - rho);
    top / (sum + top)
}

#[test]
fn without_gc_the_server_is_m_m_c() {
    // λ = 1000/s, mean 3.2 ms, c = 4: ρ = 0.8.
    let p = "gc = false\nservice_shape = \"exp\"\nservice_median_ms = 3.2\ncores = 4\n\
             arrival_rate = 1000\nobjects_per_request = 0\nduration_s = 40\nwarmup_s = 2\n";
    let m = est(p, 8, 11);
    let (lambda, s) = (1000.0, 0.0032);
    let a = lambda * s;
    let wq = erlang_c(4, a) * s / (4.0 - a);
    assert_near(
        &m["latency_mean_ms"],
        (wq + s) * 1e3,
        4.0,
        0.01,
        "M/M/4 sojourn",
    );
    assert_near(&m["utilization"], 0.8, 4.0, 0.005, "M/M/4 utilisation");
    assert_eq!(m["gc_count_per_min"].mean, 0.0);
    assert_eq!(m["cpu_gc_fraction"].mean, 0.0);
}

#[test]
fn without_gc_one_core_is_pollaczek_khinchine() {
    // M/G/1 with lognormal work (median 1 ms, σ 0.5): W = λE[S²] / (2(1 − ρ)) + E[S].
    let p = "gc = false\nservice_median_ms = 1.0\nservice_sigma = 0.5\ncores = 1\n\
             arrival_rate = 500\nobjects_per_request = 0\nduration_s = 60\nwarmup_s = 2\n";
    let m = est(p, 8, 12);
    let (med, sig, lambda) = (0.001_f64, 0.5_f64, 500.0);
    let es = med * (sig * sig / 2.0).exp();
    let es2 = med * med * (2.0 * sig * sig).exp();
    let rho = lambda * es;
    let w = lambda * es2 / (2.0 * (1.0 - rho)) + es;
    assert_near(&m["latency_mean_ms"], w * 1e3, 4.0, 0.01, "M/G/1 sojourn");
}

#[test]
fn autotune_triggers_at_0_8_live_and_replaces_the_target() {
    // Live set fixed: a collection starts once 0.9 · live / 0.5 − live = 0.8 · live is
    // allocated, and the target after each is live / 0.5, whatever targetHeapBytes said.
    let p = "live_cv = 0\ntuning_step = 1\nduration_s = 20\n";
    let m = est(p, 4, 13);
    assert_near(&m["gc_trigger_alloc_per_live"], 0.8, 4.0, 0.01, "trigger");
    assert!((m["target_heap_after_gc_mb"].mean - 240.0).abs() < 1e-6);
    // 200 MB/s allocated, 96 MB between collections: 125 a minute.
    assert_near(&m["gc_count_per_min"], 125.0, 4.0, 0.02, "frequency");
    // The budget applied as minHeapBytes holds: target 512, trigger at 0.9 · 512 − 120.
    let m = est(
        "live_cv = 0\ntuning_step = 1\nbudget_via = \"min_heap\"\nduration_s = 60\n",
        3,
        13,
    );
    assert!((m["target_heap_after_gc_mb"].mean - 512.0).abs() < 1e-6);
    let per_min = 60.0 * 200.0 / (0.9 * 512.0 - 120.0);
    // Whole collections in a 60 s window: within one of the rate.
    assert_near(
        &m["gc_count_per_min"],
        per_min,
        4.0,
        0.03,
        "budget frequency",
    );
}

#[test]
fn pooling_halves_the_frequency_when_it_halves_the_bytes() {
    let base = "live_cv = 0\nbudget_via = \"min_heap\"\nduration_s = 30\npool_alloc_cut = 0.5\n";
    let before = est(&format!("{base}tuning_step = 2\n"), 4, 14);
    let after = est(&format!("{base}tuning_step = 3\n"), 4, 14);
    let r = after["gc_count_per_min"].mean / before["gc_count_per_min"].mean;
    assert!((r - 0.5).abs() < 0.03, "ratio {r}");
    assert_eq!(after["pooling_gc_frequency_ratio"].mean, 0.5);
}

#[test]
fn pauses_delay_requests_and_count_as_gc_cpu() {
    let on = est("duration_s = 20\n", 4, 15);
    let off = est("duration_s = 20\ngc = false\n", 4, 15);
    assert!(on["latency_p99_ms"].mean > off["latency_p99_ms"].mean + 10.0);
    assert!(on["gc_pause_max_ms"].mean > 40.0);
    let f = on["cpu_gc_fraction"].mean;
    assert!(f > 0.05 && f < 0.5, "{f}");
    assert!(on["heap_peak_mb"].mean > 200.0 && on["heap_peak_mb"].mean < 260.0);
}

#[test]
fn cms_pauses_are_shorter_than_pmcs() {
    let cms = est("duration_s = 20\ncollector = \"cms\"\n", 3, 16);
    let pmcs = est("duration_s = 20\n", 3, 16);
    assert!(cms["gc_pause_mean_ms"].mean < pmcs["gc_pause_mean_ms"].mean / 2.0);
}

#[test]
fn replications_repeat_exactly() {
    let t: toml::Table = "duration_s = 5\ncollector = \"cms\"\n".parse().unwrap();
    let ctx = crate::simulation::RunContext::for_replication(3, 1);
    let a = run_once::<Gc>(&t, &ctx).unwrap();
    let b = run_once::<Gc>(&t, &ctx).unwrap();
    assert_eq!(a.metrics, b.metrics);
}

#[test]
fn runtime_facts_follow_the_version() {
    let t: toml::Table = "duration_s = 1\nkn_version = \"1.8.0\"\n".parse().unwrap();
    let ctx = crate::simulation::RunContext::for_replication(3, 0);
    let o = run_once::<Gc>(&t, &ctx).unwrap();
    assert_eq!(o.metrics["default_allocator_is_mimalloc"], 1.0);
    assert_eq!(o.metrics["gc_phase_count"], 2.0);
    let t: toml::Table = "duration_s = 1\n".parse().unwrap();
    let o = run_once::<Gc>(&t, &ctx).unwrap();
    assert_eq!(o.metrics["default_allocator_is_mimalloc"], 0.0);
    assert_eq!(o.metrics["cyclic_collector_setting_effective"], 0.0);
}

#[test]
fn bad_parameters_name_their_field() {
    for (text, field) in [
        ("tuning_step = 4", "tuning_step"),
        ("gc_threads = 16", "gc_threads"),
        ("kn_version = \"two\"", "kn_version"),
        (
            "arrival_rate = 6000\nservice_median_ms = 20",
            "arrival_rate",
        ),
        ("pool_alloc_cut = 1.5", "pool_alloc_cut"),
        ("target_utilization = 1", "target_utilization"),
        ("max_heap_mb = 0.5", "max_heap_mb"),
    ] {
        let t: toml::Table = text.parse().unwrap();
        let e = check::<Gc>(&t).expect_err(text);
        assert_eq!(e.path(), field, "{text}: {e}");
    }
    assert!(check::<Gc>(&toml::Table::new()).is_ok());
}

#[test]
fn the_handlers_agree_on_the_total_and_the_body_is_50_kb() {
    let body = real::workload::generate_body(50_000, 7);
    assert!((50_000..51_000).contains(&body.len()));
    let n = real::workload::handle_plain(body.as_bytes());
    let (mut out, mut scratch) = (Vec::new(), String::new());
    let m = real::workload::handle_pooled(body.as_bytes(), &mut out, &mut scratch);
    assert!(n > 10_000 && m > 10_000);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["total"].as_f64().unwrap() > 0.0);
    let args = real::ChildArgs::parse(&["rate=5".into(), "workers=3".into()]).unwrap();
    assert_eq!(real::ChildArgs::parse(&args.to_words()).unwrap(), args);
    assert!(real::ChildArgs::parse(&["speed=1".into()]).is_err());
}

#[test]
fn the_kernel_is_not_run_without_its_children() {
    let t: toml::Table = "children_dir = \"/nonexistent-claimlab\"".parse().unwrap();
    let k = GcAllocators;
    assert!(k.available(&t).is_err());
    let ctx = KernelContext {
        seed: 1,
        quick: true,
        progress: &|_| {},
    };
    let r = k.run(&t, &ctx);
    assert!(r.not_run.unwrap().contains("allocators"));
    assert!(k.check(&"trials = 0".parse().unwrap()).is_err());
}

#[test]
fn the_heap_target_as_coded_gains_nothing_after_the_first_collection() {
    let coded = est("duration_s = 30\ntuning_step = 1\n", 3, 17);
    assert!(coded["latency_p99_gain_ms"].mean.abs() < 3.0);
    let intended = est(
        "duration_s = 30\ntuning_step = 1\nbudget_via = \"min_heap\"\n",
        3,
        17,
    );
    assert!(intended["latency_p99_gain_ms"].mean > 5.0);
}
