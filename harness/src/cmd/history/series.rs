//! The history's content: per scenario, claim and metric, the pooled series over the
//! commits, their steps, and the verdict changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Commit, RunRef, commit_key, order_commits, steps};
use crate::summary::{MetricEstimate, Summary, Verdict};

/// Pools the estimates of several runs of one commit: the replications taken together (the
/// mean weighted by n, the variance within and between runs), Student-t 95% interval.
pub fn pool(ests: &[&MetricEstimate]) -> Option<MetricEstimate> {
    match ests {
        [] => None,
        [one] => Some((*one).clone()),
        _ => {
            let n: u32 = ests.iter().map(|e| e.n.max(1)).sum();
            let nf = f64::from(n);
            let mean = ests
                .iter()
                .map(|e| e.mean * f64::from(e.n.max(1)))
                .sum::<f64>()
                / nf;
            let ss: f64 = ests
                .iter()
                .map(|e| {
                    let k = f64::from(e.n.max(1));
                    (k - 1.0) * e.std * e.std + k * (e.mean - mean).powi(2)
                })
                .sum();
            let std = if n > 1 { (ss / (nf - 1.0)).sqrt() } else { 0.0 };
            let half = if n > 1 {
                sims::stats::student_t_975(nf - 1.0) * std / nf.sqrt()
            } else {
                0.0
            };
            Some(MetricEstimate {
                mean,
                ci95: [mean - half, mean + half],
                std,
                n,
                unit: ests[0].unit.clone(),
            })
        }
    }
}

/// The standard error behind an estimate's interval.
pub fn std_error(e: &MetricEstimate) -> f64 {
    if e.n < 2 {
        return 0.0;
    }
    let t = sims::stats::student_t_975(f64::from(e.n) - 1.0);
    (e.ci95[1] - e.ci95[0]).abs() / 2.0 / t
}

/// One metric of one scenario at one point, over the commits.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    /// The scenario's id.
    pub scenario: String,
    /// The point's index.
    pub point: usize,
    /// The point's label (the newest run's).
    pub point_label: String,
    /// The metric.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// The claims judged on this metric at this point (their verdict of record's row).
    pub claims: Vec<String>,
    /// One pooled estimate per commit index (`None`: no run of that commit has it).
    pub values: Vec<Option<MetricEstimate>>,
    /// Its steps.
    pub steps: Vec<steps::Step>,
}

/// One claim's verdict of record over the commits.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClaimHistory {
    /// The scenario's id.
    pub scenario: String,
    /// The claim's id.
    pub claim: String,
    /// Its sentence.
    pub text: String,
    /// Per commit index: the verdict (the most frequent when runs of a commit disagree).
    pub verdicts: Vec<Option<Verdict>>,
    /// Commit indices whose runs disagreed on the verdict.
    pub mixed: Vec<usize>,
}

/// A verdict that changed between consecutive commits that have it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerdictChange {
    /// The scenario's id.
    pub scenario: String,
    /// The claim's id.
    pub claim: String,
    /// The verdict before.
    pub from: Verdict,
    /// The verdict from this commit on.
    pub to: Verdict,
    /// The first commit with the new verdict (index into the commits).
    pub at: usize,
}

/// The whole history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct History {
    /// The commits in order.
    pub commits: Vec<Commit>,
    /// The verdict changes, in commit order.
    pub verdict_changes: Vec<VerdictChange>,
    /// Claims' verdicts over the commits.
    pub claims: Vec<ClaimHistory>,
    /// Every metric series.
    pub series: Vec<Series>,
    /// The noise threshold used (relative).
    pub threshold: f64,
    /// How the history was assembled (ordering, settings that differ).
    pub notes: Vec<String>,
}

/// Builds the history of `runs` (commits ordered with `git`).
pub fn build(runs: &[RunRef], git: &Path, threshold: f64) -> History {
    let (commits, mut notes) = order_commits(runs, git);
    let index: BTreeMap<&str, usize> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    let k = commits.len();
    // scenario -> commit index -> its runs.
    let mut by_scenario: BTreeMap<&str, Vec<Vec<&Summary>>> = BTreeMap::new();
    for r in runs {
        let at = index[commit_key(&r.summary).as_str()];
        by_scenario
            .entry(r.summary.scenario.id.as_str())
            .or_insert_with(|| vec![Vec::new(); k])[at]
            .push(&r.summary);
    }
    let mut series = Vec::new();
    let mut claims = Vec::new();
    for (id, per_commit) in &by_scenario {
        settings_notes(id, per_commit, &mut notes);
        let newest = per_commit.iter().rev().find_map(|v| v.last()).copied();
        claims.extend(claim_histories(id, per_commit));
        // (point, metric) -> per commit estimates.
        let mut keys: BTreeSet<(usize, String)> = BTreeSet::new();
        for s in per_commit.iter().flatten() {
            for p in &s.points {
                keys.extend(p.metrics.keys().map(|m| (p.index, m.clone())));
            }
        }
        for (point, metric) in keys {
            let values: Vec<Option<MetricEstimate>> = per_commit
                .iter()
                .map(|runs| {
                    let ests: Vec<&MetricEstimate> = runs
                        .iter()
                        .filter_map(|s| s.points.iter().find(|p| p.index == point))
                        .filter_map(|p| p.metrics.get(&metric))
                        .collect();
                    pool(&ests)
                })
                .collect();
            let present: Vec<(usize, (f64, f64))> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|e| (i, (e.mean, std_error(e)))))
                .collect();
            let pts: Vec<(f64, f64)> = present.iter().map(|(_, p)| *p).collect();
            let steps = steps::detect(&pts, threshold)
                .into_iter()
                .map(|mut s| {
                    s.at = present[s.at].0;
                    s
                })
                .collect();
            let (point_label, unit, on) = match newest {
                Some(s) => (
                    crate::output::point_label(s, point),
                    values
                        .iter()
                        .flatten()
                        .next()
                        .map(|e| e.unit.clone())
                        .unwrap_or_default(),
                    s.verdicts
                        .iter()
                        .filter(|v| {
                            v.metric == metric
                                && v.rows
                                    .first()
                                    .and_then(|&r| s.claims.get(r))
                                    .is_some_and(|c| c.point == point)
                        })
                        .map(|v| v.id.clone())
                        .collect(),
                ),
                None => (format!("point {point}"), String::new(), Vec::new()),
            };
            series.push(Series {
                scenario: id.to_string(),
                point,
                point_label,
                metric,
                unit,
                claims: on,
                values,
                steps,
            });
        }
    }
    let mut verdict_changes: Vec<VerdictChange> = claims
        .iter()
        .flat_map(|c| {
            let present: Vec<(usize, Verdict)> = c
                .verdicts
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .collect();
            present
                .windows(2)
                .filter(|w| w[0].1 != w[1].1)
                .map(|w| VerdictChange {
                    scenario: c.scenario.clone(),
                    claim: c.claim.clone(),
                    from: w[0].1,
                    to: w[1].1,
                    at: w[1].0,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    verdict_changes.sort_by_key(|v| v.at);
    History {
        commits,
        verdict_changes,
        claims,
        series,
        threshold,
        notes,
    }
}

/// The verdicts of record of one scenario's claims over the commits.
fn claim_histories(id: &str, per_commit: &[Vec<&Summary>]) -> Vec<ClaimHistory> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for s in per_commit.iter().flatten() {
        for v in &s.verdicts {
            if !ids.iter().any(|(i, _)| *i == v.id) {
                ids.push((v.id.clone(), v.text.clone()));
            }
        }
    }
    ids.into_iter()
        .map(|(claim, text)| {
            let mut mixed = Vec::new();
            let verdicts = per_commit
                .iter()
                .enumerate()
                .map(|(i, runs)| {
                    let mut count: BTreeMap<Verdict, usize> = BTreeMap::new();
                    for s in runs {
                        if let Some(v) = s.verdicts.iter().find(|v| v.id == claim) {
                            *count.entry(v.verdict).or_default() += 1;
                        }
                    }
                    if count.len() > 1 {
                        mixed.push(i);
                    }
                    count.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v)
                })
                .collect();
            ClaimHistory {
                scenario: id.to_string(),
                claim,
                text,
                verdicts,
                mixed,
            }
        })
        .collect()
}

/// Notes when one scenario's runs were made differently (quick and full, scenario files that
/// differ): their changes may be the settings', not the code's.
fn settings_notes(id: &str, per_commit: &[Vec<&Summary>], notes: &mut Vec<String>) {
    let all: Vec<&&Summary> = per_commit.iter().flatten().collect();
    let quick: BTreeSet<bool> = all.iter().map(|s| s.provenance.quick).collect();
    if quick.len() > 1 {
        notes.push(format!(
            "{id}: --quick and full runs are mixed in this history"
        ));
    }
    let files: BTreeSet<&str> = all
        .iter()
        .map(|s| s.scenario.file_sha256.as_str())
        .collect();
    if files.len() > 1 {
        notes.push(format!(
            "{id}: the scenario file differs between runs ({} versions)",
            files.len()
        ));
    }
    let sets: BTreeSet<String> = all
        .iter()
        .map(|s| s.provenance.overrides.join(" "))
        .collect();
    if sets.len() > 1 {
        notes.push(format!(
            "{id}: runs used different --set overrides: {}",
            sets.into_iter()
                .map(|s| if s.is_empty() { "none".into() } else { s })
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_two_runs_takes_all_replications() {
        let e = |mean: f64, std: f64| MetricEstimate {
            mean,
            ci95: [mean - 1.0, mean + 1.0],
            std,
            n: 4,
            unit: "s".into(),
        };
        let p = pool(&[&e(1.0, 0.0), &e(3.0, 0.0)]).unwrap();
        assert_eq!(p.n, 8);
        assert!((p.mean - 2.0).abs() < 1e-12);
        // Eight values, four at 1 and four at 3: sample variance 8/7.
        assert!((p.std - (8.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!(p.ci95[0] < 2.0 && p.ci95[1] > 2.0);
    }
}
