//! The GPU variant of `thermal_sustained` (`device = "gpu"`): a fixed INT4 product dispatched
//! back to back through wgpu (`webgpu_kernel::sustained`, Vulkan: NVIDIA's driver on an NVIDIA
//! machine) for `seconds` per trial, with its throughput and the GPU's NVML sensors (GPU and
//! memory temperature, SM and memory clocks, power draw and limit, utilisation, clock-event
//! reasons) sampled every `sample_ms` into a time series.
//!
//! What runs where: without the `gpu` feature or a Vulkan adapter the kernel is `not_run`. On
//! lavapipe (Mesa's CPU Vulkan driver, the lab's VM) the load runs on the CPU: the throughput
//! series is recorded and the GPU sensor metrics are not measured, and the finding says so. The
//! GPU metrics need NVML (the `nvml` feature and an NVIDIA driver) and the load on that GPU.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use webgpu_kernel::sustained::{SustainedInfo, SustainedOptions, sustained};

use super::{RealParams, mean, over_trial};
use crate::real::nvml::{self, GpuSample, Nvml, THERMAL_MASK, THROTTLE_MASK};
use crate::real::{KernelContext, KernelReport};

mod dataset;

/// The metrics only the GPU variant measures (the CPU variant's report says so).
pub(super) const GPU_ONLY_METRICS: &[&str] = &[
    "gpu_temp_rise_c",
    "gpu_mem_temp_rise_c",
    "gpu_clock_drop_fraction",
    "gpu_clock_drop_at_45s_fraction",
    "gpu_clock_step_max_mhz",
    "gpu_power_w_mean",
    "gpu_power_limit_w",
    "gpu_throttle_events",
    "gpu_throttled_fraction",
    "gpu_thermal_throttled_fraction",
    "gpu_time_to_first_throttle_s",
];

/// One trial: sample times, throughput (dispatches/s) and the GPU readings (empty without
/// NVML or with the load elsewhere).
#[derive(Debug, Clone, Default)]
pub(crate) struct GpuTrial {
    pub t: Vec<f64>,
    pub rate: Vec<f64>,
    pub samples: Vec<GpuSample>,
}

/// What one trial's series say.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TrialMetrics {
    pub decay: f64,
    pub first_rate: f64,
    pub last_rate: f64,
    pub temp_rise_c: Option<f64>,
    pub mem_temp_rise_c: Option<f64>,
    pub clock_drop: Option<f64>,
    pub clock_drop_at_45s: Option<f64>,
    pub clock_step_max_mhz: Option<f64>,
    pub power_w_mean: Option<f64>,
    pub power_limit_w: Option<f64>,
    /// Times the throttle bits went from clear to set (a first sample already set counts).
    pub throttle_events: Option<f64>,
    pub throttled_fraction: Option<f64>,
    pub thermal_throttled_fraction: Option<f64>,
    pub first_throttle_s: Option<f64>,
    /// Every reason bit seen during the trial.
    pub reasons_seen: u64,
}

fn opt_mean(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = xs.flatten().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The metrics of one trial's series: first window against last window (`window_fraction` of
/// the samples each), throttle events from the clock-event reasons, the clock at 45-50 s
/// (article 05) when the trial lasts that long.
pub(crate) fn trial_metrics(tr: &GpuTrial, window_fraction: f64) -> Option<TrialMetrics> {
    let n = tr.rate.len();
    if n < 2 {
        return None;
    }
    let w = ((n as f64 * window_fraction).round() as usize).clamp(1, n);
    let (first_rate, last_rate) = (mean(&tr.rate[..w]), mean(&tr.rate[n - w..]));
    let mut m = TrialMetrics {
        decay: 1.0 - last_rate / first_rate,
        first_rate,
        last_rate,
        ..TrialMetrics::default()
    };
    let s = &tr.samples;
    if s.len() != n {
        return Some(m);
    }
    let rise = |f: fn(&GpuSample) -> Option<f64>| {
        Some(opt_mean(s[n - w..].iter().map(f))? - opt_mean(s[..w].iter().map(f))?)
    };
    m.temp_rise_c = rise(|x| x.temp_c);
    m.mem_temp_rise_c = rise(|x| x.mem_temp_c);
    let first_clock = opt_mean(s[..w].iter().map(|x| x.sm_mhz));
    if let Some(f0) = first_clock.filter(|f| *f > 0.0) {
        m.clock_drop = opt_mean(s[n - w..].iter().map(|x| x.sm_mhz)).map(|l| 1.0 - l / f0);
        m.clock_drop_at_45s = opt_mean(
            s.iter()
                .filter(|x| (45.0..50.0).contains(&x.t_s))
                .map(|x| x.sm_mhz),
        )
        .map(|c| 1.0 - c / f0);
    }
    m.clock_step_max_mhz = s
        .windows(2)
        .filter_map(|p| Some(p[0].sm_mhz? - p[1].sm_mhz?))
        .fold(None, |a: Option<f64>, d| Some(a.map_or(d, |a| a.max(d))))
        .map(|d| d.max(0.0));
    m.power_w_mean = opt_mean(s.iter().map(|x| x.power_w));
    m.power_limit_w = opt_mean(s.iter().map(|x| x.power_limit_w));
    let masks: Vec<u64> = s.iter().filter_map(|x| x.reasons).collect();
    if masks.len() == n {
        let hot = |mask: u64, bits: u64| mask & bits != 0;
        let mut prev = false;
        let mut events = 0.0;
        for (x, &mask) in s.iter().zip(&masks) {
            let now = hot(mask, THROTTLE_MASK);
            if now && !prev {
                events += 1.0;
                m.first_throttle_s.get_or_insert(x.t_s);
            }
            prev = now;
        }
        m.throttle_events = Some(events);
        let share = |bits| masks.iter().filter(|&&k| hot(k, bits)).count() as f64 / n as f64;
        m.throttled_fraction = Some(share(THROTTLE_MASK));
        m.thermal_throttled_fraction = Some(share(THERMAL_MASK));
        m.reasons_seen = masks.iter().fold(0, |a, b| a | b);
    }
    Some(m)
}

/// Whether the load runs on the GPU NVML sees: a non-CPU adapter whose name says NVIDIA.
fn on_nvidia(info: &SustainedInfo) -> bool {
    info.adapter.device_type != "Cpu" && info.adapter.name.to_uppercase().contains("NVIDIA")
}

fn run_trial(
    p: &RealParams,
    nvml: Option<&Nvml>,
    opts: &SustainedOptions,
) -> Result<(GpuTrial, SustainedInfo), String> {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let (stop_r, done_r) = (&stop, &done);
        let worker = scope.spawn(move || {
            let tx2 = tx.clone();
            let r = sustained(opts, stop_r, done_r, &move |i| {
                let _ = tx2.send(Ok(i.clone()));
            });
            if let Err(e) = &r {
                let _ = tx.send(Err(e.to_string()));
            }
            r
        });
        let info = match rx.recv() {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                // The worker ended without a word: it panicked. Joining keeps the scope quiet.
                let _ = worker.join();
                return Err("the GPU load stopped before it started (it panicked)".into());
            }
        };
        let sample = nvml.filter(|_| on_nvidia(&info));
        let mut tr = GpuTrial::default();
        let start = Instant::now();
        let period = Duration::from_millis(p.sample_ms);
        let (mut next, mut last_t, mut last_c) = (period, 0.0, 0u64);
        while start.elapsed().as_secs_f64() < p.seconds && !worker.is_finished() {
            std::thread::sleep(next.saturating_sub(start.elapsed()));
            next += period;
            let (now, c) = (start.elapsed().as_secs_f64(), done.load(Ordering::Relaxed));
            tr.t.push(now);
            tr.rate.push((c - last_c) as f64 / (now - last_t).max(1e-9));
            if let Some(nv) = sample {
                tr.samples.push(nv.sample(p.gpu_index, now));
            }
            (last_t, last_c) = (now, c);
        }
        stop.store(true, Ordering::Relaxed);
        match worker.join() {
            Ok(Ok(_)) => Ok((tr, info)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the GPU load panicked".into()),
        }
    })
}

/// Whether the GPU variant can run here: a wgpu adapter (else why not), and what NVML sees.
pub(super) fn available() -> Result<String, String> {
    let adapters = webgpu_kernel::adapters().map_err(|e| e.to_string())?;
    let Some(a) = adapters
        .iter()
        .find(|a| a.device_type == "DiscreteGpu")
        .or(adapters.first())
    else {
        return Err("no wgpu adapter (no Vulkan driver)".into());
    };
    let sensors = match nvml::devices() {
        Ok((driver, list)) => list
            .iter()
            .map(|d| format!("NVML {} {} (driver {driver})", d.index, d.name))
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => format!("GPU sensors not_run: {e}"),
    };
    let cpu = if a.device_type == "Cpu" {
        " (a CPU driver: throughput only)"
    } else {
        ""
    };
    Ok(format!("GPU load on {}{cpu}; {sensors}", a.name))
}

/// Runs the GPU variant.
pub(super) fn measure(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    let nvml = Nvml::open();
    let opts = SustainedOptions {
        m: p.gpu_tokens,
        n: p.gpu_rows,
        k: p.gpu_cols,
        dispatches_per_submit: p.gpu_dispatches,
        seed: ctx.seed,
    };
    let mut trials = Vec::new();
    let mut info = None;
    for k in 0..p.trials {
        (ctx.progress)(&format!(
            "GPU trial {}/{} ({} s)",
            k + 1,
            p.trials,
            p.seconds
        ));
        match run_trial(p, nvml.as_ref().ok(), &opts) {
            Ok((tr, i)) => {
                trials.push(tr);
                info = Some(i);
            }
            Err(e) => return KernelReport::not_run(format!("GPU load: {e}")),
        }
    }
    let Some(info) = info else {
        return KernelReport::not_run("no GPU trial ran");
    };
    let device = nvml
        .as_ref()
        .ok()
        .and_then(|nv| nv.info(p.gpu_index, 0.0).ok());
    let mut r = report(p, &trials, &info, nvml.as_ref().err(), device.as_ref());
    if !p.dataset_dir.is_empty() {
        match (device.as_ref(), on_nvidia(&info)) {
            (Some(d), true) => {
                let driver = nvml.as_ref().map(|n| n.driver()).unwrap_or_default();
                match dataset::write(p, &opts, &info, d, &driver, &trials) {
                    Ok(dir) => r.findings.push(format!("Series written to {dir}.")),
                    Err(e) => r.findings.push(format!("Series not written: {e}.")),
                }
            }
            _ => r.findings.push(format!(
                "Series not written to {}: the load did not run on an NVIDIA GPU with NVML.",
                p.dataset_dir
            )),
        }
    }
    r
}

/// Builds the report from the trials (separate from the measuring, for tests).
pub(crate) fn report(
    p: &RealParams,
    trials: &[GpuTrial],
    info: &SustainedInfo,
    nvml_err: Option<&String>,
    device: Option<&nvml::DeviceInfo>,
) -> KernelReport {
    let ms: Vec<TrialMetrics> = trials
        .iter()
        .filter_map(|t| trial_metrics(t, p.window_fraction))
        .collect();
    let mut r = KernelReport::default();
    let col = |f: fn(&TrialMetrics) -> Option<f64>| ms.iter().filter_map(f).collect::<Vec<_>>();
    let unit = "dispatch/s";
    let decay = col(|m| Some(m.decay));
    r.set_samples_in("throughput_decay_fraction", &decay, "fraction", (-1.0, 1.0));
    r.set_samples(
        "throughput_first_window_per_s",
        &col(|m| Some(m.first_rate)),
        unit,
    );
    r.set_samples(
        "throughput_last_window_per_s",
        &col(|m| Some(m.last_rate)),
        unit,
    );
    let signed = (-1.0, 1.0);
    // (GPU_ONLY_METRICS names the gpu_* metrics below; a test keeps the two alike.)
    let temps = (-100.0, 200.0);
    // The GPU's own names, and the CPU variant's names for the claims either variant judges.
    for (names, f, unit, range) in [
        (
            &["gpu_temp_rise_c", "temp_rise_c"][..],
            (|m: &TrialMetrics| m.temp_rise_c) as fn(&TrialMetrics) -> Option<f64>,
            "degC",
            temps,
        ),
        (
            &["gpu_mem_temp_rise_c"],
            |m| m.mem_temp_rise_c,
            "degC",
            temps,
        ),
        (
            &["gpu_clock_drop_fraction", "clock_drop_fraction"],
            |m| m.clock_drop,
            "fraction",
            signed,
        ),
        (
            &["gpu_clock_drop_at_45s_fraction"],
            |m| m.clock_drop_at_45s,
            "fraction",
            signed,
        ),
        (
            &["gpu_clock_step_max_mhz"],
            |m| m.clock_step_max_mhz,
            "MHz",
            (0.0, f64::INFINITY),
        ),
        (
            &["gpu_power_w_mean"],
            |m| m.power_w_mean,
            "W",
            (0.0, f64::INFINITY),
        ),
        (
            &["gpu_power_limit_w"],
            |m| m.power_limit_w,
            "W",
            (0.0, f64::INFINITY),
        ),
        (
            &["gpu_throttle_events", "throttle_events"],
            |m| m.throttle_events,
            "events",
            (0.0, f64::INFINITY),
        ),
        (
            &["gpu_throttled_fraction"],
            |m| m.throttled_fraction,
            "fraction",
            (0.0, 1.0),
        ),
        (
            &["gpu_thermal_throttled_fraction"],
            |m| m.thermal_throttled_fraction,
            "fraction",
            (0.0, 1.0),
        ),
        (
            &["gpu_time_to_first_throttle_s"],
            |m| m.first_throttle_s,
            "s",
            (0.0, f64::INFINITY),
        ),
    ] {
        let v = col(f);
        for name in names {
            r.set_samples_in(*name, &v, unit, range);
        }
    }
    let on_gpu = on_nvidia(info);
    let reasons: u64 = ms.iter().fold(0, |a, m| a | m.reasons_seen);
    let a = &info.adapter;
    r.findings.push(match (on_gpu, nvml_err) {
        (false, _) => format!(
            "The load ran on {} ({}), not an NVIDIA GPU{}: only its throughput series is \
             measured (changed {:+.1}% first to last window, {} trials); the GPU temperature, \
             clock, power and throttle metrics are not_run.{}",
            a.name,
            a.device_type,
            if a.device_type == "Cpu" {
                " (lavapipe is Mesa's Vulkan on the CPU)"
            } else {
                ""
            },
            -100.0 * mean(&decay),
            decay.len(),
            match device {
                Some(d) => format!(
                    " NVML sees {} but Vulkan does not: install NVIDIA's Vulkan ICD (in a \
                     container, NVIDIA_DRIVER_CAPABILITIES must include graphics).",
                    d.name
                ),
                None => String::new(),
            }
        ),
        (true, Some(e)) => format!(
            "The load ran on {} but NVML is unavailable ({e}): throughput only.",
            a.name
        ),
        (true, None) => format!(
            "The load ran on {} ({}); NVML sampled it every {} ms. Throttle reasons seen: {}.",
            a.name,
            device.map_or("?".to_string(), |d| d.name.clone()),
            p.sample_ms,
            if reasons == 0 {
                "none".to_string()
            } else {
                nvml::decode_reasons(reasons).join(", ")
            }
        ),
    });
    r.series.extend(over_trial(
        "real-gpu-throughput",
        format!("Sustained GPU load: throughput over time ({})", a.name),
        format!(
            "dispatches/s ({}x{}x{} INT4)",
            p.gpu_tokens, p.gpu_rows, p.gpu_cols
        ),
        trials
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("trial {}", i + 1), zip(&t.t, &t.rate)))
            .collect(),
    ));
    let first = trials.first().filter(|t| !t.samples.is_empty());
    if let Some(t) = first {
        type Pick = fn(&GpuSample) -> Option<f64>;
        let line = |name: &str, f: Pick| {
            let pts: Vec<(f64, f64)> = t
                .samples
                .iter()
                .filter_map(|s| Some((s.t_s, f(s)?)))
                .collect();
            (!pts.is_empty()).then(|| (name.to_string(), pts))
        };
        for (id, title, y, lines) in [
            (
                "real-gpu-temperatures",
                "GPU temperatures over time (first trial)",
                "temperature [°C]",
                [line("gpu", |s| s.temp_c), line("memory", |s| s.mem_temp_c)],
            ),
            (
                "real-gpu-clocks",
                "GPU clocks over time (first trial)",
                "clock [MHz]",
                [line("sm", |s| s.sm_mhz), line("memory", |s| s.mem_mhz)],
            ),
            (
                "real-gpu-power",
                "GPU power over time (first trial)",
                "power [W]",
                [
                    line("draw", |s| s.power_w),
                    line("limit", |s| s.power_limit_w),
                ],
            ),
        ] {
            let lines: Vec<_> = lines.into_iter().flatten().collect();
            r.series.extend(over_trial(id, title, y, lines));
        }
    }
    let env = &mut r.environment;
    env.insert(
        "adapter".into(),
        format!("{} ({}, {})", a.name, a.device_type, a.driver),
    );
    env.insert(
        "nvml".into(),
        match (nvml_err, device) {
            (Some(e), _) => e.clone(),
            (None, Some(d)) => format!("{}: {}", d.name, d.sensors_line()),
            (None, None) => format!("no device {}", p.gpu_index),
        },
    );
    env.insert(
        "trials".into(),
        format!(
            "{} x {} s, {}x{}x{} INT4 product, {} dispatches per submit (max rel error {:.5}), \
             sampled every {} ms",
            ms.len(),
            p.seconds,
            p.gpu_tokens,
            p.gpu_rows,
            p.gpu_cols,
            p.gpu_dispatches,
            info.max_rel_error,
            p.sample_ms
        ),
    );
    if on_gpu && nvml_err.is_none() {
        env.insert(
            "throttle_reasons".into(),
            nvml::decode_reasons(reasons).join(", "),
        );
    }
    r
}

fn zip(a: &[f64], b: &[f64]) -> Vec<(f64, f64)> {
    a.iter().copied().zip(b.iter().copied()).collect()
}

#[cfg(test)]
mod tests;
