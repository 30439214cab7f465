//! Every room, in alphabetical order of name. The harness finds simulations only here.

use crate::ab_testing::AbTesting;
use crate::gpu_serving::GpuServing;
use crate::idempotency::Idempotency;
use crate::migrations::Migrations;
use crate::queue::Queue;
use crate::simulation::Simulation;
use crate::speculative::Speculative;
use crate::tail_sampling::TailSampling;

/// All registered simulations, sorted by name.
pub const SIMULATIONS: &[&dyn Simulation] = &[
    &AbTesting,
    &GpuServing,
    &Idempotency,
    &Migrations,
    &Queue,
    &Speculative,
    &TailSampling,
];

/// The simulation called `name`.
pub fn find(name: &str) -> Option<&'static dyn Simulation> {
    SIMULATIONS.iter().copied().find(|s| s.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_sorted_snake_case() {
        let names: Vec<_> = SIMULATIONS.iter().map(|s| s.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "registry must be sorted and unique");
        for n in names {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                "{n} is not snake_case"
            );
        }
    }

    #[test]
    fn every_room_checks_its_defaults_and_metric_names() {
        for s in SIMULATIONS {
            s.check(&toml::Table::new())
                .unwrap_or_else(|e| panic!("{}: defaults rejected: {e}", s.name()));
            for m in s.metrics() {
                assert!(!m.unit.is_empty(), "{}: {} has no unit", s.name(), m.name);
            }
        }
    }
}
