//! Charts: each `[[charts]]` entry's axes and filters checked against the points and the
//! room's metrics.

use sims::simulation::Simulation;

use super::diagnostics::{Problems, key};
use super::locate::Seg;
use super::points::PlannedPoint;
use super::values::get_path;
use crate::error::nearest;
use crate::summary::ChartSpec;

/// Reports an x that is no numeric parameter, a metric the room does not emit, and `where` or
/// `series` keys no point has.
pub(super) fn check(
    charts: &[ChartSpec],
    points: &[PlannedPoint],
    sim: &dyn Simulation,
    pr: &mut Problems<'_>,
) {
    for (i, c) in charts.iter().enumerate() {
        let here = |k: &str| vec![key("charts"), Seg::Index(i), key(k)];
        if !points
            .iter()
            .any(|pt| get_path(pt.params(), &c.x).is_some_and(|v| v.is_integer() || v.is_float()))
        {
            pr.at(
                &here("x"),
                false,
                format!("`{}` is not a numeric parameter of any point", c.x),
                None,
            );
        }
        if c.y.is_empty() {
            pr.at(&here("y"), false, "a chart needs at least one metric", None);
        }
        for (j, m) in c.y.iter().enumerate() {
            if sim.metric_def(m).is_none() {
                let mut p = here("y");
                p.push(Seg::Index(j));
                let help = nearest(m, sim.metrics().iter().map(|m| m.name))
                    .map(|n| format!("did you mean `{n}`?"));
                pr.at(
                    &p,
                    false,
                    format!("`{}` does not emit metric `{m}`", sim.name()),
                    help,
                );
            }
        }
        for k in c.filter.keys() {
            if !points.iter().any(|pt| get_path(pt.params(), k).is_some()) {
                let mut p = here("where");
                p.push(Seg::Key(k.clone()));
                pr.at(&p, true, format!("no parameter `{k}`"), None);
            }
        }
        if let Some(s) = &c.series {
            if !points.iter().any(|pt| get_path(pt.params(), s).is_some()) {
                pr.at(&here("series"), false, format!("no parameter `{s}`"), None);
            }
        }
    }
}
