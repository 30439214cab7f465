//! Simulated experiments: per-look batches of users in each arm, a test at each look, a
//! decision. User-level assignment draws each look's batch exactly in aggregate (the number
//! of converters is Binomial, then one draw per converter), so 200k experiments take seconds;
//! session-level assignment needs per-user histories and simulates users one by one.

use rand::Rng;
use rand_distr::{Binomial, Distribution, LogNormal, Normal, Poisson};

use super::boundaries::{boundaries, z_quantile};
use super::closed_form::{n_per_arm_proportions, n_per_arm_t, rpu_cv};
use super::params::{AbTestingParams, Assignment, DesignName, OutcomeModel, TestedMetric};
use crate::des::{RngStreams, Stream, uniform};
use crate::simulation::Outcome;

/// One variant as the simulation sees it.
struct Arm {
    conversion: f64,
    /// Mean amount a converter pays.
    pay: f64,
    /// Per-user mean and SD of the tested metric.
    mean: f64,
    sd: f64,
}

/// Running sums of one arm in one experiment.
#[derive(Default, Clone, Copy)]
struct Sums {
    n: f64,
    sum: f64,
    sumsq: f64,
    converters: f64,
    revenue: f64,
}

impl Sums {
    fn mean(&self) -> f64 {
        if self.n > 0.0 { self.sum / self.n } else { 0.0 }
    }
    fn var(&self) -> f64 {
        if self.n < 2.0 {
            return 0.0;
        }
        ((self.sumsq - self.sum * self.sum / self.n) / (self.n - 1.0)).max(0.0)
    }
}

struct Experiment<'a> {
    p: &'a AbTestingParams,
    arms: [Arm; 2],
    bounds: Vec<f64>,
    /// |statistic| at or above this stops the Bayesian rule.
    z_crit: f64,
    unit_lognormal: Option<LogNormal<f64>>,
    /// Whether converters can pay for more than one period.
    renews: bool,
}

/// What one experiment decided.
struct Decision {
    /// +1 (B better), −1 (A better), 0 (no difference declared).
    sign: i8,
    users_used: f64,
    sums: [Sums; 2],
}

impl<'a> Experiment<'a> {
    fn new(p: &'a AbTestingParams) -> Experiment<'a> {
        let sigma2 = (1.0 + p.price_cv * p.price_cv).ln();
        let unit_lognormal = (p.price_cv > 0.0)
            .then(|| LogNormal::new(-sigma2 / 2.0, sigma2.sqrt()).expect("validated price_cv"));
        let (ek, ek2) = (p.expected_periods(), p.expected_periods_sq());
        let arm = |conversion: f64, discount: f64| {
            let pay = p.price * (1.0 - discount);
            let (mean, sd) = match p.metric {
                TestedMetric::Rpu => {
                    let mean = conversion * pay * ek;
                    let ex2 = conversion * pay * pay * (1.0 + p.price_cv * p.price_cv) * ek2;
                    (mean, (ex2 - mean * mean).max(0.0).sqrt())
                }
                TestedMetric::Conversion => (conversion, (conversion * (1.0 - conversion)).sqrt()),
            };
            Arm {
                conversion,
                pay,
                mean,
                sd,
            }
        };
        let k = p.looks;
        let bounds = match p.design.design() {
            Some(d) => boundaries(d, k, p.alpha),
            None => vec![z_quantile(1.0 - p.alpha / 2.0); k as usize],
        };
        Experiment {
            p,
            arms: [
                arm(p.conversion_a, p.discount_a),
                arm(p.conversion_b, p.discount_b),
            ],
            bounds,
            z_crit: z_quantile(1.0 - p.alpha / 2.0),
            unit_lognormal,
            renews: p.ltv_periods > 1 && p.renewal_rate > 0.0,
        }
    }

    /// Draws `n` more users of arm `i` into `s` (user-level assignment).
    fn add_users(&self, i: usize, n: u64, s: &mut Sums, rng: &mut Stream) {
        let a = &self.arms[i];
        let nf = n as f64;
        s.n += nf;
        if self.p.outcome == OutcomeModel::Normal {
            let batch = Normal::new(nf * a.mean, nf.sqrt() * a.sd).expect("finite moments");
            let x = batch.sample(rng);
            s.sum += x;
            s.revenue += x;
            return;
        }
        let c = Binomial::new(n, a.conversion)
            .expect("validated probability")
            .sample(rng);
        s.converters += c as f64;
        let mut revenue = 0.0;
        let mut revenue_sq = 0.0;
        if self.unit_lognormal.is_none() && !self.renews {
            revenue = c as f64 * a.pay;
            revenue_sq = c as f64 * a.pay * a.pay;
        } else {
            for _ in 0..c {
                let x = self.amount(a.pay, rng);
                revenue += x;
                revenue_sq += x * x;
            }
        }
        s.revenue += revenue;
        match self.p.metric {
            TestedMetric::Rpu => {
                s.sum += revenue;
                s.sumsq += revenue_sq;
            }
            TestedMetric::Conversion => {
                s.sum += c as f64;
                s.sumsq += c as f64;
            }
        }
    }

    /// What one converter pays over the LTV horizon: the price, times a lognormal factor,
    /// times the periods they stay (each renewal with probability `renewal_rate`).
    fn amount(&self, pay: f64, rng: &mut Stream) -> f64 {
        let factor = self.unit_lognormal.as_ref().map_or(1.0, |l| l.sample(rng));
        let mut periods = 1u32;
        while periods < self.p.ltv_periods && uniform(rng) < self.p.renewal_rate {
            periods += 1;
        }
        pay * factor * periods as f64
    }

    /// The test statistic for B − A at the current sums.
    fn statistic(&self, s: &[Sums; 2]) -> f64 {
        let (va, vb) = match self.p.outcome {
            OutcomeModel::Normal => (self.arms[0].sd.powi(2), self.arms[1].sd.powi(2)),
            OutcomeModel::Users => (s[0].var(), s[1].var()),
        };
        let se = (va / s[0].n + vb / s[1].n).sqrt();
        if se <= 0.0 || !se.is_finite() {
            return 0.0;
        }
        let z = (s[1].mean() - s[0].mean()) / se;
        match (self.p.design, self.p.prior_sd) {
            (DesignName::Bayes, Some(tau_rel)) => {
                // Normal prior N(0, τ²) on the difference, normal likelihood: the posterior
                // mean over its SD is z·√(τ²/(τ² + se²)).
                let tau = tau_rel * s[0].mean().abs();
                if tau <= 0.0 {
                    return 0.0;
                }
                z * (tau * tau / (tau * tau + se * se)).sqrt()
            }
            _ => z,
        }
    }

    fn threshold(&self, look: usize) -> f64 {
        if self.p.design == DesignName::Bayes {
            self.z_crit
        } else {
            self.bounds[look]
        }
    }

    /// Runs one experiment with user-level assignment and `users_per_arm` users per arm.
    fn run_user_level(&self, users_per_arm: u64, rng: &mut Stream) -> Decision {
        let k = self.p.looks as u64;
        let mut s = [Sums::default(); 2];
        let mut done: u64 = 0;
        for look in 0..k as usize {
            let target = users_per_arm * (look as u64 + 1) / k;
            let batch = target - done;
            done = target;
            self.add_users(0, batch, &mut s[0], rng);
            self.add_users(1, batch, &mut s[1], rng);
            let b = self.threshold(look);
            if b.is_finite() {
                let z = self.statistic(&s);
                if z.abs() >= b {
                    return Decision {
                        sign: if z > 0.0 { 1 } else { -1 },
                        users_used: done as f64 / users_per_arm as f64,
                        sums: s,
                    };
                }
            }
        }
        Decision {
            sign: 0,
            users_used: 1.0,
            sums: s,
        }
    }

    /// Runs one experiment with session-level assignment: 2·users_per_arm users, each with
    /// 1 + Poisson(sessions − 1) sessions, each session randomised. A user who saw B's offer
    /// in any session behaves as a B user (converts at B's rate, pays B's price: the discount
    /// sticks), and buys in one of their sessions, which is credited to that session's arm.
    /// Sessions are the analysis unit, as a session-level pipeline counts them.
    fn run_session_level(&self, rng: &mut Stream) -> Decision {
        let users = 2 * self.p.users_per_arm;
        let extra = (self.p.sessions_per_user > 1.0)
            .then(|| Poisson::new(self.p.sessions_per_user - 1.0).expect("validated mean"));
        let k = self.p.looks as u64;
        let mut s = [Sums::default(); 2];
        let mut variants: Vec<usize> = Vec::new();
        let mut next_look = 0usize;
        for u in 0..users {
            let sessions = 1 + extra.as_ref().map_or(0, |d| d.sample(rng) as usize);
            variants.clear();
            variants.extend((0..sessions).map(|_| (rng.next_u64() >> 63) as usize));
            // The offer sticks: a user who saw B once behaves as a B user (waits for the
            // discount) wherever they end up buying.
            let behaves_as = if variants.contains(&1) { 1 } else { 0 };
            let buys = uniform(rng) < self.arms[behaves_as].conversion;
            let buy_at = if buys {
                ((rng.next_u64() as u128 * sessions as u128) >> 64) as usize
            } else {
                usize::MAX
            };
            for (j, &v) in variants.iter().enumerate() {
                let sums = &mut s[v];
                sums.n += 1.0;
                if j == buy_at {
                    let amount = self.amount(self.arms[behaves_as].pay, rng);
                    sums.converters += 1.0;
                    sums.revenue += amount;
                    let x = match self.p.metric {
                        TestedMetric::Rpu => amount,
                        TestedMetric::Conversion => 1.0,
                    };
                    sums.sum += x;
                    sums.sumsq += x * x;
                }
            }
            let boundary_users = users * (next_look as u64 + 1) / k;
            if u + 1 == boundary_users {
                let b = self.threshold(next_look);
                next_look += 1;
                if b.is_finite() && s[0].n >= 2.0 && s[1].n >= 2.0 {
                    let z = self.statistic(&s);
                    if z.abs() >= b {
                        return Decision {
                            sign: if z > 0.0 { 1 } else { -1 },
                            users_used: (u + 1) as f64 / users as f64,
                            sums: s,
                        };
                    }
                }
            }
        }
        Decision {
            sign: 0,
            users_used: 1.0,
            sums: s,
        }
    }
}

/// CV of revenue per user in arm A, renewals included: E[X²]/E[X]² − 1 with
/// E[X] = p·pay·E[K] and E[X²] = p·pay²·(1 + cv²)·E[K²].
fn rpu_cv_with_renewals(p: &AbTestingParams) -> f64 {
    if p.ltv_periods == 1 || p.renewal_rate == 0.0 {
        return rpu_cv(p.conversion_a, p.price_cv);
    }
    let (ek, ek2) = (p.expected_periods(), p.expected_periods_sq());
    let ratio = (1.0 + p.price_cv * p.price_cv) * ek2 / (p.conversion_a * ek * ek);
    (ratio - 1.0).max(0.0).sqrt()
}

/// Runs one replication: `experiments` experiments, and the closed-form companions.
pub(super) fn run(p: &AbTestingParams, streams: &RngStreams) -> Outcome {
    let exp = Experiment::new(p);
    let mut rng = streams.stream("users");
    let truth: i8 = {
        let d = exp.arms[1].mean - exp.arms[0].mean;
        if d > 0.0 {
            1
        } else if d < 0.0 {
            -1
        } else {
            0
        }
    };
    let mut rejected = 0u64;
    let mut correct = 0u64;
    let mut users_used = 0.0;
    let mut totals = [Sums::default(); 2];
    for _ in 0..p.experiments {
        let d = match p.assignment {
            Assignment::User => exp.run_user_level(p.users_per_arm, &mut rng),
            Assignment::Session => exp.run_session_level(&mut rng),
        };
        // Under H1 power counts rejections in the right direction only; under H0 any
        // rejection is a false positive.
        if (truth == 0 && d.sign != 0) || (truth != 0 && d.sign == truth) {
            rejected += 1;
        }
        if d.sign == truth {
            correct += 1;
        }
        users_used += d.users_used;
        for (t, s) in totals.iter_mut().zip(d.sums) {
            t.n += s.n;
            t.revenue += s.revenue;
            t.converters += s.converters;
        }
    }
    let m = p.experiments as f64;
    let mut out = Outcome::default();
    let reject_rate = rejected as f64 / m;
    let experiments = u64::from(p.experiments);
    if truth == 0 {
        out.set_proportion("false_positive_rate", rejected, experiments);
    } else {
        out.set_proportion("power", rejected, experiments);
    }
    out.set_proportion("decision_correct_rate", correct, experiments);
    out.set("users_used_fraction", users_used / m);
    let rpu = |s: &Sums| if s.n > 0.0 { s.revenue / s.n } else { 0.0 };
    if p.outcome == OutcomeModel::Users {
        out.set("rpu_a", rpu(&totals[0]));
        out.set("rpu_b", rpu(&totals[1]));
        if rpu(&totals[0]) > 0.0 {
            out.set("rpu_lift", rpu(&totals[1]) / rpu(&totals[0]) - 1.0);
        }
        // Users and buyers are whole counts carried as f64 sums.
        let conv = |name: &str, s: &Sums, out: &mut Outcome| {
            out.set_proportion(name, s.converters.round() as u64, s.n.round() as u64)
        };
        conv("conversion_a", &totals[0], &mut out);
        conv("conversion_b", &totals[1], &mut out);
    }

    // The calculator's answer for this scenario's planning inputs.
    let n = match p.metric {
        TestedMetric::Rpu => {
            let cv = p.mde_cv.unwrap_or_else(|| rpu_cv_with_renewals(p));
            n_per_arm_t(cv, p.mde_lift, p.alpha, p.target_power)
        }
        TestedMetric::Conversion => n_per_arm_proportions(
            p.conversion_a,
            (p.conversion_a * (1.0 + p.mde_lift)).min(1.0),
            p.alpha,
            p.target_power,
        ),
    };
    out.set("n_per_arm", n);
    out.set("rpu_cv_a", rpu_cv_with_renewals(p));
    for (i, b) in exp.bounds.iter().enumerate() {
        // A fixed design's earlier looks have no boundary (infinite): only its last is shown.
        if b.is_finite() {
            out.set(format!("boundary_look{}", i + 1), exp.threshold(i));
        }
    }

    if p.compare_half_sample && truth != 0 {
        let half = (p.users_per_arm / 2).max(p.looks as u64 * 2);
        let mut rng = streams.stream("half-sample");
        let user_level = Experiment::new(p);
        let wins = (0..p.experiments)
            .filter(|_| user_level.run_user_level(half, &mut rng).sign == truth)
            .count();
        let half_power = wins as f64 / m;
        out.set_proportion("power_half_sample_user_level", wins as u64, experiments);
        out.set("power_gap_vs_half_sample", reject_rate - half_power);
    }
    out
}
