//! The `webgpu_int4` kernel's report, continued: the subgroup variants and the storage-only vs
//! mapped intermediates experiment.

use webgpu_kernel::Report;

use super::{RealParams, mean, short};
use crate::real::{KernelReport, RealSeries};

/// Subgroup sizes, the subgroup-sized shapes, and the `subgroupAdd` matvec against the
/// shared-memory tree (`row_wg`): per trial, the best shape of each, and at each shape.
pub(super) fn subgroups(r: &Report, k: &mut KernelReport) {
    let a = &r.adapter;
    k.set_exact("subgroup_min", f64::from(a.subgroup_sizes.0), "lanes");
    k.set_exact("subgroup_max", f64::from(a.subgroup_sizes.1), "lanes");
    k.set_exact("subgroup_ran", f64::from(u8::from(r.subgroup_ran)), "bool");
    let shapes: Vec<String> = r
        .subgroup_shapes
        .iter()
        .map(|(x, y)| format!("({x},{y})"))
        .collect();
    k.environment
        .insert("subgroup_shapes".into(), shapes.join(" "));
    if !r.subgroup_ran {
        k.findings.push(format!(
            "The subgroupAdd matvec did not run: {}.",
            r.subgroup_not_run
        ));
        return;
    }
    if !r.subgroup_enable_error.is_empty() {
        k.findings.push(format!(
            "WGSL's standard `enable subgroups;` is refused by wgpu's WGSL compiler here ({}); the subgroupAdd kernel runs without it, under wgpu's native `subgroups` feature.",
            compiler_message(&r.subgroup_enable_error)
        ));
    }
    for act in ["f32", "f16"] {
        let rows = |m: &str| -> Vec<&webgpu_kernel::SweepRow> {
            r.sweep
                .iter()
                .filter(|s| s.op == "matvec" && s.act.name() == act && s.mapping.name() == m)
                .collect()
        };
        let (tree, sg) = (rows("row_wg"), rows("subgroup"));
        if tree.is_empty() || sg.is_empty() {
            continue;
        }
        let trials = tree
            .iter()
            .chain(&sg)
            .map(|s| s.samples_ms.len())
            .min()
            .unwrap_or(0);
        let best = |v: &[&webgpu_kernel::SweepRow], i: usize| {
            v.iter()
                .map(|s| s.samples_ms[i])
                .fold(f64::INFINITY, f64::min)
        };
        let speedup: Vec<f64> = (0..trials).map(|i| best(&tree, i) / best(&sg, i)).collect();
        k.set_samples(
            format!("matvec_{act}_subgroup_speedup_vs_row_wg"),
            &speedup,
            "ratio",
        );
        for s in &sg {
            if let Some(t) = tree.iter().find(|t| t.shape == s.shape) {
                let n = s.samples_ms.len().min(t.samples_ms.len());
                let v: Vec<f64> = (0..n).map(|i| t.samples_ms[i] / s.samples_ms[i]).collect();
                k.set_samples(
                    format!(
                        "matvec_{act}_subgroup_speedup_vs_row_wg_wg{}x{}",
                        s.shape.0, s.shape.1
                    ),
                    &v,
                    "ratio",
                );
            }
        }
        if act == "f32" {
            k.findings.push(format!(
                "On {}: the subgroupAdd matvec (f32, best shape) takes {:.3} ms vs {:.3} ms for the shared-memory tree (best shape); subgroup sizes {}-{}, subgroup-sized shapes swept: {}.",
                short(&a.name),
                sg.iter().map(|s| mean(&s.samples_ms)).fold(f64::INFINITY, f64::min),
                tree.iter().map(|s| mean(&s.samples_ms)).fold(f64::INFINITY, f64::min),
                a.subgroup_sizes.0,
                a.subgroup_sizes.1,
                shapes.join(" ")
            ));
        }
    }
}

/// Storage-only vs mapped intermediates per chain size: each arm's time, the mapped arm's extra
/// cost per layer and the share of the mapped time storage-only saves (paired per trial).
pub(super) fn intermediates(p: &RealParams, r: &Report, k: &mut KernelReport) {
    if r.intermediates.is_empty() {
        return;
    }
    let layers = f64::from(p.chain_layers);
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for arm in ["storage", "mapped"] {
        let pts = r
            .intermediates
            .iter()
            .filter(|c| c.intermediates == arm)
            .map(|c| (f64::from(c.dim), mean(&c.samples_ms)))
            .collect();
        lines.push((arm.to_string(), pts));
    }
    let mut agree = true;
    for &d in &p.chain_dims {
        let get = |s: &str| {
            r.intermediates
                .iter()
                .find(|c| c.dim == d && c.intermediates == s)
        };
        let (Some(st), Some(mp)) = (get("storage"), get("mapped")) else {
            continue;
        };
        agree &= st.agrees && mp.agrees;
        k.set_samples(format!("intermediates{d}_storage_ms"), &st.samples_ms, "ms");
        k.set_samples(format!("intermediates{d}_mapped_ms"), &mp.samples_ms, "ms");
        let n = st.samples_ms.len().min(mp.samples_ms.len());
        let extra: Vec<f64> = (0..n)
            .map(|j| (mp.samples_ms[j] - st.samples_ms[j]) / layers)
            .collect();
        let saving: Vec<f64> = (0..n)
            .map(|j| 1.0 - st.samples_ms[j] / mp.samples_ms[j])
            .collect();
        k.set_samples_in(
            format!("intermediates{d}_mapped_extra_per_layer_ms"),
            &extra,
            "ms",
            (f64::NEG_INFINITY, f64::INFINITY),
        );
        k.set_samples_in(
            format!("intermediates{d}_storage_saving_fraction"),
            &saving,
            "fraction",
            (-1.0, 1.0),
        );
    }
    k.set_exact(
        "intermediates_outputs_agree",
        f64::from(u8::from(agree)),
        "bool",
    );
    k.series.push(RealSeries {
        id: "intermediates".into(),
        title: format!(
            "Intermediates: storage-only vs mapped ({} layers, {})",
            p.chain_layers,
            short(&r.adapter.name)
        ),
        x_label: "matrix side (dim)".into(),
        y_label: "ms per chain (mean)".into(),
        lines,
        log_y: true,
    });
}

/// The compiler's own words from a wgpu error: after "error: ", before the source excerpt.
fn compiler_message(e: &str) -> String {
    let tail = e.rsplit("error: ").next().unwrap_or(e);
    tail.split('\u{250c}')
        .next()
        .unwrap_or(tail)
        .trim()
        .to_string()
}
