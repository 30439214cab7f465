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
        mappings: vec![Mapping::Article2d, Mapping::Flat, Mapping::RowPerWorkgroup],
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
}
