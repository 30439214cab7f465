//! The GPU run's series as a dataset (`dataset_dir = "datasets/thermal"`): one folder per GPU
//! model, `series.csv` (every sample of every trial) and `provenance.json` (what ran where).
//! Each file is written beside its final name and renamed, so a failed run leaves nothing
//! half-written.

use std::fmt::Write as _;
use std::path::Path;

use webgpu_kernel::sustained::{SustainedInfo, SustainedOptions};

use super::GpuTrial;
use crate::real::nvml::{DeviceInfo, decode_reasons};
use crate::thermal::real::RealParams;

/// `NVIDIA H200` → `nvidia-h200`.
pub(crate) fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "gpu".into()
    } else {
        parts.join("-")
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x}"))
}

/// The CSV of every sample: one row per (trial, sample).
pub(crate) fn csv(trials: &[GpuTrial]) -> String {
    let mut out = String::from(
        "trial,t_s,dispatches_per_s,gpu_temp_c,mem_temp_c,sm_mhz,mem_mhz,power_w,\
         power_limit_w,util_pct,reasons_hex,reasons\n",
    );
    for (k, tr) in trials.iter().enumerate() {
        for (i, (t, rate)) in tr.t.iter().zip(&tr.rate).enumerate() {
            let s = tr.samples.get(i).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{t},{rate},{},{},{},{},{},{},{},{},{}",
                k + 1,
                num(s.temp_c),
                num(s.mem_temp_c),
                num(s.sm_mhz),
                num(s.mem_mhz),
                num(s.power_w),
                num(s.power_limit_w),
                num(s.util_pct),
                s.reasons.map_or(String::new(), |m| format!("{m:#x}")),
                s.reasons
                    .map_or(String::new(), |m| decode_reasons(m).join(" ")),
            );
        }
    }
    out
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `<dataset_dir>/<gpu slug>/series.csv` and `provenance.json`; returns the folder.
pub(super) fn write(
    p: &RealParams,
    opts: &SustainedOptions,
    info: &SustainedInfo,
    device: &DeviceInfo,
    driver: &str,
    trials: &[GpuTrial],
) -> Result<String, String> {
    let dir = Path::new(&p.dataset_dir).join(slug(&device.name));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let prov = serde_json::json!({
        "what": "claimlab thermal_sustained, device = gpu: a fixed INT4 product dispatched back to back through wgpu (Vulkan), NVML sampled beside it",
        "gpu": device.name,
        "nvml_index": device.index,
        "driver": driver,
        "max_sm_mhz": device.max_sm_mhz,
        "max_mem_mhz": device.max_mem_mhz,
        "adapter": info.adapter,
        "load": opts,
        "max_rel_error_vs_cpu_reference": info.max_rel_error,
        "flops_per_dispatch": info.flops_per_dispatch,
        "bytes_per_dispatch": info.bytes_per_dispatch,
        "trials": trials.len(),
        "seconds_per_trial": p.seconds,
        "sample_ms": p.sample_ms,
        "written_unix_s": unix_s,
        "host": std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
    });
    let text = serde_json::to_string_pretty(&prov).map_err(|e| e.to_string())?;
    write_atomic(&dir.join("series.csv"), &csv(trials))?;
    write_atomic(&dir.join("provenance.json"), &(text + "\n"))?;
    Ok(dir.display().to_string())
}
