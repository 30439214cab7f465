//! Real kernels: measurements of the real thing (a PostgreSQL server, llama.cpp) on the machine
//! at hand, beside a room's model. A kernel reports what it measured, what it could not run and
//! why, and the parameter values the model can take from the measurement (its calibration).
//!
//! The types here carry no heavy dependency. Kernels that need one live behind a cargo feature
//! (`postgres` for [`postgres`]) or in their own crate, and the harness decides which are built.

pub mod adapters;
pub mod llama;
pub mod nvml;
pub mod postgres;

use std::collections::BTreeMap;

use crate::params::ParamsError;

pub use postgres::postgres_available;

/// Whether process `pid` still runs: it exists and is not a zombie. Without `/proc`, assume
/// it does (leaving a dead run's leftovers is better than removing a live run's).
pub fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.is_dir() {
        return true;
    }
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // The state follows the command name in parentheses: `123 (lab) Z ...`.
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Why a PostgreSQL kernel cannot run in this build.
pub const POSTGRES_NOT_BUILT: &str = "lab was built without the `postgres` feature";

/// What a kernel needs from the harness besides its `[real]` table.
pub struct KernelContext<'a> {
    /// The scenario's seed (kernels that draw random numbers use it).
    pub seed: u64,
    /// `--quick`: the smallest run that still shows the mechanism.
    pub quick: bool,
    /// Reports progress on long steps (a one-line message).
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// A real kernel: one per room at most.
pub trait Kernel: Sync {
    /// snake_case name, as `summary.json` shows it (`pg_idempotency`).
    fn name(&self) -> &'static str;
    /// One line: what it measures and what it needs.
    fn description(&self) -> &'static str;
    /// Validates the scenario's `[real]` table (without the harness's own keys) and returns it
    /// with defaults filled in.
    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError>;
    /// Whether the kernel can run here, and if not, why (cheap: no measurement).
    fn available(&self, real: &toml::Table) -> Result<String, String>;
    /// Measures. Never panics on a missing service: returns [`KernelReport::not_run`].
    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport;
}

/// One measured value.
#[derive(Clone, Debug, PartialEq)]
pub struct RealMetric {
    /// The value (the mean of repeated measurements).
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// A 95% interval when the kernel repeated the measurement.
    pub ci95: Option<[f64; 2]>,
    /// Repetitions behind the value (1 when measured once).
    pub n: u32,
    /// A fact the kernel checked (a column's type, a count the database keeps), not a noisy
    /// quantity: one observation is the answer.
    pub exact: bool,
    /// For a proportion of counted events: (events, trials), so repeated runs can pool them.
    pub counts: Option<(u64, u64)>,
}

/// A measured curve for the report (latency over time, cost vs size).
#[derive(Clone, Debug, PartialEq)]
pub struct RealSeries {
    /// File-name safe id.
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// The x axis's label.
    pub x_label: String,
    /// The y axis's label.
    pub y_label: String,
    /// One line per name.
    pub lines: Vec<(String, Vec<(f64, f64)>)>,
    /// A logarithmic y axis.
    pub log_y: bool,
}

/// What a kernel run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelReport {
    /// Present when the kernel did not run (or stopped): why, in one sentence.
    pub not_run: Option<String>,
    /// Measured values by name (judged as `real.NAME`).
    pub metrics: BTreeMap<String, RealMetric>,
    /// Parameter values for the model, measured (only keys the room's params accept).
    pub calibration: toml::Table,
    /// What the run showed that numbers don't (a pitfall reproduced, a property checked).
    pub findings: Vec<String>,
    /// Measured curves, drawn in the report.
    pub series: Vec<RealSeries>,
    /// Where it ran (server version, CPU threads, model files).
    pub environment: BTreeMap<String, String>,
    /// Metrics this run could not measure, by name: why (another variant of the kernel
    /// measures them, or a sensor is missing). A claim on one says so instead of "not measured".
    pub unmeasured: BTreeMap<String, String>,
}

impl KernelReport {
    /// A kernel that could not run, with the reason.
    pub fn not_run(reason: impl Into<String>) -> KernelReport {
        KernelReport {
            not_run: Some(reason.into()),
            ..KernelReport::default()
        }
    }

    /// Records a value measured once.
    pub fn set(&mut self, name: impl Into<String>, value: f64, unit: &str) {
        self.metrics.insert(
            name.into(),
            RealMetric {
                value,
                unit: unit.to_string(),
                ci95: None,
                n: 1,
                exact: false,
                counts: None,
            },
        );
    }

    /// Records a fact the kernel checked: judged as it is, with no interval (a type, a count
    /// the database keeps, whether an error was raised).
    pub fn set_exact(&mut self, name: impl Into<String>, value: f64, unit: &str) {
        self.metrics.insert(
            name.into(),
            RealMetric {
                value,
                unit: unit.to_string(),
                ci95: None,
                n: 1,
                exact: true,
                counts: None,
            },
        );
    }

    /// Records a proportion of repeated trials (bursts that charged once of bursts run) with
    /// its Wilson interval: zero failures in N is "at most about 3.8/N", never certainty.
    pub fn set_proportion(&mut self, name: impl Into<String>, successes: u64, trials: u64) {
        if trials == 0 {
            return;
        }
        let (lo, hi) = crate::stats::wilson_interval(successes, trials);
        self.metrics.insert(
            name.into(),
            RealMetric {
                value: successes as f64 / trials as f64,
                unit: "fraction".to_string(),
                ci95: Some([lo, hi]),
                n: trials.min(u64::from(u32::MAX)) as u32,
                exact: false,
                counts: Some((successes, trials)),
            },
        );
    }

    /// Records the mean of repeated measurements with its Student-t 95% interval. Kernels
    /// measure times, sizes, counts and ratios: the interval is cut at zero, and at one for a
    /// `fraction` (a quantity that can be negative uses [`KernelReport::set_samples_in`]).
    pub fn set_samples(&mut self, name: impl Into<String>, samples: &[f64], unit: &str) {
        let hi = if unit == "fraction" {
            1.0
        } else {
            f64::INFINITY
        };
        self.set_samples_in(name, samples, unit, (0.0, hi));
    }

    /// Records the mean of repeated measurements with its Student-t 95% interval cut to the
    /// range the quantity lives in.
    pub fn set_samples_in(
        &mut self,
        name: impl Into<String>,
        samples: &[f64],
        unit: &str,
        (lo, hi): (f64, f64),
    ) {
        if samples.is_empty() {
            return;
        }
        let e = crate::stats::Estimate::from_samples(samples);
        self.metrics.insert(
            name.into(),
            RealMetric {
                value: e.mean,
                unit: unit.to_string(),
                ci95: (samples.len() > 1).then_some([e.ci95.0.max(lo), e.ci95.1.min(hi)]),
                n: samples.len() as u32,
                exact: false,
                counts: None,
            },
        );
    }

    /// Records repeated measurements of a rise in percent (p99 during against before, minus one)
    /// by their geometric mean, with the t interval taken on the log of the ratio: a rise is a
    /// ratio, and one trial's +3,000% would swamp an arithmetic mean of +50% and +300%.
    pub fn set_rise_pct_samples(&mut self, name: impl Into<String>, samples_pct: &[f64]) {
        let logs: Vec<f64> = samples_pct
            .iter()
            .map(|p| (1.0 + p / 100.0).max(1e-9).ln())
            .collect();
        if logs.is_empty() {
            return;
        }
        let e = crate::stats::Estimate::from_samples(&logs);
        let pct = |l: f64| (l.exp() - 1.0) * 100.0;
        self.metrics.insert(
            name.into(),
            RealMetric {
                value: pct(e.mean),
                unit: "%".to_string(),
                ci95: (logs.len() > 1).then_some([pct(e.ci95.0), pct(e.ci95.1)]),
                n: logs.len() as u32,
                exact: false,
                counts: None,
            },
        );
    }

    /// Folds the reports of repeated trials of the same experiments into this one. A value
    /// every trial checked as a fact stays a fact (its mean: the share of trials, for a 0/1
    /// check); a proportion pools its counts (one Wilson interval over every trial's events);
    /// anything else becomes the trials' mean with its t interval, cut to `range(name)`. The
    /// calibration takes the trials' mean of each float (integers and other values from the
    /// first trial); findings, curves and environment come from the first trial, which the
    /// report says. A metric that some trials lack is averaged over those that have it.
    pub fn absorb_trials(&mut self, trials: Vec<KernelReport>, range: impl Fn(&str) -> (f64, f64)) {
        let n = trials.len();
        let mut names: Vec<&String> = trials.iter().flat_map(|t| t.metrics.keys()).collect();
        names.sort();
        names.dedup();
        let mut merged = BTreeMap::new();
        for name in names {
            let seen: Vec<&RealMetric> =
                trials.iter().filter_map(|t| t.metrics.get(name)).collect();
            let unit = seen[0].unit.clone();
            let values: Vec<f64> = seen.iter().map(|m| m.value).collect();
            let mut one = KernelReport::default();
            if let Some(pooled) = seen
                .iter()
                .map(|m| m.counts)
                .try_fold((0, 0), |(k, t), c| c.map(|(ck, ct)| (k + ck, t + ct)))
            {
                one.set_proportion(name.clone(), pooled.0, pooled.1);
            } else if seen.iter().all(|m| m.exact) {
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                one.set_exact(name.clone(), mean, &unit);
            } else if values.len() == 1 {
                one.metrics.insert(name.clone(), seen[0].clone());
            } else {
                one.set_samples_in(name.clone(), &values, &unit, range(name));
            }
            merged.extend(one.metrics);
        }
        self.metrics.extend(merged);

        let mut trials = trials.into_iter();
        let Some(first) = trials.next() else { return };
        let rest: Vec<KernelReport> = trials.collect();
        for (key, value) in first.calibration {
            let value = match value {
                toml::Value::Float(x) => {
                    let others = rest
                        .iter()
                        .filter_map(|t| t.calibration.get(&key)?.as_float());
                    let (sum, count) = others.fold((x, 1), |(s, c), y| (s + y, c + 1));
                    toml::Value::Float(round_calibration(sum / f64::from(count)))
                }
                other => other,
            };
            self.calibration.insert(key, value);
        }
        self.findings.extend(first.findings);
        self.series.extend(first.series);
        self.environment.extend(first.environment);
        if n > 1 {
            self.environment.insert(
                "trials".into(),
                format!("{n} (findings and curves are the first trial's)"),
            );
        }
    }
}

/// A calibrated value at the precision a measurement has: whole units from 100 up, three
/// decimals below.
pub(crate) fn round_calibration(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 1000.0).round() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(blocked: f64, p99: f64, timeouts: u64, requests: u64, rate: f64) -> KernelReport {
        let mut r = KernelReport::default();
        r.set_exact("blocked", blocked, "bool");
        r.set("inflation_pct", p99, "%");
        r.set_proportion("timeout_fraction", timeouts, requests);
        r.calibration
            .insert("rate".into(), toml::Value::Float(rate));
        r.calibration
            .insert("cores".into(), toml::Value::Integer(2));
        r.findings.push(format!("p99 {p99}"));
        r
    }

    #[test]
    fn trials_fold_into_facts_pooled_proportions_and_intervals() {
        let mut r = KernelReport::default();
        let trials = vec![
            trial(1.0, -10.0, 0, 1000, 100.0),
            trial(1.0, 30.0, 2, 1000, 110.0),
            trial(0.0, 40.0, 1, 2000, 120.0),
        ];
        r.absorb_trials(trials, |name| {
            if name == "inflation_pct" {
                (-100.0, f64::INFINITY)
            } else {
                (0.0, f64::INFINITY)
            }
        });
        let blocked = &r.metrics["blocked"];
        assert!(blocked.exact);
        assert!((blocked.value - 2.0 / 3.0).abs() < 1e-12);
        let t = &r.metrics["timeout_fraction"];
        assert_eq!(t.counts, Some((3, 4000)));
        assert!((t.value - 3.0 / 4000.0).abs() < 1e-15);
        let ci = t.ci95.expect("Wilson interval");
        assert!(ci[0] > 0.0 && ci[1] < 0.003);
        let p = &r.metrics["inflation_pct"];
        assert_eq!(p.n, 3);
        let ci = p.ci95.expect("t interval");
        assert!(
            ci[0] < -10.0,
            "a signed quantity's interval is not cut at zero: {ci:?}"
        );
        assert_eq!(r.calibration["rate"].as_float(), Some(110.0));
        assert_eq!(r.calibration["cores"].as_integer(), Some(2));
        assert_eq!(r.findings, vec!["p99 -10".to_string()]);
        assert!(r.environment["trials"].starts_with("3 "));
    }

    #[test]
    fn a_rise_is_averaged_as_a_ratio() {
        let mut r = KernelReport::default();
        // Ratios 1.5, 4 and 39: geometric mean (1.5 * 4 * 39)^(1/3) = 6.16, a rise of ~516%.
        r.set_rise_pct_samples("rise", &[50.0, 300.0, 3800.0]);
        let m = &r.metrics["rise"];
        assert!((m.value - 516.0).abs() < 1.0, "{m:?}");
        let [lo, hi] = m.ci95.unwrap();
        assert!(lo > -100.0 && lo < m.value && hi > 3800.0, "{m:?}");
        // Every trial well above the baseline: the interval stays above it.
        r.set_rise_pct_samples("steady", &[200.0, 250.0, 300.0, 220.0, 280.0]);
        assert!(r.metrics["steady"].ci95.unwrap()[0] > 150.0);
    }
}
