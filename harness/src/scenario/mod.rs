//! Scenario files: the raw form ([`file`]), locating fields in the text ([`locate`]), and the
//! checked, expanded run plan ([`plan`]).

pub mod file;
pub mod locate;
pub mod plan;
pub mod values;

pub use plan::{LoadOptions, Override, PlannedPoint, ResolvedClaim, ScenarioPlan, load, load_all};
