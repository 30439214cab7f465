//! NVML in a build without the `nvml` feature: [`Nvml::open`] says so, and nothing else can
//! be reached (the type has no value).

use std::convert::Infallible;

use super::{DeviceInfo, GpuSample};

/// An open NVML (never, in this build).
#[derive(Debug)]
pub struct Nvml {
    never: Infallible,
}

impl Nvml {
    /// Why NVML cannot be used: this build lacks the feature.
    pub fn open() -> Result<Nvml, String> {
        Err(format!(
            "lab was built without the `nvml` feature (which loads {} at run time)",
            super::LIBRARY
        ))
    }

    /// Devices found.
    pub fn count(&self) -> u32 {
        match self.never {}
    }

    /// The driver's version.
    pub fn driver(&self) -> String {
        match self.never {}
    }

    /// One device's name, clocks and a reading.
    pub fn info(&self, _index: u32, _t_s: f64) -> Result<DeviceInfo, String> {
        match self.never {}
    }

    /// One reading.
    pub fn sample(&self, _index: u32, _t_s: f64) -> GpuSample {
        match self.never {}
    }
}
