//! Every room, in alphabetical order of name: the one list the harness finds simulations,
//! kernels and tools in. Adding a room is one line here (see the README, "Adding a room").

use crate::ab_testing::AbTesting;
use crate::build_cache::BuildCache;
use crate::gc::Gc;
use crate::gpu_serving::GpuServing;
use crate::idempotency::Idempotency;
use crate::layer_cache::LayerCache;
use crate::migrations::Migrations;
use crate::prefetch::Prefetch;
use crate::queue::Queue;
use crate::real::Kernel;
use crate::room::Registered;
use crate::simulation::Simulation;
use crate::speculative::Speculative;
use crate::tail_sampling::TailSampling;
use crate::thermal::Thermal;
use crate::tool::{ArgValue, Tool};
use crate::webgpu::Webgpu;

/// All registered simulations, sorted by name.
pub const SIMULATIONS: &[&dyn Simulation] = &[
    &Registered::<AbTesting>::NEW,
    &Registered::<BuildCache>::NEW,
    &Registered::<Gc>::NEW,
    &Registered::<GpuServing>::NEW,
    &Registered::<Idempotency>::NEW,
    &Registered::<LayerCache>::NEW,
    &Registered::<Migrations>::NEW,
    &Registered::<Prefetch>::NEW,
    &Registered::<Queue>::NEW,
    &Registered::<Speculative>::NEW,
    &Registered::<TailSampling>::NEW,
    &Registered::<Thermal>::NEW,
    &Registered::<Webgpu>::NEW,
];

/// The simulation called `name`.
pub fn find(name: &str) -> Option<&'static dyn Simulation> {
    SIMULATIONS.iter().copied().find(|s| s.name() == name)
}

/// Every room's kernels, with the room's name.
pub fn kernels() -> impl Iterator<Item = (&'static str, &'static dyn Kernel)> {
    SIMULATIONS
        .iter()
        .flat_map(|s| s.kernels().iter().map(move |k| (s.name(), *k)))
}

/// Every room's tools, with the room's name.
pub fn tools() -> impl Iterator<Item = (&'static str, &'static Tool)> {
    SIMULATIONS
        .iter()
        .flat_map(|s| s.tools().iter().map(move |t| (s.name(), t)))
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
}

/// What a room must satisfy to be registered, as a list of problems (empty: conforms): a
/// snake_case name and a description; metrics declared, named in snake_case, unique, each with
/// a unit and a description; its defaults valid; kernels named, described and with valid
/// defaults; tools and their flags named in kebab-case, with consistent references and
/// defaults of the right type.
pub fn conformance(sim: &dyn Simulation) -> Vec<String> {
    let mut problems = Vec::new();
    let name = sim.name();
    if !is_snake(name) {
        problems.push(format!("name `{name}` is not snake_case"));
    }
    if sim.description().trim().is_empty() {
        problems.push(format!("{name}: no description"));
    }
    if sim.metrics().is_empty() {
        problems.push(format!("{name}: declares no metrics"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for m in sim.metrics() {
        if !is_snake(m.name.strip_suffix("<N>").unwrap_or(m.name)) {
            problems.push(format!("{name}: metric `{}` is not snake_case", m.name));
        }
        if !seen.insert(m.name) {
            problems.push(format!("{name}: metric `{}` is declared twice", m.name));
        }
        if m.unit.trim().is_empty() {
            problems.push(format!("{name}: metric `{}` has no unit", m.name));
        }
        if m.description.trim().is_empty() {
            problems.push(format!("{name}: metric `{}` has no description", m.name));
        }
        // A share must say it is one, so its interval stays inside [0, 1].
        if m.unit == "fraction" && m.kind == crate::simulation::MetricKind::Unbounded {
            problems.push(format!(
                "{name}: metric `{}` is a fraction declared unbounded: say .proportion() (counts) or .fraction()",
                m.name
            ));
        }
    }
    match sim.prepare(&toml::Table::new()) {
        Err(e) => problems.push(format!("{name}: its defaults are rejected: {e}")),
        Ok(defaults) => {
            for h in sim.horizon_params() {
                if !defaults.table().contains_key(*h) {
                    problems.push(format!(
                        "{name}: horizon parameter `{h}` is not a parameter"
                    ));
                }
            }
        }
    }
    let mut kernel_names = std::collections::BTreeSet::new();
    for k in sim.kernels() {
        if !is_snake(k.name()) || !kernel_names.insert(k.name()) {
            problems.push(format!(
                "{name}: kernel `{}` is not snake_case or is listed twice",
                k.name()
            ));
        }
        if k.description().trim().is_empty() {
            problems.push(format!("{name}: kernel `{}` has no description", k.name()));
        }
        if let Err(e) = k.check(&toml::Table::new()) {
            problems.push(format!(
                "{name}: kernel `{}` rejects its defaults: {e}",
                k.name()
            ));
        }
    }
    for t in sim.tools() {
        problems.extend(tool_problems(name, t));
    }
    problems
}

fn tool_problems(room: &str, t: &Tool) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_kebab(t.name) {
        problems.push(format!("{room}: tool `{}` is not kebab-case", t.name));
    }
    if t.commands.is_empty() {
        problems.push(format!("{room}: tool `{}` has no commands", t.name));
    }
    for c in t.commands {
        let at = format!("{room}: `{} {}`", t.name, c.name);
        if !is_kebab(c.name) || c.about.trim().is_empty() {
            problems.push(format!("{at}: needs a kebab-case name and an about line"));
        }
        let names: Vec<&str> = c.args.iter().map(|a| a.name).collect();
        for (i, a) in c.args.iter().enumerate() {
            if !is_kebab(a.name) || names[..i].contains(&a.name) {
                problems.push(format!(
                    "{at}: flag `{}` is not kebab-case or repeats",
                    a.name
                ));
            }
            if a.help.trim().is_empty() {
                problems.push(format!("{at}: flag `--{}` has no help", a.name));
            }
            for other in [a.required_unless, a.conflicts_with].into_iter().flatten() {
                if !names.contains(&other) {
                    problems.push(format!(
                        "{at}: flag `--{}` refers to no flag `--{other}`",
                        a.name
                    ));
                }
            }
            if let Some(d) = a.default {
                let ok = match a.value {
                    ArgValue::Number => d.parse::<f64>().is_ok(),
                    ArgValue::Count => d.parse::<u32>().is_ok(),
                    ArgValue::Text | ArgValue::Path => true,
                    ArgValue::Choice(cs) => cs.iter().any(|c| c.name == d),
                };
                if !ok {
                    problems.push(format!(
                        "{at}: `--{}` default `{d}` is not a valid value",
                        a.name
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sorted() {
        let names: Vec<_> = SIMULATIONS.iter().map(|s| s.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "registry must be sorted and unique");
        let mut kernels: Vec<_> = kernels().map(|(_, k)| k.name()).collect();
        kernels.sort();
        let n = kernels.len();
        kernels.dedup();
        assert_eq!(kernels.len(), n, "kernel names must be unique");
        let mut tools: Vec<_> = tools().map(|(_, t)| t.name).collect();
        tools.sort();
        let n = tools.len();
        tools.dedup();
        assert_eq!(tools.len(), n, "tool names must be unique");
    }

    #[test]
    fn every_room_conforms() {
        for s in SIMULATIONS {
            let problems = conformance(*s);
            assert!(
                problems.is_empty(),
                "{}:\n{}",
                s.name(),
                problems.join("\n")
            );
        }
    }

    #[test]
    fn conformance_finds_what_is_wrong() {
        use crate::simulation::{Better, MetricDef, Outcome, RunContext, RunError};
        use crate::tool::{ToolArg, ToolCommand};
        struct Broken;
        const METRICS: &[MetricDef] = &[
            MetricDef::new("x", "", "an x", Better::Neither),
            MetricDef::new("x", "s", "", Better::Neither),
            MetricDef::new("share", "fraction", "a share", Better::Neither),
        ];
        fn go(
            _: &crate::tool::ToolArgs,
            _: &mut dyn std::io::Write,
        ) -> Result<(), crate::tool::ToolError> {
            Ok(())
        }
        const TOOLS: &[Tool] = &[Tool {
            name: "Bad_Tool",
            about: "",
            commands: &[ToolCommand {
                name: "go",
                about: "go",
                long_about: "",
                args: &[ToolArg::new("n", ArgValue::Count, "n")
                    .default("many")
                    .conflicts_with("m")],
                run: go,
            }],
        }];
        #[derive(serde::Serialize, serde::Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct BrokenParams {
            rate: f64,
        }
        impl crate::room::Validate for BrokenParams {
            fn validate(&self) -> Result<(), crate::params::ParamsError> {
                crate::params::require_positive("rate", self.rate)
            }
        }
        impl crate::room::Room for Broken {
            const NAME: &'static str = "Broken";
            const DESCRIPTION: &'static str = "";
            type Params = BrokenParams;
            fn metrics() -> &'static [MetricDef] {
                METRICS
            }
            fn tools() -> &'static [Tool] {
                TOOLS
            }
            fn run(_: &BrokenParams, _: &RunContext) -> Result<Outcome, RunError> {
                Ok(Outcome::default())
            }
        }
        let problems = conformance(&Registered::<Broken>::NEW).join("\n");
        for want in [
            "not snake_case",
            "no description",
            "declared twice",
            "has no unit",
            "fraction declared unbounded",
            "defaults are rejected",
            "tool `Bad_Tool` is not kebab-case",
            "refers to no flag `--m`",
            "default `many`",
        ] {
            assert!(problems.contains(want), "{want} missing from:\n{problems}");
        }
    }
}
