//! `AbTestingParams`: the scenario's `[params]` for `sim = "ab_testing"`.

use serde::{Deserialize, Serialize};

use super::boundaries::Design;
use crate::params::{ParamsError, require_non_negative, require_positive, require_probability};
use crate::room::Validate;

/// Two paywall variants, the experiment that compares them, and the test it uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AbTestingParams {
    /// Share of exposed users who buy in arm A. Default 0.032 (article's table, variant A).
    pub conversion_a: f64,
    /// Share who buy in arm B. Default 0.032 (no true difference).
    pub conversion_b: f64,
    /// What a converter pays before discount, $. Default 60 (article: $1.92 RPU / 3.2%).
    pub price: f64,
    /// Discount in arm A, 0..1. Default 0.
    pub discount_a: f64,
    /// Discount in arm B, 0..1. Default 0.
    pub discount_b: f64,
    /// Coefficient of variation of what converters pay (plan mix, renewals): lognormal with
    /// σ² = ln(1 + cv²). Default 0 (one price).
    pub price_cv: f64,
    /// Probability that a subscriber renews at the end of each period. Default 0.
    pub renewal_rate: f64,
    /// Periods of revenue counted per converter (LTV horizon; 1 = first payment only).
    pub ltv_periods: u32,
    /// The metric the test compares: revenue per user or conversion. Default RPU.
    pub metric: TestedMetric,
    /// How outcomes are generated. Default per-user draws.
    pub outcome: OutcomeModel,
    /// Users per arm at the final look. Default 10,000.
    pub users_per_arm: u64,
    /// Equally spaced analyses (the last at `users_per_arm`). Default 1.
    pub looks: u32,
    /// Stopping rule. Default fixed horizon.
    pub design: DesignName,
    /// Two-sided significance level. Default 0.05.
    pub alpha: f64,
    /// Bayesian rule only: prior SD of the true difference as a fraction of A's mean
    /// (a sceptical prior centred on zero); none = flat prior.
    pub prior_sd: Option<f64>,
    /// Unit of randomisation. Default user (persisted, as the article recommends).
    pub assignment: Assignment,
    /// Mean sessions per user (≥ 1; 1 + Poisson extra). Matters for session assignment.
    pub sessions_per_user: f64,
    /// Simulated experiments per replication. Default 2,000.
    pub experiments: u32,
    /// Calculator: relative lift to detect. Default 0.10 (article).
    pub mde_lift: f64,
    /// Calculator: coefficient of variation of the metric; none = implied by arm A.
    pub mde_cv: Option<f64>,
    /// Calculator: power target. Default 0.8 (article).
    pub target_power: f64,
    /// Also simulate user-level assignment with half the users, for comparison.
    pub compare_half_sample: bool,
}

impl Default for AbTestingParams {
    fn default() -> Self {
        AbTestingParams {
            conversion_a: 0.032,
            conversion_b: 0.032,
            price: 60.0,
            discount_a: 0.0,
            discount_b: 0.0,
            price_cv: 0.0,
            renewal_rate: 0.0,
            ltv_periods: 1,
            metric: TestedMetric::Rpu,
            outcome: OutcomeModel::Users,
            users_per_arm: 10_000,
            looks: 1,
            design: DesignName::Fixed,
            alpha: 0.05,
            prior_sd: None,
            assignment: Assignment::User,
            sessions_per_user: 1.0,
            experiments: 2_000,
            mde_lift: 0.10,
            mde_cv: None,
            target_power: 0.8,
            compare_half_sample: false,
        }
    }
}

/// The tested metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestedMetric {
    /// Revenue per exposed user, non-converters included.
    Rpu,
    /// Conversion rate.
    Conversion,
}

/// Outcome generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeModel {
    /// Each user converts (Bernoulli) and pays a (lognormal) amount; Welch z with estimated
    /// variances.
    Users,
    /// Gaussian increments with the users' mean and variance, tested with the known variance:
    /// the Brownian-motion model behind the published repeated-testing tables.
    Normal,
}

/// Unit of randomisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// A user keeps one variant in every session.
    User,
    /// Each session is randomised; returning users can see both variants.
    Session,
}

/// Stopping rule names in scenario files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesignName {
    /// One analysis at the end.
    Fixed,
    /// A nominal-α test at every look.
    Peeking,
    /// Pocock's constant boundary.
    Pocock,
    /// O'Brien-Fleming.
    Obf,
    /// Lan-DeMets O'Brien-Fleming-type α spending (per-side convention).
    LdObf,
    /// Stop when the 95% posterior credible interval of B − A excludes 0, at every look.
    Bayes,
}

impl DesignName {
    /// The frequentist boundary family (`None` for the Bayesian rule).
    pub fn design(self) -> Option<Design> {
        match self {
            DesignName::Fixed => Some(Design::Fixed),
            DesignName::Peeking => Some(Design::Peeking),
            DesignName::Pocock => Some(Design::Pocock),
            DesignName::Obf => Some(Design::Obf),
            DesignName::LdObf => Some(Design::LdObf),
            DesignName::Bayes => None,
        }
    }
}

/// Looks above this make boundary searches slow and nobody peeks more often.
const MAX_LOOKS: u32 = 200;

impl AbTestingParams {
    /// Expected periods paid by a converter: 1 + r + r² + … over `ltv_periods` terms.
    pub fn expected_periods(&self) -> f64 {
        (0..self.ltv_periods)
            .map(|k| self.renewal_rate.powi(k as i32))
            .sum()
    }

    /// E[periods²], for the revenue variance.
    pub fn expected_periods_sq(&self) -> f64 {
        // P(K = k) = r^(k−1)(1 − r) for k < n, and r^(n−1) for k = n.
        let (r, n) = (self.renewal_rate, self.ltv_periods);
        (1..=n)
            .map(|k| {
                let pk = if k < n {
                    r.powi(k as i32 - 1) * (1.0 - r)
                } else {
                    r.powi(n as i32 - 1)
                };
                pk * (k * k) as f64
            })
            .sum()
    }
}

impl Validate for AbTestingParams {
    /// Range checks serde cannot express.
    fn validate(&self) -> Result<(), ParamsError> {
        require_probability("conversion_a", self.conversion_a)?;
        require_probability("conversion_b", self.conversion_b)?;
        require_non_negative("price", self.price)?;
        require_probability("discount_a", self.discount_a)?;
        require_probability("discount_b", self.discount_b)?;
        require_non_negative("price_cv", self.price_cv)?;
        if self.price_cv > 1e6 {
            return Err(ParamsError::out_of_range(
                "price_cv",
                self.price_cv,
                "a coefficient of variation ≤ 1e6",
            ));
        }
        require_probability("renewal_rate", self.renewal_rate)?;
        if self.ltv_periods == 0 || self.ltv_periods > 1000 {
            return Err(ParamsError::out_of_range(
                "ltv_periods",
                self.ltv_periods,
                "1 to 1000 periods",
            ));
        }
        if self.users_per_arm < 2 {
            return Err(ParamsError::out_of_range(
                "users_per_arm",
                self.users_per_arm,
                "at least 2 users per arm",
            ));
        }
        if self.looks == 0 || self.looks > MAX_LOOKS {
            return Err(ParamsError::out_of_range(
                "looks",
                self.looks,
                "1 to 200 looks",
            ));
        }
        if self.users_per_arm < self.looks as u64 * 2 {
            return Err(ParamsError::out_of_range(
                "users_per_arm",
                self.users_per_arm,
                "at least 2 users per arm per look",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(ParamsError::out_of_range(
                "alpha",
                self.alpha,
                "0 < alpha < 1",
            ));
        }
        if let Some(s) = self.prior_sd {
            require_positive("prior_sd", s)?;
        }
        if !(self.sessions_per_user.is_finite() && (1.0..=1000.0).contains(&self.sessions_per_user))
        {
            return Err(ParamsError::out_of_range(
                "sessions_per_user",
                self.sessions_per_user,
                "a mean of 1 to 1000 sessions",
            ));
        }
        if self.experiments == 0 {
            return Err(ParamsError::out_of_range(
                "experiments",
                0,
                "at least 1 experiment per replication",
            ));
        }
        if !(self.mde_lift.is_finite() && self.mde_lift != 0.0 && self.mde_lift > -1.0) {
            return Err(ParamsError::out_of_range(
                "mde_lift",
                self.mde_lift,
                "a non-zero relative lift > -1",
            ));
        }
        if let Some(cv) = self.mde_cv {
            require_positive("mde_cv", cv)?;
        }
        if !(self.target_power > 0.0 && self.target_power < 1.0) {
            return Err(ParamsError::out_of_range(
                "target_power",
                self.target_power,
                "0 < power < 1",
            ));
        }
        Ok(())
    }
}
