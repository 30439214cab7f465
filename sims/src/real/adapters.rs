//! The wgpu adapters this machine has (the `gpu` build), shared by the kernels that run WGSL
//! (the webgpu room's INT4 products, the thermal room's GPU load) and by `lab hw`.

pub use webgpu_kernel::AdapterDesc;

/// How to rebuild `lab` with wgpu in it.
pub const NOT_BUILT: &str = "lab was built without the `gpu` feature \
     (cargo build --release -p harness --features gpu; it compiles wgpu, about 2-5 minutes)";

/// Why no adapter is listed when wgpu finds none.
pub const NO_ADAPTER: &str = "no wgpu adapter (no Vulkan driver: apt-get install \
     mesa-vulkan-drivers gives lavapipe; a GPU needs its vendor's Vulkan ICD)";

/// The adapters wgpu finds, or why there are none ([`NOT_BUILT`] without the `gpu` feature,
/// [`NO_ADAPTER`] when it finds none).
pub fn adapters() -> Result<Vec<AdapterDesc>, String> {
    match webgpu_kernel::adapters() {
        Err(webgpu_kernel::KernelError::NotBuilt) => Err(NOT_BUILT.into()),
        Err(e) => Err(e.to_string()),
        Ok(v) if v.is_empty() => Err(NO_ADAPTER.into()),
        Ok(v) => Ok(v),
    }
}

/// The adapters as one line each, or why there are none.
pub fn adapter_lines() -> Result<Vec<String>, String> {
    adapters().map(|v| v.iter().map(|a| a.line()).collect())
}
