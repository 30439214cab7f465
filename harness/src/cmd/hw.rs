//! `lab hw`: what this machine offers the real kernels. Detect, never assume: anything absent
//! is reported absent, and kernels that need it report `not_run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{LabError, exit_code};

#[path = "hw_webgpu.rs"]
mod webgpu;

/// Everything detected.
#[derive(Debug, Clone, Serialize)]
pub struct Hardware {
    /// The CPU's model name (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub logical_cpus: usize,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// GPU adapters (nvidia-smi, else DRM cards).
    pub gpus: Vec<String>,
    /// NVIDIA GPUs and their sensors through NVML (or why none).
    pub nvml: super::hw_nvml::NvmlHw,
    /// Thermal zones with a temperature.
    pub thermal_zones: Vec<ThermalZone>,
    /// cpu0's frequency scaling, if exposed.
    pub cpufreq: Option<CpuFreq>,
    /// PostgreSQL server binaries found, with their versions.
    pub postgresql: Vec<String>,
    /// Throwaway clusters of dead runs found (and stopped and removed) on the way.
    pub stale_clusters_removed: Vec<String>,
    /// WebGPU adapters (the `gpu` build), or why none are listed.
    pub webgpu: webgpu::WebgpuSection,
    /// Real kernels: name → (simulation, whether it can run here or why not).
    pub kernels: Vec<KernelStatus>,
}

/// A real kernel as `lab hw` sees it.
#[derive(Debug, Clone, Serialize)]
pub struct KernelStatus {
    /// The kernel's name.
    pub kernel: String,
    /// The room it belongs to.
    pub sim: String,
    /// Whether it can run here.
    pub available: bool,
    /// What it would use, or why it cannot run.
    pub detail: String,
}

/// A `/sys/class/thermal` zone.
#[derive(Debug, Clone, Serialize)]
pub struct ThermalZone {
    /// The zone's type (`x86_pkg_temp`, `acpitz`).
    pub name: String,
    /// Its temperature now, °C.
    pub celsius: f64,
}

/// cpu0's frequency scaling.
#[derive(Debug, Clone, Serialize)]
pub struct CpuFreq {
    /// The scaling governor (`performance`, `schedutil`).
    pub governor: String,
    /// The current frequency, MHz.
    pub cur_mhz: f64,
    /// The highest frequency, MHz.
    pub max_mhz: f64,
}

fn read(p: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Probes the machine.
pub fn detect() -> Hardware {
    let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name") || l.starts_with("Model"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let logical_cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory_gib = read("/proc/meminfo")
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    Hardware {
        cpu_model,
        logical_cpus,
        memory_gib,
        gpus: gpus(),
        nvml: super::hw_nvml::detect(),
        thermal_zones: thermal_zones(),
        cpufreq: cpufreq(),
        postgresql: postgresql(),
        stale_clusters_removed: sims::real::postgres::reap_stale(),
        webgpu: webgpu::detect(),
        kernels: crate::real::availability()
            .into_iter()
            .map(|(kernel, (sim, a))| KernelStatus {
                kernel,
                sim,
                available: a.is_ok(),
                detail: a.unwrap_or_else(|e| e),
            })
            .collect(),
    }
}

fn gpus() -> Vec<String> {
    // nvidia-smi names NVIDIA cards precisely; DRM covers every other vendor's adapter.
    let mut out = Vec::new();
    if let Ok(o) = Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,driver_version",
            "--format=csv,noheader",
        ])
        .output()
    {
        if o.status.success() {
            out.extend(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| format!("NVIDIA {}", l.trim())),
            );
        }
    }
    if out.is_empty() {
        if let Ok(rd) = std::fs::read_dir("/sys/class/drm") {
            let mut cards: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("card") && !n.contains('-'))
                })
                .collect();
            cards.sort();
            for c in cards {
                let vendor = read(c.join("device/vendor")).unwrap_or_default();
                let device = read(c.join("device/device")).unwrap_or_default();
                let name = match vendor.as_str() {
                    "0x10de" => "NVIDIA",
                    "0x1002" => "AMD",
                    "0x8086" => "Intel",
                    "0x1af4" => "virtio",
                    _ => "unknown vendor",
                };
                out.push(format!("{name} {vendor}:{device} ({})", c.display()));
            }
        }
    }
    out
}

fn thermal_zones() -> Vec<ThermalZone> {
    let Ok(rd) = std::fs::read_dir("/sys/class/thermal") else {
        return Vec::new();
    };
    let mut zones: Vec<ThermalZone> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("thermal_zone"))
        })
        .filter_map(|p| {
            let milli: f64 = read(p.join("temp"))?.parse().ok()?;
            Some(ThermalZone {
                name: read(p.join("type")).unwrap_or_else(|| p.display().to_string()),
                celsius: milli / 1000.0,
            })
        })
        .collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    zones
}

fn cpufreq() -> Option<CpuFreq> {
    let base = Path::new("/sys/devices/system/cpu/cpu0/cpufreq");
    let khz = |f: &str| read(base.join(f)).and_then(|s| s.parse::<f64>().ok());
    Some(CpuFreq {
        governor: read(base.join("scaling_governor"))?,
        cur_mhz: khz("scaling_cur_freq")? / 1000.0,
        max_mhz: khz("cpuinfo_max_freq").unwrap_or(0.0) / 1000.0,
    })
}

/// `initdb`/`pg_ctl` found on PATH or in Debian's versioned directories.
pub fn postgresql() -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .collect();
        v.sort();
        dirs.extend(v);
    }
    for d in dirs {
        let pg_ctl = d.join("pg_ctl");
        if pg_ctl.is_file() && d.join("initdb").is_file() {
            let version = Command::new(&pg_ctl)
                .arg("--version")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            let entry = format!("{} ({version})", d.display());
            if !found.contains(&entry) {
                found.push(entry);
            }
        }
    }
    found
}

/// Prints what was detected.
pub fn run(json: bool) -> Result<u8, LabError> {
    let hw = detect();
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&hw).map_err(|e| LabError::internal(e.to_string()))?
        );
        return Ok(exit_code::OK);
    }
    let none = |v: bool| if v { "none detected" } else { "" };
    crate::outln!(
        "cpu         {} ({} logical CPUs)",
        hw.cpu_model,
        hw.logical_cpus
    );
    crate::outln!("memory      {:.1} GiB", hw.memory_gib);
    crate::outln!(
        "gpu         {}",
        if hw.gpus.is_empty() {
            none(true).to_string()
        } else {
            hw.gpus.join("; ")
        }
    );
    for l in super::hw_nvml::lines(&hw.nvml) {
        crate::outln!("{l}");
    }
    if hw.thermal_zones.is_empty() {
        crate::outln!("thermal     none detected (no /sys/class/thermal zones with a temperature)");
    } else {
        for z in &hw.thermal_zones {
            crate::outln!("thermal     {} {:.1} °C", z.name, z.celsius);
        }
    }
    match &hw.cpufreq {
        Some(f) => crate::outln!(
            "cpufreq     governor {}, {:.0} MHz (max {:.0} MHz)",
            f.governor,
            f.cur_mhz,
            f.max_mhz
        ),
        None => crate::outln!("cpufreq     none detected (no cpufreq interface for cpu0)"),
    }
    if hw.postgresql.is_empty() {
        crate::outln!(
            "postgresql  none detected (no initdb/pg_ctl; `just setup` installs Debian's postgresql)"
        );
    } else {
        for p in &hw.postgresql {
            crate::outln!("postgresql  {p}");
        }
    }
    for l in webgpu::lines(&hw.webgpu) {
        crate::outln!("webgpu      {l}");
    }
    for c in &hw.stale_clusters_removed {
        crate::outln!("stale       removed a dead run's throwaway cluster: {c}");
    }
    for k in &hw.kernels {
        crate::outln!(
            "kernel      {} ({}): {} {}",
            k.kernel,
            k.sim,
            if k.available {
                "can run:"
            } else {
                "cannot run:"
            },
            k.detail
        );
    }
    Ok(exit_code::OK)
}
