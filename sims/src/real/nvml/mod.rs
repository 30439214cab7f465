//! NVIDIA's management library (NVML), loaded at run time: the sensors a GPU kernel samples
//! (GPU and memory temperature, SM and memory clocks, power draw and limit, utilisation and
//! the clock-event ("throttle") reasons) and the device list `lab hw` prints.
//!
//! Nothing is needed at build time: with the `nvml` feature, `libnvidia-ml.so.1` (shipped with
//! the NVIDIA driver) is opened with `dlopen` (the `libloading` crate) on first use, and only
//! the handful of functions below are bound. Without the feature, or without the library, or
//! without a device, [`Nvml::open`] says why in one sentence, and the caller reports `not_run`.
//!
//! The throttle-reason decoding ([`decode_reasons`]) and the sample type are plain Rust and are
//! always built.

#[cfg_attr(feature = "nvml", path = "enabled.rs")]
#[cfg_attr(not(feature = "nvml"), path = "disabled.rs")]
mod imp;

pub use imp::Nvml;

/// The shared library NVML lives in (the driver's, not the CUDA toolkit's).
pub const LIBRARY: &str = "libnvidia-ml.so.1";

/// Whether this build can load NVML (the `nvml` feature was on).
pub const NVML_BUILT: bool = cfg!(feature = "nvml");

/// `nvmlClocksEventReason*` (formerly `nvmlClocksThrottleReason*`) bits, in nvml.h's order,
/// with the names the report uses.
pub const REASONS: &[(u64, &str)] = &[
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
];

/// The reasons that mean the clocks are held below what the load asks for by power or heat
/// (not idleness, a user's clock setting or sync boost): software power cap, hardware
/// slowdown, software and hardware thermal slowdown, power brake.
pub const THROTTLE_MASK: u64 = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;

/// The reasons among them that are thermal.
pub const THERMAL_MASK: u64 = 0x20 | 0x40;

/// The names of the bits set in `mask`; a bit nvml.h (as of driver 550) does not define shows
/// as `unknown_0x...`.
pub fn decode_reasons(mask: u64) -> Vec<String> {
    let mut out: Vec<String> = REASONS
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let known: u64 = REASONS.iter().map(|(b, _)| b).fold(0, |a, b| a | b);
    let rest = mask & !known;
    if rest != 0 {
        out.push(format!("unknown_{rest:#x}"));
    }
    out
}

/// One reading of one device. A sensor the device or driver does not support is `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuSample {
    /// Seconds since the trial started.
    pub t_s: f64,
    /// GPU (die) temperature, °C.
    pub temp_c: Option<f64>,
    /// HBM/memory temperature, °C (field `NVML_FI_DEV_MEMORY_TEMP`).
    pub mem_temp_c: Option<f64>,
    /// SM clock, MHz.
    pub sm_mhz: Option<f64>,
    /// Memory clock, MHz.
    pub mem_mhz: Option<f64>,
    /// Board power draw, W.
    pub power_w: Option<f64>,
    /// Enforced power limit, W.
    pub power_limit_w: Option<f64>,
    /// GPU utilisation over the driver's last sample period, %.
    pub util_pct: Option<f64>,
    /// Clock-event reasons bitmask ([`decode_reasons`]).
    pub reasons: Option<u64>,
}

/// A device as `lab hw` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    /// NVML index.
    pub index: u32,
    /// Product name (`NVIDIA H200`).
    pub name: String,
    /// Highest SM and memory clocks, MHz (`None`: not reported).
    pub max_sm_mhz: Option<f64>,
    /// Highest memory clock, MHz.
    pub max_mem_mhz: Option<f64>,
    /// One reading now.
    pub now: GpuSample,
}

impl DeviceInfo {
    /// The sensors that answered, e.g. `gpu temp 34 °C, memory temp 31 °C, sm clock 345 MHz`.
    pub fn sensors_line(&self) -> String {
        let s = &self.now;
        let mut parts = Vec::new();
        let mut add = |name: &str, v: Option<f64>, unit: &str| {
            if let Some(v) = v {
                parts.push(format!("{name} {v:.0} {unit}"));
            }
        };
        add("gpu temp", s.temp_c, "°C");
        add("memory temp", s.mem_temp_c, "°C");
        add("sm clock", s.sm_mhz, "MHz");
        add("memory clock", s.mem_mhz, "MHz");
        add("power", s.power_w, "W");
        add("power limit", s.power_limit_w, "W");
        add("utilisation", s.util_pct, "%");
        if let Some(r) = s.reasons {
            let names = decode_reasons(r);
            parts.push(format!(
                "clock reasons [{}]",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        }
        if parts.is_empty() {
            "no sensor answered".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The NVML devices and one reading of each, or why there are none (`lab hw`).
pub fn devices() -> Result<(String, Vec<DeviceInfo>), String> {
    let nvml = Nvml::open()?;
    let list = (0..nvml.count())
        .map(|i| nvml.info(i, 0.0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((nvml.driver(), list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_decode_in_header_order_with_unknown_bits_kept() {
        assert!(decode_reasons(0).is_empty());
        assert_eq!(decode_reasons(0x1), vec!["gpu_idle"]);
        assert_eq!(
            decode_reasons(0x4 | 0x40),
            vec!["sw_power_cap", "hw_thermal_slowdown"]
        );
        assert_eq!(
            decode_reasons(0x20 | 0x1000),
            vec!["sw_thermal_slowdown", "unknown_0x1000"]
        );
        assert_eq!(decode_reasons(0x1ff).len(), 9);
        assert_eq!(THROTTLE_MASK & 0x1, 0, "idle is not throttling");
        assert_eq!(THERMAL_MASK & THROTTLE_MASK, THERMAL_MASK);
    }

    #[test]
    fn open_says_why_when_there_is_no_nvidia_driver() {
        // CI and the lab's VM have no NVIDIA driver; a machine that has one skips this.
        if std::path::Path::new("/proc/driver/nvidia").exists() {
            return;
        }
        let e = Nvml::open().expect_err("no NVIDIA driver here");
        if NVML_BUILT {
            assert!(e.contains(LIBRARY) && e.contains("no NVIDIA driver"), "{e}");
        } else {
            assert!(e.contains("`nvml` feature"), "{e}");
        }
        assert_eq!(devices().err(), Some(e));
    }

    #[test]
    fn sensors_line_lists_what_answered() {
        let d = DeviceInfo {
            index: 0,
            name: "x".into(),
            max_sm_mhz: None,
            max_mem_mhz: None,
            now: GpuSample {
                temp_c: Some(34.0),
                power_w: Some(71.4),
                reasons: Some(0x1),
                ..GpuSample::default()
            },
        };
        assert_eq!(
            d.sensors_line(),
            "gpu temp 34 °C, power 71 W, clock reasons [gpu_idle]"
        );
    }
}
