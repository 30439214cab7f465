//! The measuring functions in a build without the `gpu` feature: each returns
//! [`KernelError::NotBuilt`], so callers can report why a measurement is missing.

use crate::{AdapterDesc, KernelError, Options, Report};

/// Not built: [`KernelError::NotBuilt`].
pub(crate) fn adapters() -> Result<Vec<AdapterDesc>, KernelError> {
    Err(KernelError::NotBuilt)
}

/// Not built: [`KernelError::NotBuilt`].
pub(crate) fn measure(_: &Options, _: &dyn Fn(&str)) -> Result<Report, KernelError> {
    Err(KernelError::NotBuilt)
}
