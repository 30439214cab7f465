//! NVML through `dlopen` (the `nvml` feature): the library is opened on [`Nvml::open`], the
//! functions bound by name, and `nvmlShutdown` called on drop. Optional functions (memory
//! temperature, utilisation, clock-event reasons) that an old driver lacks read as `None`.

use std::ffi::{CStr, c_char, c_void};

use libloading::Library;

use super::{DeviceInfo, GpuSample, LIBRARY};

type Ret = i32;
type Dev = *mut c_void;

const SUCCESS: Ret = 0;
const TEMPERATURE_GPU: u32 = 0;
const CLOCK_SM: u32 = 1;
const CLOCK_MEM: u32 = 2;
/// `NVML_FI_DEV_MEMORY_TEMP`.
const FIELD_MEMORY_TEMP: u32 = 82;

/// `nvmlFieldValue_t`.
#[repr(C)]
#[derive(Default)]
struct FieldValue {
    field_id: u32,
    scope_id: u32,
    timestamp: i64,
    latency_usec: i64,
    value_type: i32,
    nvml_return: Ret,
    value: u64,
}

/// `nvmlUtilization_t`.
#[repr(C)]
#[derive(Default)]
struct Utilization {
    gpu: u32,
    memory: u32,
}

type FnVoid = unsafe extern "C" fn() -> Ret;
type FnErr = unsafe extern "C" fn(Ret) -> *const c_char;
type FnCount = unsafe extern "C" fn(*mut u32) -> Ret;
type FnHandle = unsafe extern "C" fn(u32, *mut Dev) -> Ret;
type FnStr = unsafe extern "C" fn(Dev, *mut c_char, u32) -> Ret;
type FnSysStr = unsafe extern "C" fn(*mut c_char, u32) -> Ret;
type FnKindU32 = unsafe extern "C" fn(Dev, u32, *mut u32) -> Ret;
type FnU32 = unsafe extern "C" fn(Dev, *mut u32) -> Ret;
type FnU64 = unsafe extern "C" fn(Dev, *mut u64) -> Ret;
type FnFields = unsafe extern "C" fn(Dev, i32, *mut FieldValue) -> Ret;
type FnUtil = unsafe extern "C" fn(Dev, *mut Utilization) -> Ret;

/// An initialised NVML with its devices' handles.
pub struct Nvml {
    shutdown: FnVoid,
    error_string: FnErr,
    get_name: FnStr,
    driver_version: FnSysStr,
    temperature: FnKindU32,
    clock: FnKindU32,
    max_clock: FnKindU32,
    power: FnU32,
    power_limit: FnU32,
    fields: Option<FnFields>,
    utilization: Option<FnUtil>,
    reasons: Option<FnU64>,
    devices: Vec<Dev>,
    // Last: the functions above point into it.
    _lib: Library,
}

impl std::fmt::Debug for Nvml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nvml({} devices)", self.devices.len())
    }
}

/// Binds `name` (a NUL-terminated symbol) as a function pointer of type `T`.
///
/// # Safety
/// `T` must be the function's C signature.
unsafe fn bind<T: Copy>(lib: &Library, name: &[u8]) -> Option<T> {
    // SAFETY: the caller names the symbol's true signature; the pointer is only called while
    // `lib` (kept in `Nvml`) stays loaded.
    unsafe { lib.get::<T>(name).ok().map(|s| *s) }
}

/// NVML's text for a return code.
fn message(error_string: FnErr, r: Ret) -> String {
    // SAFETY: nvmlErrorString returns a static NUL-terminated string for any code.
    unsafe {
        let p = error_string(r);
        if p.is_null() {
            format!("NVML error {r}")
        } else {
            format!("{} (NVML error {r})", CStr::from_ptr(p).to_string_lossy())
        }
    }
}

impl Nvml {
    /// Opens the library, initialises NVML and lists the devices; or why not, in one sentence.
    pub fn open() -> Result<Nvml, String> {
        // SAFETY: loading the NVIDIA driver's NVML runs its initialisers, which have no
        // preconditions; every symbol is bound with nvml.h's signature.
        unsafe {
            let lib = Library::new(LIBRARY).map_err(|e| {
                format!("{LIBRARY} not found: no NVIDIA driver on this machine ({e})")
            })?;
            let need = |n: &str| format!("{LIBRARY} lacks {n}: the NVIDIA driver is too old");
            let init: FnVoid = bind(&lib, b"nvmlInit_v2\0").ok_or_else(|| need("nvmlInit_v2"))?;
            let error_string: FnErr =
                bind(&lib, b"nvmlErrorString\0").ok_or_else(|| need("nvmlErrorString"))?;
            let count: FnCount = bind(&lib, b"nvmlDeviceGetCount_v2\0")
                .ok_or_else(|| need("nvmlDeviceGetCount_v2"))?;
            let handle: FnHandle = bind(&lib, b"nvmlDeviceGetHandleByIndex_v2\0")
                .ok_or_else(|| need("nvmlDeviceGetHandleByIndex_v2"))?;
            let r = init();
            if r != SUCCESS {
                return Err(format!(
                    "nvmlInit failed: {} (the NVIDIA driver's library is here, the driver or \
                     device is not usable)",
                    message(error_string, r)
                ));
            }
            let mut nvml = Nvml {
                shutdown: bind(&lib, b"nvmlShutdown\0").ok_or_else(|| need("nvmlShutdown"))?,
                error_string,
                get_name: bind(&lib, b"nvmlDeviceGetName\0")
                    .ok_or_else(|| need("nvmlDeviceGetName"))?,
                driver_version: bind(&lib, b"nvmlSystemGetDriverVersion\0")
                    .ok_or_else(|| need("nvmlSystemGetDriverVersion"))?,
                temperature: bind(&lib, b"nvmlDeviceGetTemperature\0")
                    .ok_or_else(|| need("nvmlDeviceGetTemperature"))?,
                clock: bind(&lib, b"nvmlDeviceGetClockInfo\0")
                    .ok_or_else(|| need("nvmlDeviceGetClockInfo"))?,
                max_clock: bind(&lib, b"nvmlDeviceGetMaxClockInfo\0")
                    .ok_or_else(|| need("nvmlDeviceGetMaxClockInfo"))?,
                power: bind(&lib, b"nvmlDeviceGetPowerUsage\0")
                    .ok_or_else(|| need("nvmlDeviceGetPowerUsage"))?,
                power_limit: bind(&lib, b"nvmlDeviceGetEnforcedPowerLimit\0")
                    .ok_or_else(|| need("nvmlDeviceGetEnforcedPowerLimit"))?,
                fields: bind(&lib, b"nvmlDeviceGetFieldValues\0"),
                utilization: bind(&lib, b"nvmlDeviceGetUtilizationRates\0"),
                reasons: bind(&lib, b"nvmlDeviceGetCurrentClocksEventReasons\0")
                    .or_else(|| bind(&lib, b"nvmlDeviceGetCurrentClocksThrottleReasons\0")),
                devices: Vec::new(),
                _lib: lib,
            };
            let mut n = 0u32;
            let r = count(&mut n);
            if r != SUCCESS {
                return Err(format!("nvmlDeviceGetCount failed: {}", nvml.message(r)));
            }
            for i in 0..n {
                let mut d: Dev = std::ptr::null_mut();
                let r = handle(i, &mut d);
                if r != SUCCESS {
                    return Err(format!(
                        "nvmlDeviceGetHandleByIndex({i}) failed: {}",
                        nvml.message(r)
                    ));
                }
                nvml.devices.push(d);
            }
            if nvml.devices.is_empty() {
                return Err("NVML is loaded but finds no NVIDIA GPU".into());
            }
            Ok(nvml)
        }
    }

    fn message(&self, r: Ret) -> String {
        message(self.error_string, r)
    }

    /// Devices found.
    pub fn count(&self) -> u32 {
        self.devices.len() as u32
    }

    /// The driver's version (`550.54.15`).
    pub fn driver(&self) -> String {
        let mut buf = [0 as c_char; 96];
        // SAFETY: the buffer's length is passed; NVML writes a NUL-terminated string into it.
        unsafe {
            if (self.driver_version)(buf.as_mut_ptr(), buf.len() as u32) != SUCCESS {
                return "unknown".into();
            }
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        }
    }

    fn dev(&self, index: u32) -> Result<Dev, String> {
        self.devices
            .get(index as usize)
            .copied()
            .ok_or_else(|| format!("no NVML device {index} ({} found)", self.devices.len()))
    }

    /// One device's name, highest clocks and a reading.
    pub fn info(&self, index: u32, t_s: f64) -> Result<DeviceInfo, String> {
        let d = self.dev(index)?;
        let mut buf = [0 as c_char; 96];
        // SAFETY: `d` is a handle NVML gave; the buffer's length is passed.
        let name = unsafe {
            let r = (self.get_name)(d, buf.as_mut_ptr(), buf.len() as u32);
            if r != SUCCESS {
                return Err(format!("nvmlDeviceGetName failed: {}", self.message(r)));
            }
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        };
        Ok(DeviceInfo {
            index,
            name,
            max_sm_mhz: self.kind_u32(self.max_clock, d, CLOCK_SM),
            max_mem_mhz: self.kind_u32(self.max_clock, d, CLOCK_MEM),
            now: self.sample(index, t_s),
        })
    }

    fn kind_u32(&self, f: FnKindU32, d: Dev, kind: u32) -> Option<f64> {
        let mut v = 0u32;
        // SAFETY: `d` is a handle NVML gave; `v` outlives the call.
        (unsafe { f(d, kind, &mut v) } == SUCCESS).then_some(f64::from(v))
    }

    fn u32_of(&self, f: FnU32, d: Dev) -> Option<f64> {
        let mut v = 0u32;
        // SAFETY: as in `kind_u32`.
        (unsafe { f(d, &mut v) } == SUCCESS).then_some(f64::from(v))
    }

    fn memory_temp(&self, d: Dev) -> Option<f64> {
        let f = self.fields?;
        let mut fv = FieldValue {
            field_id: FIELD_MEMORY_TEMP,
            ..FieldValue::default()
        };
        // SAFETY: one `nvmlFieldValue_t` with its field id set, as nvml.h asks.
        let r = unsafe { f(d, 1, &mut fv) };
        if r != SUCCESS || fv.nvml_return != SUCCESS {
            return None;
        }
        let v = fv.value;
        let x = match fv.value_type {
            0 => f64::from_bits(v),
            1 => f64::from(v as u32),
            2 | 3 => v as f64,
            4 => v as i64 as f64,
            5 => f64::from(v as u32 as i32),
            _ => return None,
        };
        // 0 °C is what some boards report for a sensor they do not have.
        (x > 0.0 && x < 200.0).then_some(x)
    }

    /// One reading of device `index` (every sensor it answers; `None` for the others).
    pub fn sample(&self, index: u32, t_s: f64) -> GpuSample {
        let Ok(d) = self.dev(index) else {
            return GpuSample {
                t_s,
                ..GpuSample::default()
            };
        };
        let util = self.utilization.and_then(|f| {
            let mut u = Utilization::default();
            // SAFETY: as in `kind_u32`.
            (unsafe { f(d, &mut u) } == SUCCESS).then_some(f64::from(u.gpu))
        });
        let reasons = self.reasons.and_then(|f| {
            let mut m = 0u64;
            // SAFETY: as in `kind_u32`.
            (unsafe { f(d, &mut m) } == SUCCESS).then_some(m)
        });
        GpuSample {
            t_s,
            temp_c: self.kind_u32(self.temperature, d, TEMPERATURE_GPU),
            mem_temp_c: self.memory_temp(d),
            sm_mhz: self.kind_u32(self.clock, d, CLOCK_SM),
            mem_mhz: self.kind_u32(self.clock, d, CLOCK_MEM),
            power_w: self.u32_of(self.power, d).map(|mw| mw / 1000.0),
            power_limit_w: self.u32_of(self.power_limit, d).map(|mw| mw / 1000.0),
            util_pct: util,
            reasons,
        }
    }
}

impl Drop for Nvml {
    fn drop(&mut self) {
        // SAFETY: NVML was initialised in `open` (an `Nvml` exists only after a successful
        // nvmlInit); shutdown balances it.
        unsafe {
            (self.shutdown)();
        }
    }
}
