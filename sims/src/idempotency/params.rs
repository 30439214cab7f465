//! `IdempotencyParams`: the scenario's `[params]` for `sim = "idempotency"`.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_non_negative, require_positive, require_probability};
use crate::room::Validate;

/// Mobile clients, retry policy, key strategy and server flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyParams {
    /// Logical payments per day. Default 10,000 (article: "thousands daily"). It scales the
    /// per-day metrics (double charges a day, table rows); how many payments are simulated is
    /// `payments_simulated`.
    pub payments_per_day: f64,
    /// Logical payments simulated per replication (how much is simulated, not what: the
    /// per-10k rates do not depend on it, only their intervals). Default 10,000.
    pub payments_simulated: u32,
    /// Probability an attempt's request never reaches the server. Default 0.01 (article 1-5%).
    pub request_loss: f64,
    /// Probability the response is lost after the server committed. Default 0.01 (article).
    pub response_loss: f64,
    /// Probability the payment provider stalls for `stall_s` (the client times out meanwhile).
    pub stall_rate: f64,
    /// Stall duration, s. Default 30.
    pub stall_s: f64,
    /// Client request timeout, s. Default 10.
    pub client_timeout_s: f64,
    /// Attempts before the client gives up (or queues offline). Default 4.
    pub max_attempts: u32,
    /// First retry backoff, s; doubles per retry, full jitter. Default 1.
    pub backoff_base_s: f64,
    /// Probability a client that gave up queues the payment offline and replays it later.
    pub offline_rate: f64,
    /// Offline replay delay, hours. Default 6.
    pub offline_delay_h: f64,
    /// Probability a user taps "pay" twice: a concurrent duplicate within ~100 ms.
    pub double_submit_rate: f64,
    /// Probability a payment is followed by a genuine identical one (same user, amount, merchant).
    pub identical_repeat_rate: f64,
    /// Mean gap before that genuine repeat, s. Default 60.
    pub repeat_gap_s: f64,
    /// How the client builds keys.
    pub key_strategy: KeyStrategy,
    /// Time bucket of the content-hash key, s. Default 300.
    pub hash_bucket_s: f64,
    /// How the server deduplicates.
    pub server_strategy: ServerStrategy,
    /// Server instances behind the load balancer (in-memory dedupe is per instance).
    pub instances: u32,
    /// Server restarts per day (in-memory dedupe is lost; in-flight requests die).
    pub restarts_per_day: f64,
    /// Key TTL, hours; 0 means keys are never deleted.
    pub ttl_h: f64,
    /// Median provider charge latency, ms. Default 300 (assumed).
    pub charge_median_ms: f64,
    /// Lognormal σ of charge latency. Default 0.6 (assumed).
    pub charge_sigma: f64,
    /// One database round trip, ms. Default 2 (assumed).
    pub db_ms: f64,
    /// One-way network latency, ms. Default 50 (assumed, mobile).
    pub network_ms: f64,
    /// Burst mode when > 0: this many concurrent duplicates of one key per trial, no losses
    /// and no retries (what the real kernel measures); the day model when 0.
    pub burst_size: u32,
    /// Burst mode: arrivals spread uniformly over this many ms. Default 1 (assumed; the real
    /// kernel measures it).
    pub burst_spread_ms: f64,
    /// Burst mode: trials per replication. Default 200.
    pub burst_trials: u32,
}

impl Default for IdempotencyParams {
    fn default() -> Self {
        IdempotencyParams {
            payments_per_day: 10_000.0,
            payments_simulated: 10_000,
            request_loss: 0.01,
            response_loss: 0.01,
            stall_rate: 0.005,
            stall_s: 30.0,
            client_timeout_s: 10.0,
            max_attempts: 4,
            backoff_base_s: 1.0,
            offline_rate: 0.0,
            offline_delay_h: 6.0,
            double_submit_rate: 0.002,
            identical_repeat_rate: 0.001,
            repeat_gap_s: 60.0,
            key_strategy: KeyStrategy::UuidPerPayment,
            hash_bucket_s: 300.0,
            server_strategy: ServerStrategy::Article,
            instances: 2,
            restarts_per_day: 1.0,
            ttl_h: 24.0,
            charge_median_ms: 300.0,
            charge_sigma: 0.6,
            db_ms: 2.0,
            network_ms: 50.0,
            burst_size: 0,
            burst_spread_ms: 1.0,
            burst_trials: 200,
        }
    }
}

/// Client key strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStrategy {
    /// No key: every request is new.
    None,
    /// A fresh UUID per attempt (the mistake the article warns about).
    RandomPerAttempt,
    /// One UUID per logical payment, kept across retries and double taps.
    UuidPerPayment,
    /// A hash of user, amount, merchant and a time bucket (the article's recommendation).
    ContentHash,
}

/// Server flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerStrategy {
    /// No deduplication.
    None,
    /// A per-instance in-memory set, lost on restart.
    Memory,
    /// The article's flow: SELECT cached; INSERT ... ON CONFLICT DO NOTHING RETURNING (own
    /// transaction); charge; UPDATE completed.
    Article,
    /// The article's flow plus its `BEGIN; SELECT ... FOR UPDATE; COMMIT;` step.
    ArticleForUpdate,
    /// Claim, charge and complete in one transaction (duplicates wait, then replay).
    OneTransaction,
}

impl Validate for IdempotencyParams {
    /// Range checks.
    fn validate(&self) -> Result<(), ParamsError> {
        require_positive("payments_per_day", self.payments_per_day)?;
        if self.payments_per_day > 1e7 {
            return Err(ParamsError::out_of_range(
                "payments_per_day",
                self.payments_per_day,
                "at most 10 million a day",
            ));
        }
        for (n, v) in [
            ("request_loss", self.request_loss),
            ("response_loss", self.response_loss),
            ("stall_rate", self.stall_rate),
            ("offline_rate", self.offline_rate),
            ("double_submit_rate", self.double_submit_rate),
            ("identical_repeat_rate", self.identical_repeat_rate),
        ] {
            require_probability(n, v)?;
        }
        if self.request_loss + self.response_loss > 0.9 {
            return Err(ParamsError::out_of_range(
                "response_loss",
                self.response_loss,
                "request_loss + response_loss ≤ 0.9",
            ));
        }
        if self.payments_simulated == 0 || self.payments_simulated > 10_000_000 {
            return Err(ParamsError::out_of_range(
                "payments_simulated",
                self.payments_simulated,
                "1 to 10 million payments per replication",
            ));
        }
        require_positive("stall_s", self.stall_s)?;
        require_positive("client_timeout_s", self.client_timeout_s)?;
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(ParamsError::out_of_range(
                "max_attempts",
                self.max_attempts,
                "1 to 100 attempts",
            ));
        }
        require_non_negative("backoff_base_s", self.backoff_base_s)?;
        require_non_negative("offline_delay_h", self.offline_delay_h)?;
        require_positive("repeat_gap_s", self.repeat_gap_s)?;
        require_positive("hash_bucket_s", self.hash_bucket_s)?;
        if self.instances == 0 || self.instances > 1000 {
            return Err(ParamsError::out_of_range(
                "instances",
                self.instances,
                "1 to 1000 instances",
            ));
        }
        require_non_negative("restarts_per_day", self.restarts_per_day)?;
        require_non_negative("ttl_h", self.ttl_h)?;
        require_positive("charge_median_ms", self.charge_median_ms)?;
        require_non_negative("charge_sigma", self.charge_sigma)?;
        require_non_negative("db_ms", self.db_ms)?;
        require_non_negative("network_ms", self.network_ms)?;
        if self.burst_size > 1000 {
            return Err(ParamsError::out_of_range(
                "burst_size",
                self.burst_size,
                "0 (the day model) to 1000 concurrent duplicates",
            ));
        }
        require_non_negative("burst_spread_ms", self.burst_spread_ms)?;
        if self.burst_trials == 0 || self.burst_trials > 100_000 {
            return Err(ParamsError::out_of_range(
                "burst_trials",
                self.burst_trials,
                "1 to 100,000 trials",
            ));
        }
        Ok(())
    }
}
