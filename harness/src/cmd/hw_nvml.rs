//! `lab hw`'s NVIDIA part: the GPUs NVML (loaded at run time, `nvml` feature) finds and the
//! sensors each answers (temperatures, clocks, power, clock-event reasons), or why there are
//! none. Kept apart from `hw.rs` so the adapter listing there and this one change separately.

use serde::Serialize;

use crate::format::fmt_num;

/// What NVML shows.
#[derive(Debug, Clone, Serialize)]
pub struct NvmlHw {
    /// The driver's version, when NVML loaded.
    pub driver: Option<String>,
    /// The devices and their sensors.
    pub devices: Vec<NvmlDevice>,
    /// Why there are no devices (no feature, no library, no device).
    pub reason: Option<String>,
}

/// One NVML device.
#[derive(Debug, Clone, Serialize)]
pub struct NvmlDevice {
    /// NVML index.
    pub index: u32,
    /// Product name.
    pub name: String,
    /// Highest SM clock, MHz.
    pub max_sm_mhz: Option<f64>,
    /// Highest memory clock, MHz.
    pub max_mem_mhz: Option<f64>,
    /// The sensors that answered, with a reading of each.
    pub sensors: String,
}

/// Asks NVML.
pub fn detect() -> NvmlHw {
    match sims::real::nvml::devices() {
        Ok((driver, list)) => NvmlHw {
            driver: Some(driver),
            devices: list
                .iter()
                .map(|d| NvmlDevice {
                    index: d.index,
                    name: d.name.clone(),
                    max_sm_mhz: d.max_sm_mhz,
                    max_mem_mhz: d.max_mem_mhz,
                    sensors: d.sensors_line(),
                })
                .collect(),
            reason: None,
        },
        Err(e) => NvmlHw {
            driver: None,
            devices: Vec::new(),
            reason: Some(e),
        },
    }
}

/// The `nvml` lines of `lab hw`.
pub fn lines(h: &NvmlHw) -> Vec<String> {
    if let Some(r) = &h.reason {
        return vec![format!("nvml        none: {r}")];
    }
    let driver = h.driver.as_deref().unwrap_or("unknown");
    h.devices
        .iter()
        .map(|d| {
            let max = match (d.max_sm_mhz, d.max_mem_mhz) {
                (Some(s), Some(m)) => {
                    format!(", max sm {} MHz, max memory {} MHz", fmt_num(s), fmt_num(m))
                }
                _ => String::new(),
            };
            format!(
                "nvml        {} {} (driver {driver}{max}): {}",
                d.index, d.name, d.sensors
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_nvml_is_one_line_with_the_reason() {
        let h = NvmlHw {
            driver: None,
            devices: Vec::new(),
            reason: Some("libnvidia-ml.so.1 not found: no NVIDIA driver on this machine".into()),
        };
        assert_eq!(
            lines(&h),
            ["nvml        none: libnvidia-ml.so.1 not found: no NVIDIA driver on this machine"]
        );
        let h = NvmlHw {
            driver: Some("550.54.15".into()),
            devices: vec![NvmlDevice {
                index: 0,
                name: "NVIDIA H200".into(),
                max_sm_mhz: Some(1980.0),
                max_mem_mhz: Some(3201.0),
                sensors: "gpu temp 31 °C".into(),
            }],
            reason: None,
        };
        assert_eq!(
            lines(&h)[0],
            "nvml        0 NVIDIA H200 (driver 550.54.15, max sm 1980 MHz, max memory 3201 \
             MHz): gpu temp 31 °C"
        );
    }
}
