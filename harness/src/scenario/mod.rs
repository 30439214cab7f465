//! Scenario files: the raw form ([`file`]), locating fields in the text ([`locate`]), and the
//! checked, expanded run plan, built in stages: the command-line [`options`], [`points`],
//! [`claims`], [`charts`], the real kernel's table ([`real_plan`]), all reported through
//! [`diagnostics`] and put together by [`plan`].

pub mod charts;
pub mod claims;
pub mod diagnostics;
pub mod file;
#[cfg(test)]
mod fuzz;
pub mod locate;
pub mod options;
pub mod plan;
pub mod points;
pub mod real_plan;
pub mod sources;
pub mod values;
pub mod work;

pub use claims::ResolvedClaim;
pub use options::{LoadOptions, Override, OverrideTarget};
pub use plan::{ScenarioPlan, expand_paths, load, load_all, load_bytes};
pub use points::PlannedPoint;
pub use real_plan::{Calibrate, RealPlan};
