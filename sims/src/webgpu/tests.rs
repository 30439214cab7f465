use super::model::{crossing_mean_ms, crossings, lane_utilization, step};
use super::*;
use crate::room::testing::{check, replicate};

fn p() -> WebgpuParams {
    WebgpuParams::default()
}

#[test]
fn lanes_follow_the_wave_width_exactly() {
    use Mapping::{Article2d, Flat};
    // The article's 2-D mapping at one token: only the y = 0 row of a group has work.
    assert_eq!(lane_utilization(8, 8, 64, Article2d, 1), 8.0 / 64.0); // Adreno wave64
    assert_eq!(lane_utilization(4, 4, 64, Article2d, 1), 4.0 / 64.0); // a 16-lane group in a wave64
    assert_eq!(lane_utilization(16, 16, 64, Article2d, 1), 16.0 / 64.0);
    assert_eq!(lane_utilization(64, 1, 64, Article2d, 1), 1.0);
    assert_eq!(lane_utilization(4, 4, 16, Article2d, 1), 4.0 / 16.0); // Mali warp16
    assert_eq!(lane_utilization(8, 8, 16, Article2d, 1), 8.0 / 16.0);
    assert_eq!(lane_utilization(16, 16, 16, Article2d, 1), 1.0);
    assert_eq!(lane_utilization(8, 8, 32, Article2d, 1), 8.0 / 32.0); // Apple, NVIDIA
    // Enough tokens fill every row; 12 tokens on (8, 8): 8 + 4 rows of 8 in 2 groups of 64.
    assert_eq!(lane_utilization(8, 8, 64, Article2d, 64), 1.0);
    assert_eq!(lane_utilization(8, 8, 64, Article2d, 12), 96.0 / 128.0);
    // Flat: only a group smaller than a wave loses lanes.
    assert_eq!(lane_utilization(4, 4, 64, Flat, 1), 0.25);
    assert_eq!(lane_utilization(8, 8, 64, Flat, 1), 1.0);
    assert_eq!(lane_utilization(4, 4, 16, Flat, 1), 1.0);
}

#[test]
fn roofline_matches_hand_arithmetic() {
    let s = step(&p(), 8, 8);
    // 1e9 weights x 4.5 bits = 0.5625 GB; over 76.8 GB/s = 7.324 ms.
    assert!((s.weights_gb - 0.5625).abs() < 1e-12);
    assert!((s.bandwidth_floor_ms - 0.5625 / 76.8 * 1e3).abs() < 1e-9);
    // Little's law: 6144 lanes x 1/8 x 2 loads x 4 B = 6144 B in flight / 500 ns = 12.288 GB/s.
    assert!((s.achieved_gbps - 12.288).abs() < 1e-9);
    assert!((s.gpu_ms - 0.5625 / 12.288 * 1e3).abs() < 1e-9);
    // Full lanes: capped at 0.65 x 76.8 = 49.92 GB/s.
    let full = step(&p(), 64, 1);
    assert!((full.achieved_gbps - 49.92).abs() < 1e-9);
    // Prefill of 64 tokens, f16: 128 GFLOP at 2.8 x 2 x 0.5 TFLOP/s = 45.71 ms, compute-bound.
    let pre = step(&WebgpuParams { tokens: 64, ..p() }, 8, 8);
    assert_eq!(pre.utilization, 1.0);
    assert!((pre.compute_ms - 128.0 / 2.8).abs() < 1e-9);
    assert_eq!(pre.gpu_ms, pre.compute_ms);
}

#[test]
fn crossings_count_layers_and_their_mean_is_the_lognormal_mean() {
    assert_eq!(crossings(&p()), 12);
    assert_eq!(
        crossings(&WebgpuParams {
            dispatch: Dispatch::Single,
            ..p()
        }),
        1
    );
    assert_eq!(
        crossings(&WebgpuParams {
            crossings_per_layer: 2,
            layers: 28,
            ..p()
        }),
        56
    );
    let exact = crossing_mean_ms(&p());
    assert!((exact - 4.0 * (0.125f64).exp()).abs() < 1e-12);
    // The simulated mean overhead is 12 x that within 4 standard errors.
    let est = replicate::<Webgpu>("sim_tokens = 4000", 8, 11);
    let b = &est["bridge_overhead_ms"];
    let want = 12.0 * exact;
    assert!(
        (b.mean - want).abs() < 4.0 * b.std_error().max(1e-9),
        "{} vs {want}",
        b.mean
    );
    let gpu = step(&p(), 8, 8).gpu_ms;
    let t = &est["token_ms"];
    assert!((t.mean - gpu - want).abs() < 4.0 * t.std_error().max(1e-9));
}

#[test]
fn shape_metrics_compare_the_five_shapes() {
    let est = replicate::<Webgpu>("sim_tokens = 10", 2, 1);
    // Adreno, article 2-D: (4,4) is 1/16 of a wave64 -> 6.144 GB/s; (64,1) and (256,1) capped.
    let slow = 0.5625 / 6.144;
    let fast = 0.5625 / 49.92;
    assert!((est["workgroup_spread"].mean - slow / fast).abs() < 1e-9);
    assert!((est["shape_efficiency"].mean - fast / (0.5625 / 12.288)).abs() < 1e-9);
    assert!((est["workgroup_speedup"].mean - slow / (0.5625 / 12.288)).abs() < 1e-9);
    // Mali: (4,4) fills a quarter of a warp16 (the worst), (8,8) half.
    let mali = replicate::<Webgpu>(
        "sim_tokens = 10\nfamily = \"mali\"\nwg_x = 4\nwg_y = 4",
        2,
        1,
    );
    assert!(mali["shape_efficiency"].mean < 0.51);
    assert!((mali["lane_utilization"].mean - 0.25).abs() < 1e-12);
}

#[test]
fn runs_are_deterministic_per_seed() {
    let a = replicate::<Webgpu>("sim_tokens = 100", 3, 5);
    let b = replicate::<Webgpu>("sim_tokens = 100", 3, 5);
    assert_eq!(a["token_ms"].mean, b["token_ms"].mean);
}

#[test]
fn bad_params_name_the_field() {
    for (text, field) in [
        ("wg_x = 0", "wg_x"),
        ("wg_x = 64\nwg_y = 32", "wg_y"),
        ("bw_efficiency = 1.5", "bw_efficiency"),
        ("crossing_sigma = 9.0", "crossing_sigma"),
        ("family = \"powervr\"", "family"),
        ("bridge_ms = -1.0", "bridge_ms"),
    ] {
        let t: toml::Table = text.parse().unwrap();
        let e = check::<Webgpu>(&t).expect_err(text);
        assert_eq!(e.path(), field, "{text}: {e}");
    }
    assert!(check::<Webgpu>(&toml::Table::new()).is_ok());
}

#[test]
fn the_kernel_checks_its_keys_and_reports_why_it_cannot_run() {
    use crate::real::Kernel;
    let k = WebgpuInt4;
    let bad: toml::Table = "matvec_dim = 100".parse().unwrap();
    assert!(k.check(&bad).is_err());
    let typo: toml::Table = "trails = 3".parse().unwrap();
    assert!(k.check(&typo).is_err());
    if !webgpu_kernel::GPU_BUILT {
        let why = k.available(&toml::Table::new()).unwrap_err();
        assert!(why.contains("gpu"), "{why}");
    }
}

/// The committed lavapipe dataset (probe full): its calibration becomes the point's inputs.
#[test]
fn a_dataset_file_calibrates_the_point() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/webgpu/lavapipe/measurements.json"
    );
    let d = webgpu_kernel::dataset::Dataset::read(std::path::Path::new(path)).expect("dataset");
    let c = d.calibration();
    assert!(
        d.report.adapter.name.contains("llvmpipe"),
        "{}",
        d.report.adapter.name
    );
    let mut q = WebgpuParams {
        dataset: path.into(),
        ..p()
    };
    q.load_dataset().expect("load");
    assert_eq!(Some(q.mem_bw_gbps), c.mem_bw_gbps);
    assert_eq!(Some(q.readback_ms), c.readback_ms);
    assert_eq!(q.wave_width, d.report.adapter.subgroup_sizes.0);
    assert!(q.mem_bw_gbps > 0.0 && q.readback_ms >= 0.0);
    // Absent or foreign files are errors on the `dataset` field, never a silent default.
    for bad in [
        "/nonexistent/measurements.json",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
    ] {
        let mut q = WebgpuParams {
            dataset: bad.into(),
            ..p()
        };
        let e = q.load_dataset().expect_err(bad);
        assert_eq!(e.path(), "dataset", "{e}");
    }
    // No dataset: nothing changes.
    let mut q = p();
    q.load_dataset().expect("none");
    assert_eq!(q, p());
}
