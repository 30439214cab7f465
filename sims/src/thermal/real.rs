//! The `thermal_sustained` kernel: a fixed CPU workload (a 256 × 256 single-precision
//! matrix-vector loop, the shape of a decode step's arithmetic) run for `seconds` per trial,
//! with its throughput and every thermal sensor the machine exposes sampled every
//! `sample_ms` into a time series: `/sys/class/thermal/thermal_zone*/temp`, cpufreq's
//! `scaling_cur_freq` and `/sys/class/hwmon/hwmon*/temp*_input`.
//!
//! It reports the throughput decay (last window over first window, per trial, with its CI
//! over trials) always, and the temperature rise, clock drop and throttle events only where
//! sensors exist: on a VM or container there are none, and the finding says that the decay
//! measured there is the host's noise, not thermal throttling. Standard library only.
//!
//! `device = "gpu"` runs the GPU variant instead ([`gpu`]): a fixed INT4 product through
//! wgpu with the GPU's NVML sensors sampled beside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport, RealSeries};

mod gpu;

/// What the sustained load runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU matrix-vector loop with `/sys` sensors.
    Cpu,
    /// An INT4 product through wgpu with NVML sensors (an NVIDIA GPU).
    Gpu,
}

/// The `[real]` table of the thermal scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// Seconds of sustained load per trial.
    pub seconds: f64,
    /// Trials.
    pub trials: u32,
    /// Worker threads running the kernel.
    pub threads: u32,
    /// Sampling period, ms.
    pub sample_ms: u64,
    /// Share of the trial the first and the last window each cover.
    pub window_fraction: f64,
    /// `cpu` (default) or `gpu`.
    pub device: Device,
    /// GPU variant: the NVML index of the GPU the load runs on.
    pub gpu_index: u32,
    /// GPU variant: tokens of the INT4 product (rows of activations).
    pub gpu_tokens: u32,
    /// GPU variant: output features (weight rows).
    pub gpu_rows: u32,
    /// GPU variant: input features (a multiple of 32).
    pub gpu_cols: u32,
    /// GPU variant: dispatches per submission.
    pub gpu_dispatches: u32,
    /// GPU variant: a folder to write the series into (`datasets/thermal`: one folder per GPU
    /// model with `series.csv` and `provenance.json`); empty writes nothing.
    pub dataset_dir: String,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            seconds: 30.0,
            trials: 3,
            threads: 1,
            sample_ms: 250,
            window_fraction: 0.2,
            device: Device::Cpu,
            gpu_index: 0,
            gpu_tokens: 16,
            gpu_rows: 8192,
            gpu_cols: 8192,
            gpu_dispatches: 8,
            dataset_dir: String::new(),
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        if !(1.0..=3600.0).contains(&p.seconds) {
            return Err(ParamsError::out_of_range(
                "seconds",
                p.seconds,
                "1 to 3,600 s",
            ));
        }
        params::require_count("trials", p.trials, 1..=50, "trials")?;
        params::require_count("threads", p.threads, 1..=256, "threads")?;
        if !(10..=10_000).contains(&p.sample_ms) {
            return Err(ParamsError::out_of_range(
                "sample_ms",
                p.sample_ms,
                "10 to 10,000 ms",
            ));
        }
        if !(0.05..=0.5).contains(&p.window_fraction) {
            return Err(ParamsError::out_of_range(
                "window_fraction",
                p.window_fraction,
                "0.05 to 0.5",
            ));
        }
        params::require_count("gpu_index", p.gpu_index, 0..=63, "NVML device index")?;
        params::require_count("gpu_tokens", p.gpu_tokens, 1..=4096, "tokens")?;
        params::require_count("gpu_rows", p.gpu_rows, 1..=65_536, "rows")?;
        params::require_count("gpu_cols", p.gpu_cols, 32..=65_536, "columns")?;
        if p.gpu_cols % 32 != 0 {
            return Err(ParamsError::out_of_range(
                "gpu_cols",
                p.gpu_cols,
                "a multiple of 32 (one scale per 32 weights)",
            ));
        }
        params::require_count("gpu_dispatches", p.gpu_dispatches, 1..=1024, "dispatches")?;
        Ok(p)
    }

    /// The smaller run `--quick` asks for: 3 trials of 4 s.
    fn quick(mut self) -> RealParams {
        self.seconds = self.seconds.min(4.0);
        self.trials = self.trials.min(3);
        self
    }
}

/// One sensor: a name and the file it is read from, with the scale to its unit.
#[derive(Debug, Clone)]
struct Sensor {
    name: String,
    path: PathBuf,
    /// `true`: a temperature in millidegrees; `false`: a frequency in kHz.
    temperature: bool,
}

impl Sensor {
    fn read(&self) -> Option<f64> {
        let v: f64 = std::fs::read_to_string(&self.path)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(if self.temperature {
            v / 1000.0
        } else {
            v / 1e6
        })
    }
}

fn entries(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn label(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Every readable sensor: thermal zones, cpufreq clocks, hwmon temperatures.
fn sensors() -> Vec<Sensor> {
    let mut out = Vec::new();
    for z in entries(Path::new("/sys/class/thermal"), "thermal_zone") {
        let zone = z
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        out.push(Sensor {
            name: format!("{zone} {}", label(&z.join("type"))),
            path: z.join("temp"),
            temperature: true,
        });
    }
    for c in entries(Path::new("/sys/devices/system/cpu"), "cpu") {
        let f = c.join("cpufreq/scaling_cur_freq");
        if f.exists() {
            let cpu = c
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            out.push(Sensor {
                name: format!("{cpu} clock"),
                path: f,
                temperature: false,
            });
        }
    }
    for h in entries(Path::new("/sys/class/hwmon"), "hwmon") {
        let chip = label(&h.join("name"));
        for t in entries(&h, "temp") {
            if t.to_str().is_some_and(|s| s.ends_with("_input")) {
                let what = t
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string();
                out.push(Sensor {
                    name: format!("{chip} {what}"),
                    path: t,
                    temperature: true,
                });
            }
        }
    }
    out.retain(|s| s.read().is_some());
    out
}

/// What the sensors are, in one line (for `lab hw` and the environment).
fn describe(s: &[Sensor]) -> String {
    if s.is_empty() {
        return "no thermal sensors (no /sys/class/thermal zones, no cpufreq, no hwmon \
                temperatures): throughput only"
            .into();
    }
    let temps: Vec<&str> = s
        .iter()
        .filter(|s| s.temperature)
        .map(|s| s.name.as_str())
        .collect();
    let clocks = s.iter().filter(|s| !s.temperature).count();
    format!(
        "{} temperature sensors ({}), {clocks} cpufreq clocks",
        temps.len(),
        temps.join(", ")
    )
}

/// A fixed workload: `y = A x`, `x = y / |y|`, forever; returns the checksum so it is kept.
fn matvec_loop(stop: &AtomicBool, count: &AtomicU64) -> f32 {
    const N: usize = 256;
    let a: Vec<f32> = (0..N * N)
        .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let mut x = vec![1.0f32; N];
    let mut y = vec![0.0f32; N];
    let mut sum = 0.0f32;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..16 {
            for (i, yi) in y.iter_mut().enumerate() {
                let row = &a[i * N..(i + 1) * N];
                *yi = row.iter().zip(&x).map(|(p, q)| p * q).sum();
            }
            let norm = y.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-20);
            for (xi, yi) in x.iter_mut().zip(&y) {
                *xi = yi / norm;
            }
            sum += x[0];
        }
        count.fetch_add(16, Ordering::Relaxed);
    }
    sum
}

/// One trial's samples: time (s), throughput (matvecs/s) and each sensor's values.
struct Trial {
    t: Vec<f64>,
    rate: Vec<f64>,
    readings: Vec<Vec<f64>>,
}

fn run_trial(p: &RealParams, sensors: &[Sensor]) -> Trial {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..p.threads)
        .map(|_| {
            let (stop, count) = (Arc::clone(&stop), Arc::clone(&count));
            std::thread::spawn(move || matvec_loop(&stop, &count))
        })
        .collect();
    let start = Instant::now();
    let mut trial = Trial {
        t: Vec::new(),
        rate: Vec::new(),
        readings: vec![Vec::new(); sensors.len()],
    };
    let (mut last_t, mut last_c) = (0.0, 0u64);
    let period = Duration::from_millis(p.sample_ms);
    let mut next = period;
    while start.elapsed().as_secs_f64() < p.seconds {
        std::thread::sleep(next.saturating_sub(start.elapsed()));
        next += period;
        let (now, c) = (start.elapsed().as_secs_f64(), count.load(Ordering::Relaxed));
        trial.t.push(now);
        trial
            .rate
            .push((c - last_c) as f64 / (now - last_t).max(1e-9));
        for (v, s) in trial.readings.iter_mut().zip(sensors) {
            v.push(s.read().unwrap_or(f64::NAN));
        }
        (last_t, last_c) = (now, c);
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    trial
}

fn mean(xs: &[f64]) -> f64 {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct ThermalSustained;

impl Kernel for ThermalSustained {
    fn name(&self) -> &'static str {
        "thermal_sustained"
    }

    fn description(&self) -> &'static str {
        "a fixed CPU matrix-vector workload sustained for N seconds per trial, sampling its \
         throughput and every thermal zone, cpufreq clock and hwmon temperature the machine \
         exposes; decay and throttling with CIs over trials"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        let p = RealParams::from_table(real).map_err(|e| e.to_string())?;
        match p.device {
            Device::Cpu => Ok(format!("CPU workload; {}", describe(&sensors()))),
            Device::Gpu => gpu::available(),
        }
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        let p = if ctx.quick { p.quick() } else { p };
        match p.device {
            Device::Cpu => {
                let mut r = measure(&p, ctx);
                for name in gpu::GPU_ONLY_METRICS {
                    r.unmeasured.insert(
                        name.to_string(),
                        "the CPU variant ran (`device = \"cpu\"`); the GPU variant measures it \
                         on an NVIDIA GPU (`device = \"gpu\"`, lab built with `gpu`: just \
                         thermal-gpu)"
                            .into(),
                    );
                }
                r
            }
            Device::Gpu => gpu::measure(&p, ctx),
        }
    }
}

/// A measured curve over the trial's time axis, when it has a line to draw.
fn over_trial(
    id: &str,
    title: impl Into<String>,
    y_label: impl Into<String>,
    lines: Vec<(String, Vec<(f64, f64)>)>,
) -> Option<RealSeries> {
    (!lines.is_empty()).then(|| RealSeries {
        id: id.into(),
        title: title.into(),
        x_label: "time into the trial [s]".into(),
        y_label: y_label.into(),
        lines,
        log_y: false,
    })
}

fn measure(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    let sensors = sensors();
    let mut r = KernelReport::default();
    let mut decay = Vec::new();
    let (mut first_w, mut last_w) = (Vec::new(), Vec::new());
    let (mut rise, mut clock_drop, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let mut lines = Vec::new();
    let mut sensor_lines = Vec::new();
    for k in 0..p.trials {
        (ctx.progress)(&format!("trial {}/{} ({} s)", k + 1, p.trials, p.seconds));
        let tr = run_trial(p, &sensors);
        let n = tr.rate.len();
        let w = ((n as f64 * p.window_fraction).round() as usize).clamp(1, n.max(1));
        if n < 2 {
            continue;
        }
        let (a, b) = (mean(&tr.rate[..w]), mean(&tr.rate[n - w..]));
        first_w.push(a);
        last_w.push(b);
        decay.push(1.0 - b / a);
        lines.push((
            format!("trial {}", k + 1),
            tr.t.iter()
                .copied()
                .zip(tr.rate.iter().copied())
                .collect::<Vec<_>>(),
        ));
        let temps: Vec<&Vec<f64>> = sensors
            .iter()
            .zip(&tr.readings)
            .filter(|(s, _)| s.temperature)
            .map(|(_, v)| v)
            .collect();
        if !temps.is_empty() {
            let hottest = |i: usize| temps.iter().map(|v| v[i]).fold(f64::NAN, f64::max);
            let first: Vec<f64> = (0..w).map(hottest).collect();
            let last: Vec<f64> = (n - w..n).map(hottest).collect();
            rise.push(mean(&last) - mean(&first));
        }
        let clocks: Vec<&Vec<f64>> = sensors
            .iter()
            .zip(&tr.readings)
            .filter(|(s, _)| !s.temperature)
            .map(|(_, v)| v)
            .collect();
        if !clocks.is_empty() {
            let avg = |i: usize| mean(&clocks.iter().map(|v| v[i]).collect::<Vec<_>>());
            let series: Vec<f64> = (0..n).map(avg).collect();
            let top = series.iter().copied().fold(f64::NAN, f64::max);
            clock_drop.push(1.0 - mean(&series[n - w..]) / mean(&series[..w]));
            let dips = series
                .windows(2)
                .filter(|s| s[0] >= 0.9 * top && s[1] < 0.9 * top)
                .count();
            events.push(dips as f64);
        }
        if k == 0 {
            for (s, v) in sensors.iter().zip(&tr.readings) {
                let pts =
                    tr.t.iter()
                        .copied()
                        .zip(v.iter().copied())
                        .collect::<Vec<_>>();
                sensor_lines.push((s.temperature, s.name.clone(), pts));
            }
        }
    }
    r.set_samples_in("throughput_decay_fraction", &decay, "fraction", (-1.0, 1.0));
    r.set_samples("throughput_first_window_per_s", &first_w, "matvec/s");
    r.set_samples("throughput_last_window_per_s", &last_w, "matvec/s");
    if !rise.is_empty() {
        r.set_samples_in("temp_rise_c", &rise, "degC", (-100.0, 200.0));
    }
    if !clock_drop.is_empty() {
        r.set_samples_in("clock_drop_fraction", &clock_drop, "fraction", (-1.0, 1.0));
        r.set_samples("throttle_events", &events, "events");
    }
    let spread = |v: &[f64]| {
        let m = mean(v);
        let sd =
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64).sqrt();
        (m, sd)
    };
    let (dm, dsd) = spread(&decay);
    if sensors.is_empty() {
        r.findings.push(format!(
            "No thermal sensors on this machine (a VM or container): temperature, clock and \
             throttle metrics are not measured (claims on them are not_run). The throughput \
             changed by {:+.1}% (sd {:.1}% over {} trials) from the first to the last {:.0}% of \
             each run: host noise, not thermal decay. A VM shows no thermal decay; the phone \
             numbers rest on the model.",
            -100.0 * dm,
            100.0 * dsd,
            decay.len(),
            100.0 * p.window_fraction
        ));
    } else {
        r.findings.push(format!(
            "Sensors sampled: {}. Throughput decay {:.1}% (sd {:.1}%, {} trials).",
            describe(&sensors),
            100.0 * dm,
            100.0 * dsd,
            decay.len()
        ));
    }
    r.series.extend(over_trial(
        "real-throughput",
        "Sustained CPU workload: throughput over time (this machine)",
        format!("256x256 matvecs per second ({} thread)", p.threads),
        lines,
    ));
    for (temperature, id, title, y) in [
        (
            true,
            "real-temperatures",
            "Sensor temperatures over time (first trial)",
            "temperature [°C]",
        ),
        (
            false,
            "real-clocks",
            "CPU clocks over time (first trial)",
            "scaling_cur_freq [GHz]",
        ),
    ] {
        let lines: Vec<_> = sensor_lines
            .iter()
            .filter(|l| l.0 == temperature)
            .map(|l| (l.1.clone(), l.2.clone()))
            .collect();
        r.series.extend(over_trial(id, title, y, lines));
    }
    let env = &mut r.environment;
    env.insert("sensors".into(), describe(&sensors));
    env.insert(
        "trials".into(),
        format!(
            "{} x {} s, {} thread(s), sampled every {} ms",
            decay.len(),
            p.seconds,
            p.threads,
            p.sample_ms
        ),
    );
    r
}
