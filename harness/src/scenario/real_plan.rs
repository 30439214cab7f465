//! The scenario's `[real]` table and the `--set real.*` overrides, checked against the room's
//! kernel into a [`RealPlan`].
//!
//! `[real]` keys the harness reads itself:
//! - `enabled` (bool, default true): false skips the kernel (`not_run`, "disabled").
//! - `calibrate` ("none", "all", or a list of `[[points]]` names; default "none"): the points
//!   whose parameters take the kernel's measured values. `--set` still wins over a measurement.
//!
//! Every other key belongs to the kernel.

use std::collections::BTreeSet;

use sims::real::Kernel;
use sims::simulation::Simulation;

use super::diagnostics::{Problems, help_for, is_unknown_field, key, overlaps, parse_dotted};
use super::file::ScenarioFile;
use super::locate::{Seg, display_path, parse_field_path};
use super::options::{LoadOptions, Override};
use super::points::PlannedPoint;
use super::values::set_path;
use crate::error::Diagnostic;

/// Which points take the kernel's measurements.
#[derive(Clone, Debug, PartialEq)]
pub enum Calibrate {
    /// None (the default): the kernel's measurements are only reported and judged.
    None,
    /// Every point.
    All,
    /// The `[[points]]` of these names.
    Points(Vec<String>),
}

/// A scenario's checked `[real]` table.
#[derive(Clone)]
pub struct RealPlan {
    /// The room's kernel.
    pub kernel: &'static dyn Kernel,
    /// `[real] enabled`.
    pub enabled: bool,
    /// `[real] calibrate`.
    pub calibrate: Calibrate,
    /// The kernel's own keys, defaults filled.
    pub params: toml::Table,
    /// Parameter paths set with `--set`: measurements never replace them.
    pub pinned: Vec<String>,
}

impl std::fmt::Debug for RealPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealPlan")
            .field("kernel", &self.kernel.name())
            .field("enabled", &self.enabled)
            .field("calibrate", &self.calibrate)
            .finish()
    }
}

/// Checks `[real]` and the `--set real.*` overrides against the room's kernel.
pub(super) fn plan(
    sf: &ScenarioFile,
    sim: &'static dyn Simulation,
    opts: &LoadOptions,
    points: &[PlannedPoint],
    pr: &mut Problems<'_>,
) -> Option<RealPlan> {
    // (`[real]` key path, the override) for each `--set real.KEY=...`.
    let real_sets: Vec<(&str, &Override)> = opts
        .overrides
        .iter()
        .filter_map(|o| o.real_key().map(|k| (k, o)))
        .collect();
    if sf.real.is_none() && real_sets.is_empty() {
        return None;
    }
    let Some(kernel) = sim.kernel() else {
        let mut with: Vec<_> = sims::registry::kernels().map(|(s, _)| s).collect();
        with.dedup();
        pr.at(
            &[key("real")],
            true,
            format!("simulation `{}` has no real kernel", sim.name()),
            Some(format!("simulations with one: {}", with.join(", "))),
        );
        return None;
    };
    let mut table = sf.real.clone().unwrap_or_default();
    for (k, o) in &real_sets {
        set_path(&mut table, k, o.value.clone());
    }
    let enabled = match table.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(v) => {
            pr.at(
                &[key("real"), key("enabled")],
                false,
                format!("expected true or false, found {v}"),
                None,
            );
            true
        }
    };
    let names: BTreeSet<&str> = points.iter().filter_map(|p| p.name.as_deref()).collect();
    let calibrate = match table.remove("calibrate") {
        None => Calibrate::None,
        Some(toml::Value::String(s)) if s == "none" => Calibrate::None,
        Some(toml::Value::String(s)) if s == "all" => Calibrate::All,
        Some(toml::Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                match v.as_str() {
                    Some(n) if names.contains(n) => out.push(n.to_string()),
                    _ => pr.at(
                        &[key("real"), key("calibrate"), Seg::Index(i)],
                        false,
                        format!("{v} is not the name of a [[points]] entry"),
                        Some(format!(
                            "named points: {}",
                            names.iter().copied().collect::<Vec<_>>().join(", ")
                        )),
                    ),
                }
            }
            Calibrate::Points(out)
        }
        Some(v) => {
            pr.at(
                &[key("real"), key("calibrate")],
                false,
                format!("expected \"none\", \"all\" or a list of point names, found {v}"),
                None,
            );
            Calibrate::None
        }
    };
    match kernel.check(&table) {
        Ok(params) => Some(RealPlan {
            kernel,
            enabled,
            calibrate,
            params,
            pinned: opts
                .overrides
                .iter()
                .filter_map(|o| o.param().map(str::to_string))
                .collect(),
        }),
        Err(e) => {
            let field = parse_field_path(e.path());
            if let Some((_, o)) = real_sets
                .iter()
                .rev()
                .find(|(k, _)| overlaps(&parse_dotted(k), &field))
            {
                pr.push(
                    Diagnostic::new(format!("--set {}: {e}", o.raw))
                        .field(format!("real.{}", display_path(&field))),
                );
            } else {
                let mut p = vec![key("real")];
                p.extend(field);
                pr.at(&p, is_unknown_field(&e), e.to_string(), help_for(&e));
            }
            None
        }
    }
}
