//! How much a planned run will simulate, from the rooms' own estimates: shown before a run
//! starts, and a refusal when it is far beyond what a machine does in a working day.

use super::ScenarioPlan;
use crate::format::fmt_num;

/// Above this many seconds of one core the lab refuses a run unless told `--force`: no
/// scenario in this repository needs a tenth of it, and a typo (`customers = 1e14`) needs years.
pub const LIMIT_CPU_S: f64 = 4.0 * 3600.0;

/// The model's work for one scenario: units simulated and seconds of one core, roughly.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkEstimate {
    /// Units across every point and replication.
    pub units: f64,
    /// What a unit is (`customers`).
    pub unit: &'static str,
    /// Seconds of one core, roughly.
    pub cpu_s: f64,
    /// The point that costs most, and its share of the seconds.
    pub biggest: Option<(String, f64)>,
}

impl WorkEstimate {
    /// `about 1.5e8 customers, ~50 s of one core` for people.
    pub fn describe(&self) -> String {
        format!(
            "about {} {}, ~{} of one core",
            fmt_num(self.units),
            self.unit,
            human_seconds(self.cpu_s)
        )
    }

    /// Whether the run is beyond [`LIMIT_CPU_S`].
    pub fn too_big(&self) -> bool {
        self.cpu_s.is_nan() || self.cpu_s > LIMIT_CPU_S
    }
}

/// The plan's estimate, or `None` when its room does not estimate its work. Counts the model's
/// replications only: a robustness pass or a real kernel adds to it.
pub fn estimate(plan: &ScenarioPlan) -> Option<WorkEstimate> {
    let mut total = WorkEstimate {
        units: 0.0,
        unit: "",
        cpu_s: 0.0,
        biggest: None,
    };
    let mut biggest_s = -1.0;
    for p in &plan.points {
        let w = plan.sim.work(&p.prepared)?;
        let reps = f64::from(p.replications);
        let s = w.cpu_seconds() * reps;
        total.units += w.units * reps;
        total.unit = w.unit;
        total.cpu_s += s;
        if s > biggest_s {
            biggest_s = s;
            let name = p
                .label
                .clone()
                .unwrap_or_else(|| format!("point {}", p.index));
            total.biggest = Some((name, s));
        }
    }
    (!plan.points.is_empty()).then_some(total)
}

/// The refusal of a run beyond the limit, naming the file and the point that costs most.
pub fn refusal(plan: &ScenarioPlan, w: &WorkEstimate) -> String {
    let at = match &w.biggest {
        Some((name, s)) => format!(
            "; point `{name}` alone is ~{} of one core",
            human_seconds(*s)
        ),
        None => String::new(),
    };
    format!(
        "{}: this run would simulate {}{at}. The lab refuses runs over {} of one core: check \
         the horizon parameters ({}), or pass --force to run it anyway",
        plan.file.display(),
        w.describe(),
        human_seconds(LIMIT_CPU_S),
        horizon_list(plan),
    )
}

fn horizon_list(plan: &ScenarioPlan) -> String {
    let h = plan.sim.horizon_params();
    if h.is_empty() {
        "the scenario's sizes".to_string()
    } else {
        h.join(", ")
    }
}

/// `50 s`, `12 min`, `3.2 h`, `4.1 days`, `28 years`.
pub fn human_seconds(s: f64) -> String {
    const MIN: f64 = 60.0;
    const HOUR: f64 = 3600.0;
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.25 * DAY;
    if !s.is_finite() {
        return "forever".to_string();
    }
    match s {
        s if s < 1.0 => "under a second".to_string(),
        s if s < 2.0 * MIN => format!("{} s", fmt_num(s.round())),
        s if s < 2.0 * HOUR => format!("{} min", fmt_num((s / MIN).round())),
        s if s < 2.0 * DAY => format!("{} h", fmt_num((s / HOUR * 10.0).round() / 10.0)),
        s if s < 2.0 * YEAR => format!("{} days", fmt_num((s / DAY).round())),
        s => format!("{} years", fmt_num((s / YEAR).round())),
    }
}

#[cfg(test)]
mod tests {
    use super::human_seconds;

    #[test]
    fn seconds_read_in_the_unit_that_fits() {
        assert_eq!(human_seconds(0.2), "under a second");
        assert_eq!(human_seconds(50.4), "50 s");
        assert_eq!(human_seconds(720.0), "12 min");
        assert_eq!(human_seconds(4.0 * 3600.0), "4 h");
        assert_eq!(human_seconds(3.0 * 86_400.0), "3 days");
        assert_eq!(human_seconds(1e9), "32 years");
        assert_eq!(human_seconds(f64::INFINITY), "forever");
    }
}
