//! The kernel in a build without the `hashing` feature: it reports why it cannot run.

use super::{HASHING_NOT_BUILT, RealParams};
use crate::real::{KernelContext, KernelReport};

/// Never available in this build.
pub(super) fn available() -> Result<String, String> {
    Err(HASHING_NOT_BUILT.to_string())
}

/// A `not_run` report: the hash functions are not built.
pub(super) fn run(_: &RealParams, _: &KernelContext) -> KernelReport {
    KernelReport::not_run(HASHING_NOT_BUILT)
}
