//! The GPU variant: selection by `device`, the metrics of a fabricated sample series, the
//! report's names, and what runs on a machine without an NVIDIA GPU.

use webgpu_kernel::AdapterDesc;
use webgpu_kernel::sustained::SustainedInfo;

use super::dataset::{csv, slug};
use super::*;
use crate::real::Kernel;
use crate::real::nvml::DeviceInfo;
use crate::thermal::real::{Device, ThermalSustained};

fn params(src: &str) -> RealParams {
    RealParams::from_table(&src.parse().unwrap()).unwrap()
}

fn adapter(name: &str, device_type: &str) -> AdapterDesc {
    AdapterDesc {
        backend: "Vulkan".into(),
        name: name.into(),
        device_type: device_type.into(),
        driver: "test".into(),
        subgroup_sizes: (32, 32),
        shader_f16: true,
        subgroups: true,
        max_invocations_per_workgroup: 1024,
        max_workgroup_size_x: 1024,
        max_workgroup_size_y: 1024,
        max_workgroup_size_z: 64,
        max_workgroup_storage_bytes: 32 << 10,
        max_workgroups_per_dimension: 65_535,
        max_storage_binding_bytes: 1 << 30,
    }
}

fn info(name: &str, device_type: &str) -> SustainedInfo {
    SustainedInfo {
        adapter: adapter(name, device_type),
        max_rel_error: 1e-6,
        flops_per_dispatch: 2.0,
        bytes_per_dispatch: 1.0,
    }
}

/// 60 s at 1 Hz: 1980 MHz and 40 °C, then from 40 s a thermal slowdown to 1485 MHz (-25%)
/// while the die reaches 85 °C; power 690 W at a 700 W cap (the power-cap bit from 10 to 20 s).
fn fake_trial() -> GpuTrial {
    let mut tr = GpuTrial::default();
    for i in 0..60 {
        let t = f64::from(i + 1);
        let hot = t > 40.0;
        let mut reasons = 0u64;
        if (10.0..20.0).contains(&t) {
            reasons |= 0x4;
        }
        if hot {
            reasons |= 0x20;
        }
        tr.t.push(t);
        tr.rate.push(if hot { 75.0 } else { 100.0 });
        tr.samples.push(GpuSample {
            t_s: t,
            temp_c: Some(40.0 + 45.0 * t / 60.0),
            mem_temp_c: Some(35.0 + 10.0 * t / 60.0),
            sm_mhz: Some(if hot { 1485.0 } else { 1980.0 }),
            mem_mhz: Some(3201.0),
            power_w: Some(690.0),
            power_limit_w: Some(700.0),
            util_pct: Some(100.0),
            reasons: Some(reasons),
        });
    }
    tr
}

#[test]
fn device_selects_the_variant_and_cpu_is_the_default() {
    let k = ThermalSustained;
    let t = k.check(&toml::Table::new()).unwrap();
    assert_eq!(t["device"].as_str(), Some("cpu"));
    assert_eq!(params("").device, Device::Cpu);
    let p = params("device = \"gpu\"\ngpu_rows = 64\ngpu_cols = 128");
    assert_eq!((p.device, p.gpu_rows, p.gpu_cols), (Device::Gpu, 64, 128));
    for (src, field) in [
        ("device = \"tpu\"", "device"),
        ("gpu_cols = 100", "gpu_cols"),
        ("gpu_tokens = 0", "gpu_tokens"),
        ("gpu_dispatches = 0", "gpu_dispatches"),
    ] {
        let e = k.check(&src.parse().unwrap()).unwrap_err();
        assert_eq!(e.path(), field, "{src}: {e}");
    }
    // --quick shortens a GPU trial as it does a CPU one.
    assert_eq!(
        params("device = \"gpu\"\nseconds = 120").quick().seconds,
        4.0
    );
}

#[test]
fn a_fake_series_gives_its_rise_drop_power_and_throttle_events() {
    let m = trial_metrics(&fake_trial(), 0.2).unwrap();
    // Windows of 12 samples: the first all cool, the last all hot.
    assert!((m.decay - 0.25).abs() < 1e-12, "{m:?}");
    assert!((m.clock_drop.unwrap() - 0.25).abs() < 1e-12);
    let rise = 45.0 * ((49.0 + 60.0) / 2.0 - (1.0 + 12.0) / 2.0) / 60.0;
    assert!((m.temp_rise_c.unwrap() - rise).abs() < 1e-9, "{m:?}");
    // 45-50 s: all after the slowdown.
    assert!((m.clock_drop_at_45s.unwrap() - 0.25).abs() < 1e-12);
    assert_eq!(m.clock_step_max_mhz, Some(495.0));
    assert_eq!(m.power_w_mean, Some(690.0));
    assert_eq!(m.power_limit_w, Some(700.0));
    // Power cap 10-19 s, clear, thermal from 41 s: two events, the first at 10 s.
    assert_eq!(m.throttle_events, Some(2.0));
    assert_eq!(m.first_throttle_s, Some(10.0));
    assert!((m.throttled_fraction.unwrap() - 30.0 / 60.0).abs() < 1e-12);
    assert!((m.thermal_throttled_fraction.unwrap() - 20.0 / 60.0).abs() < 1e-12);
    assert_eq!(
        nvml::decode_reasons(m.reasons_seen),
        vec!["sw_power_cap", "sw_thermal_slowdown"]
    );
    // A 30 s trial has no 45 s reading; a trial without NVML has throughput only.
    let mut short = fake_trial();
    short.t.truncate(30);
    short.rate.truncate(30);
    short.samples.truncate(30);
    assert_eq!(trial_metrics(&short, 0.2).unwrap().clock_drop_at_45s, None);
    short.samples.clear();
    let m = trial_metrics(&short, 0.2).unwrap();
    assert!(m.temp_rise_c.is_none() && m.throttle_events.is_none());
}

#[test]
fn the_report_names_gpu_metrics_and_the_cpu_names_the_claims_use() {
    let p = params("device = \"gpu\"");
    let trials = vec![fake_trial(), fake_trial(), fake_trial()];
    let dev = DeviceInfo {
        index: 0,
        name: "NVIDIA H200".into(),
        max_sm_mhz: Some(1980.0),
        max_mem_mhz: Some(3201.0),
        now: GpuSample::default(),
    };
    let r = report(
        &p,
        &trials,
        &info("NVIDIA H200", "DiscreteGpu"),
        None,
        Some(&dev),
    );
    for name in [
        "throughput_decay_fraction",
        "gpu_temp_rise_c",
        "temp_rise_c",
        "gpu_clock_drop_fraction",
        "clock_drop_fraction",
        "gpu_clock_drop_at_45s_fraction",
        "gpu_power_w_mean",
        "gpu_throttle_events",
        "throttle_events",
        "gpu_time_to_first_throttle_s",
    ] {
        assert_eq!(r.metrics[name].n, 3, "{name}");
    }
    assert_eq!(r.metrics["gpu_power_w_mean"].value, 690.0);
    // The list the CPU variant's report gives reasons for is the GPU's own names.
    let gpu_names: Vec<&str> = r
        .metrics
        .keys()
        .map(String::as_str)
        .filter(|n| n.starts_with("gpu_"))
        .collect();
    let mut listed = super::GPU_ONLY_METRICS.to_vec();
    listed.sort();
    assert_eq!(gpu_names, listed);
    assert!(
        r.findings[0].contains("sw_power_cap, sw_thermal_slowdown"),
        "{:?}",
        r.findings
    );
    let ids: Vec<&str> = r.series.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "real-gpu-throughput",
            "real-gpu-temperatures",
            "real-gpu-clocks",
            "real-gpu-power"
        ]
    );
    // The same load on lavapipe: throughput only, and the finding says why.
    let cpu: Vec<GpuTrial> = trials
        .iter()
        .map(|t| GpuTrial {
            samples: Vec::new(),
            ..t.clone()
        })
        .collect();
    let r = report(&p, &cpu, &info("llvmpipe (LLVM 15)", "Cpu"), None, None);
    assert!(r.metrics.contains_key("throughput_decay_fraction"));
    assert!(!r.metrics.contains_key("gpu_temp_rise_c"));
    assert!(!r.metrics.contains_key("clock_drop_fraction"));
    assert!(r.findings[0].contains("lavapipe"), "{:?}", r.findings);
}

#[test]
fn dataset_names_and_rows() {
    assert_eq!(slug("NVIDIA H200"), "nvidia-h200");
    assert_eq!(slug("NVIDIA H100 80GB HBM3"), "nvidia-h100-80gb-hbm3");
    assert_eq!(slug("***"), "gpu");
    let text = csv(&[fake_trial()]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 61);
    assert!(lines[0].starts_with("trial,t_s,dispatches_per_s,gpu_temp_c"));
    assert!(
        lines[60].ends_with(",0x20,sw_thermal_slowdown"),
        "{}",
        lines[60]
    );
}

#[test]
fn on_this_machine_the_gpu_variant_says_what_it_could_not_measure() {
    let k = ThermalSustained;
    let ctx = crate::real::KernelContext {
        seed: 1,
        quick: true,
        progress: &|_| {},
    };
    let real: toml::Table = "device = \"gpu\"\nseconds = 1\ntrials = 2\nsample_ms = 100\n\
                             gpu_tokens = 1\ngpu_rows = 64\ngpu_cols = 128"
        .parse()
        .unwrap();
    let r = k.run(&real, &ctx);
    if !webgpu_kernel::GPU_BUILT {
        let why = r.not_run.expect("not_run without the gpu feature");
        assert!(why.contains("`gpu` feature"), "{why}");
        assert!(k.available(&real).unwrap_err().contains("`gpu` feature"));
        return;
    }
    let Some(e) = r.environment.get("adapter") else {
        // No Vulkan driver at all: not_run with the reason.
        assert!(r.not_run.is_some());
        return;
    };
    assert!(r.not_run.is_none(), "{:?}", r.not_run);
    assert_eq!(r.metrics["throughput_decay_fraction"].n, 2);
    if e.contains("Cpu") {
        // lavapipe: the load is the CPU, no GPU metric is claimed.
        assert!(!r.metrics.contains_key("gpu_temp_rise_c"));
        assert!(
            r.findings[0].contains("not an NVIDIA GPU"),
            "{:?}",
            r.findings
        );
    }
}
