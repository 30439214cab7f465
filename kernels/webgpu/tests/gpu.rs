//! The kernels on the adapter at hand (lavapipe in CI): every configuration agrees with the CPU
//! reference on fresh random inputs. Without an adapter the test says so and passes, unless
//! `CLAIMLAB_REQUIRE_REAL` names `webgpu`.

use webgpu_kernel::{KernelError, Mapping, Options};

#[test]
fn kernels_agree_with_the_cpu_reference() {
    let required =
        std::env::var("CLAIMLAB_REQUIRE_REAL").is_ok_and(|v| v.split(',').any(|k| k == "webgpu"));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let opts = Options {
        seed,
        trials: 1,
        matvec_nk: (256, 512),
        matmul_mnk: (5, 96, 256),
        shapes: vec![(4, 4), (8, 8), (16, 16), (64, 1), (256, 1)],
        subgroup_shapes: true,
        mappings: Mapping::ALL.to_vec(),
        chain_dims: vec![64],
        chain_layers: 3,
        chain_trials: 1,
        checked_outputs: 32,
    };
    let r = match webgpu_kernel::measure(&opts, &|_| ()) {
        Err(KernelError::NoAdapter(why)) if !required => {
            eprintln!("skipped: {why}");
            return;
        }
        r => r.expect("measure"),
    };
    assert!(!r.checks.is_empty());
    for c in &r.checks {
        assert!(
            c.max_rel_error < 1e-4,
            "{} (seed {seed}): {}",
            c.label,
            c.max_rel_error
        );
    }
    assert!(!r.article_verbatim_compiles);
    assert!(r.article_completed_max_rel_error > 0.1);
    assert!(r.chains.iter().all(|c| c.agrees));
    // Subgroups: the shapes sized to the adapter's subgroup are swept, and the subgroupAdd
    // matvec ran (and was checked above) wherever the adapter has the feature.
    let (lo, _) = r.adapter.subgroup_sizes;
    assert!(
        r.subgroup_shapes.contains(&(lo, 1)) || opts.shapes.contains(&(lo, 1)),
        "{:?}",
        r.subgroup_shapes
    );
    assert_eq!(
        r.subgroup_ran, r.adapter.subgroups,
        "{}",
        r.subgroup_not_run
    );
    let sg_checks = r
        .checks
        .iter()
        .filter(|c| c.label.contains("subgroup"))
        .count();
    if r.subgroup_ran {
        assert!(
            sg_checks >= opts.shapes.len(),
            "{sg_checks} subgroup checks"
        );
    } else {
        assert_eq!(sg_checks, 0);
        assert!(!r.subgroup_not_run.is_empty());
    }
    // Storage-only vs mapped intermediates: both arms, same output.
    assert_eq!(r.intermediates.len(), 2);
    assert!(r.intermediates.iter().all(|c| c.agrees));
    // A dataset file round-trips and calibrates.
    let dir = std::env::temp_dir().join(format!("webgpu-dataset-{seed}"));
    let path = dir.join("lavapipe/measurements.json");
    let d = webgpu_kernel::dataset::Dataset::new(r.clone(), "test");
    d.write(&path).expect("write");
    let back = webgpu_kernel::dataset::Dataset::read(&path).expect("read");
    assert_eq!(back.report.adapter, r.adapter);
    assert_eq!(back.report.sweep.len(), r.sweep.len());
    let cal = back.calibration();
    assert!(cal.mem_bw_gbps.is_some_and(|v| v > 0.0));
    assert!(cal.readback_ms.is_some_and(|v| v >= 0.0));
    assert_eq!(cal.wave_width, lo.max(1));
    let _ = std::fs::remove_dir_all(dir);
}
