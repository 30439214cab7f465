//! `lab hw`'s WebGPU section: the adapters wgpu finds (the `gpu` build), with their backend,
//! type, driver, subgroup sizes and the limits the webgpu kernel's workgroups run into.

use serde::Serialize;
use sims::real::adapters::{self as real, AdapterDesc};

/// What wgpu sees, or why it sees nothing.
#[derive(Debug, Clone, Serialize)]
pub struct WebgpuSection {
    /// `lab` was built with the `gpu` feature.
    pub built: bool,
    /// The adapters (empty when none or not built).
    pub adapters: Vec<AdapterDesc>,
    /// Why there are none (empty when there are).
    pub note: String,
}

/// Asks wgpu (cheap: enumerates, opens no device).
pub fn detect() -> WebgpuSection {
    let built = webgpu_built();
    match real::adapters() {
        Ok(adapters) => WebgpuSection {
            built,
            adapters,
            note: String::new(),
        },
        Err(note) => WebgpuSection {
            built,
            adapters: Vec::new(),
            note: if built {
                note
            } else {
                "the `gpu` feature is off: no wgpu in this build (cargo build --release -p harness --features gpu; it compiles wgpu, about 2-5 minutes)".into()
            },
        },
    }
}

fn webgpu_built() -> bool {
    cfg!(feature = "gpu")
}

/// The section's lines, each without the section's name column.
pub fn lines(s: &WebgpuSection) -> Vec<String> {
    if s.adapters.is_empty() {
        return vec![s.note.clone()];
    }
    let mut out = Vec::new();
    for (i, a) in s.adapters.iter().enumerate() {
        out.push(format!(
            "adapter {i}: \"{}\" backend {}, type {}, driver {}",
            a.name, a.backend, a.device_type, a.driver
        ));
        out.push(format!(
            "  subgroup size {}-{} (subgroups {}), shader-f16 {}",
            a.subgroup_sizes.0,
            a.subgroup_sizes.1,
            yes(a.subgroups),
            yes(a.shader_f16)
        ));
        out.push(format!(
            "  max workgroup size {} x {} x {}, max invocations/workgroup {}, max workgroups/dim {}, workgroup storage {} KiB, storage buffer binding {} MiB",
            a.max_workgroup_size_x,
            a.max_workgroup_size_y,
            a.max_workgroup_size_z,
            a.max_invocations_per_workgroup,
            a.max_workgroups_per_dimension,
            a.max_workgroup_storage_bytes / 1024,
            a.max_storage_binding_bytes / (1 << 20)
        ));
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
