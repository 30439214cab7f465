//! The kernel in a build without the `postgres` feature: it reports why it cannot run.

use super::RealParams;
use crate::real::{KernelContext, KernelReport, POSTGRES_NOT_BUILT};

/// A `not_run` report: PostgreSQL kernels are not built.
pub(super) fn run(_: &RealParams, _: &KernelContext) -> KernelReport {
    KernelReport::not_run(POSTGRES_NOT_BUILT)
}
