//! The kernel in a build without the `layers` feature: it reports why it cannot run.

use super::{LAYERS_NOT_BUILT, RealParams};
use crate::real::{KernelContext, KernelReport};

/// Never available: the tar and compression crates are not built.
pub(super) fn available(_: &RealParams) -> Result<String, String> {
    Err(LAYERS_NOT_BUILT.to_string())
}

/// A `not_run` report: the kernel is not built.
pub(super) fn run(_: &RealParams, _: &KernelContext) -> KernelReport {
    KernelReport::not_run(LAYERS_NOT_BUILT)
}
