//! The WGSL sources: the article's kernel verbatim and completed, and the INT4 x f32/f16 kernel
//! in three mappings, with the workgroup shape substituted into the text.
//!
//! Bindings (all kernels but the verbatim one): 0 packed weights `array<u32>`, 1 scales
//! `array<f32>` (one per 32 weights), 2 activations `array<f32>` or `array<f16>`, 3 output
//! `array<f32>`, 4 a uniform `Dims { m, n, k, pad }`.

use serde::{Deserialize, Serialize};

/// Activation element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// 32-bit float.
    F32,
    /// 16-bit float (`enable f16;`, needs the adapter's `shader-f16`).
    F16,
}

impl Act {
    /// `f32` / `f16`.
    pub fn name(self) -> &'static str {
        match self {
            Act::F32 => "f32",
            Act::F16 => "f16",
        }
    }
}

/// How invocations map to outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// The article's: `row = gid.x` (output feature), `col = gid.y` (token); dispatch
    /// `(ceil(N/x), ceil(M/y))`. At one token only the `y = 0` row of a workgroup has work.
    Article2d,
    /// Linear invocation index -> (token, feature): every lane has work.
    Flat,
    /// One workgroup per output: lanes stride along K, then a shared-memory tree reduction
    /// (the usual matvec shape).
    RowPerWorkgroup,
    /// One workgroup per output like [`Mapping::RowPerWorkgroup`], but each subgroup reduces
    /// its lanes with `subgroupAdd` (the adapter's `subgroups` feature) and
    /// only one partial per subgroup goes through shared memory.
    Subgroup,
}

impl Mapping {
    /// Every mapping, in the order the sweep and its report list them.
    pub const ALL: [Mapping; 4] = [
        Mapping::Article2d,
        Mapping::Flat,
        Mapping::RowPerWorkgroup,
        Mapping::Subgroup,
    ];

    /// `article2d`, `flat`, `row_wg`, `subgroup`.
    pub fn name(self) -> &'static str {
        match self {
            Mapping::Article2d => "article2d",
            Mapping::Flat => "flat",
            Mapping::RowPerWorkgroup => "row_wg",
            Mapping::Subgroup => "subgroup",
        }
    }

    /// One workgroup per output (a matvec shape: not swept for the matmul).
    pub fn per_output(self) -> bool {
        matches!(self, Mapping::RowPerWorkgroup | Mapping::Subgroup)
    }
}

/// The article's Step 3 shader exactly as printed (the dev.to page's code block, blank lines
/// dropped).
pub const ARTICLE_VERBATIM: &str = r#"@compute @workgroup_size(8, 8, 1)
fn matmul_q4_f16(
    @builtin(global_invocation_id) gid: vec3
) {
    let row = gid.x;
    let col = gid.y;
    var acc: f32 = 0.0;
for (var k: u32 = 0u; k < K / 8u; k = k + 1u) {
    let packed = weights[row * (K / 8u) + k];
    let input_vec = activations[k * 8u];
    acc += dequantDotProduct(packed, input_vec);
}
output[row * N + col] = acc;
}
"#;

/// The article's kernel with only what it leaves out declared: the bindings, `K` and `N`
/// (`N` = the output's row stride, here the token count), `vec3<u32>`, and a
/// `dequantDotProduct(packed, x)` that does what its two arguments allow (8 nibbles times the
/// one activation it is given; no scale is passed). Its body, indexing and missing bounds check
/// are kept. Bindings 0 weights, 2 activations (f32), 3 output; `wg` substituted.
pub fn article_completed(k: u32, n_stride: u32) -> String {
    format!(
        r#"@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> activations: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
const K: u32 = {k}u;
const N: u32 = {n_stride}u;
fn dequantDotProduct(packed: u32, x: f32) -> f32 {{
    var s: f32 = 0.0;
    for (var j: u32 = 0u; j < 8u; j = j + 1u) {{
        s = s + (f32((packed >> (4u * j)) & 15u) - 8.0) * x;
    }}
    return s;
}}
@compute @workgroup_size(8, 8, 1)
fn matmul_q4_f16(
    @builtin(global_invocation_id) gid: vec3<u32>
) {{
    let row = gid.x;
    let col = gid.y;
    var acc: f32 = 0.0;
    for (var k: u32 = 0u; k < K / 8u; k = k + 1u) {{
        let packed = weights[row * (K / 8u) + k];
        let input_vec = activations[k * 8u];
        acc += dequantDotProduct(packed, input_vec);
    }}
    output[row * N + col] = acc;
}}
"#
    )
}

fn header(act: Act) -> String {
    let enable = if act == Act::F16 { "enable f16;\n" } else { "" };
    format!(
        r#"{enable}struct Dims {{ m: u32, n: u32, k: u32, pad: u32 }}
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<storage, read> act: array<{a}>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> dims: Dims;

// Sum over the packed words k8 = first, first + step, ... of row `row` against token `col`.
fn dot_part(row: u32, col: u32, first: u32, step: u32) -> f32 {{
    let k8n = dims.k / 8u;
    let wbase = row * k8n;
    let sbase = row * (dims.k / 32u);
    let abase = col * dims.k;
    var acc: f32 = 0.0;
    for (var k8: u32 = first; k8 < k8n; k8 = k8 + step) {{
        let packed = w[wbase + k8];
        let a = abase + k8 * 8u;
        var part: f32 = 0.0;
        for (var j: u32 = 0u; j < 8u; j = j + 1u) {{
            let q = f32((packed >> (4u * j)) & 15u) - 8.0;
            part = part + q * f32(act[a + j]);
        }}
        acc = acc + part * scales[sbase + k8 / 4u];
    }}
    return acc;
}}
"#,
        a = act.name()
    )
}

/// The INT4 kernel for `mapping` with workgroup `(x, y, 1)`.
pub fn kernel(mapping: Mapping, act: Act, (x, y): (u32, u32)) -> String {
    let size = x * y;
    let body = match mapping {
        Mapping::Article2d => format!(
            r#"@compute @workgroup_size({x}, {y}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {{
    let row = gid.x;
    let col = gid.y;
    if (row >= dims.n || col >= dims.m) {{ return; }}
    out[col * dims.n + row] = dot_part(row, col, 0u, 1u);
}}
"#
        ),
        Mapping::Flat => format!(
            r#"@compute @workgroup_size({x}, {y}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {{
    let idx = (wid.x + wid.y * nwg.x) * {size}u + li;
    if (idx >= dims.m * dims.n) {{ return; }}
    out[idx] = dot_part(idx % dims.n, idx / dims.n, 0u, 1u);
}}
"#
        ),
        Mapping::RowPerWorkgroup => format!(
            r#"var<workgroup> partial: array<f32, {size}>;
@compute @workgroup_size({x}, {y}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {{
    let row = wid.x;
    let col = wid.y;
    partial[li] = dot_part(row, col, li, {size}u);
    workgroupBarrier();
    for (var s: u32 = {half}u; s > 0u; s = s >> 1u) {{
        if (li < s) {{ partial[li] = partial[li] + partial[li + s]; }}
        workgroupBarrier();
    }}
    if (li == 0u) {{ out[col * dims.n + row] = partial[0]; }}
}}
"#,
            half = size / 2
        ),
        Mapping::Subgroup => format!(
            r#"var<workgroup> partial: array<f32, {size}>;
var<workgroup> count: atomic<u32>;
@compute @workgroup_size({x}, {y}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {{
    let row = wid.x;
    let col = wid.y;
    // Uniform control flow up to here: every lane of every subgroup takes part in the sums.
    let s = subgroupAdd(dot_part(row, col, li, {size}u));
    // The subgroup's first active lane (no subgroup_id: naga refuses it in 2-D workgroups)
    // files the subgroup's sum in the next free slot.
    let rank = subgroupExclusiveAdd(1u);
    if (rank == 0u) {{ partial[atomicAdd(&count, 1u)] = s; }}
    workgroupBarrier();
    if (li == 0u) {{
        let c = atomicLoad(&count);
        var t: f32 = 0.0;
        for (var i: u32 = 0u; i < c; i = i + 1u) {{ t = t + partial[i]; }}
        out[col * dims.n + row] = t;
    }}
}}
"#
        ),
    };
    // No `enable subgroups;`: naga 30 rejects the standard directive ("not yet implemented",
    // gfx-rs/wgpu#5555) and gives the builtins under wgpu's native `SUBGROUP` feature instead.
    format!("{}{}", header(act), body)
}

/// The subgroup kernel with WGSL's standard `enable subgroups;` directive in front (what a
/// browser needs); wgpu 30's naga does not accept it, which the run records.
pub fn kernel_with_enable(act: Act, shape: (u32, u32)) -> String {
    format!(
        "enable subgroups;\n{}",
        kernel(Mapping::Subgroup, act, shape)
    )
}

/// Workgroups to dispatch for `m x n` outputs: `(x, y)` counts, each at most `max_per_dim`.
pub fn workgroups(
    mapping: Mapping,
    (wx, wy): (u32, u32),
    m: u32,
    n: u32,
    max_per_dim: u32,
) -> (u32, u32) {
    match mapping {
        Mapping::Article2d => (n.div_ceil(wx), m.div_ceil(wy)),
        Mapping::RowPerWorkgroup | Mapping::Subgroup => (n, m),
        Mapping::Flat => {
            let groups = (u64::from(m) * u64::from(n)).div_ceil(u64::from(wx * wy));
            let x = groups.min(u64::from(max_per_dim));
            (x as u32, groups.div_ceil(x) as u32)
        }
    }
}

/// The matvec that chains layers: f32 in, f32 out, flat mapping, workgroup (64, 1).
pub fn chain_kernel() -> String {
    kernel(Mapping::Flat, Act::F32, (64, 1))
}
