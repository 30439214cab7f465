//! The measuring functions in a build without the `llama` feature: each returns
//! [`KernelError::NotBuilt`], so callers can report why a measurement is missing.

use std::path::Path;

use crate::{BatchCurve, BatchOptions, KernelError, Profile, ProfileOptions, SpecOptions, SpecRun};

/// Not built: [`KernelError::NotBuilt`].
pub(crate) fn measure_profile(
    _: &Path,
    _: &Path,
    _: &ProfileOptions,
) -> Result<Profile, KernelError> {
    Err(KernelError::NotBuilt)
}

/// Not built: [`KernelError::NotBuilt`].
pub(crate) fn measure_batch_curve(_: &Path, _: &BatchOptions) -> Result<BatchCurve, KernelError> {
    Err(KernelError::NotBuilt)
}

/// Not built: [`KernelError::NotBuilt`].
pub(crate) fn run_speculative(_: &Path, _: &Path, _: &SpecOptions) -> Result<SpecRun, KernelError> {
    Err(KernelError::NotBuilt)
}
