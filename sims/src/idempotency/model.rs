//! One day of payments. Each logical payment (and the genuine identical payment that may
//! follow it) is simulated on its own small event timeline: payments interact only through
//! their keys, and keys are per payment except where the key strategy merges them.

use std::collections::HashMap;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use super::params::{IdempotencyParams, KeyStrategy, ServerStrategy};
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime, Stream, uniform};
use crate::simulation::Outcome;
use crate::stats::LatencyHistogram;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Charged,
    Replay,
    Conflict,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Send {
        payment: usize,
    },
    Arrive {
        req: usize,
    },
    Claim {
        req: usize,
    },
    ChargeDone {
        req: usize,
    },
    /// The server sends its answer (it may be lost on the way).
    Respond {
        req: usize,
        code: Code,
    },
    /// The answer reaches the client.
    Deliver {
        req: usize,
        code: Code,
    },
    Timeout {
        req: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyStatus {
    /// Claimed; `open_tx` while the one-transaction flow still holds its transaction.
    Processing {
        open_tx: bool,
    },
    Completed,
}

struct KeyState {
    status: KeyStatus,
    created: SimTime,
    /// One-transaction flow: requests blocked on the uncommitted key.
    waiters: Vec<usize>,
}

struct Req {
    payment: usize,
    key: u64,
    instance: u32,
    /// Server epoch (restart count) when processing began.
    epoch: u32,
    timed_out: bool,
    answered: bool,
}

#[derive(Default)]
struct Payment {
    first_sent: Option<SimTime>,
    attempts: u32,
    series_attempts: u32,
    offline_used: bool,
    charges: u32,
    done: bool,
    failed: bool,
    genuine_repeat: bool,
}

/// Per-day counters.
#[derive(Default)]
struct Counts {
    payments: u64,
    extra_charges: u64,
    false_dedupes: u64,
    conflicts: u64,
    wrong_answers: u64,
    replays: u64,
    failed: u64,
    keys_stored: u64,
}

struct Group<'a> {
    p: &'a IdempotencyParams,
    rng: &'a mut Stream,
    sched: Scheduler<Ev>,
    payments: Vec<Payment>,
    reqs: Vec<Req>,
    keys: HashMap<u64, KeyState>,
    memory: Vec<HashMap<u64, KeyStatus>>,
    epoch: u32,
    next_restart: SimTime,
    restart_gap: Option<Exp<f64>>,
    charge: LogNormal<f64>,
    /// Key of each payment (UUID per payment, or content hash).
    payment_key: Vec<u64>,
    latency: &'a mut LatencyHistogram,
    counts: &'a mut Counts,
}

fn secs(s: f64) -> SimDuration {
    SimDuration::from_secs_f64(s)
}

impl Group<'_> {
    fn unit(&mut self) -> f64 {
        uniform(self.rng)
    }

    fn net(&self) -> SimDuration {
        secs(self.p.network_ms / 1000.0)
    }

    fn db(&self) -> SimDuration {
        secs(self.p.db_ms / 1000.0)
    }

    fn charge_time(&mut self) -> SimDuration {
        if self.unit() < self.p.stall_rate {
            secs(self.p.stall_s)
        } else {
            secs(self.charge.sample(self.rng) / 1000.0)
        }
    }

    fn key_valid(&self, k: &KeyState, now: SimTime) -> bool {
        self.p.ttl_h == 0.0 || now.since(k.created) < secs(self.p.ttl_h * 3600.0)
    }

    /// Restarts that happened by `now`: in-memory sets are lost, in-flight handlers die.
    fn apply_restarts(&mut self, now: SimTime) {
        let Some(gap) = self.restart_gap else { return };
        while self.next_restart <= now {
            self.epoch += 1;
            for m in &mut self.memory {
                m.clear();
            }
            let g = gap.sample(self.rng);
            self.next_restart += secs(g);
        }
    }

    fn send(&mut self, payment: usize) {
        let now = self.sched.now();
        let p = &mut self.payments[payment];
        if p.done || p.failed {
            return;
        }
        p.first_sent.get_or_insert(now);
        p.attempts += 1;
        p.series_attempts += 1;
        let key = match self.p.key_strategy {
            KeyStrategy::None | KeyStrategy::RandomPerAttempt => self.rng.next_u64(),
            KeyStrategy::UuidPerPayment | KeyStrategy::ContentHash => self.payment_key[payment],
        };
        let instance = (self.rng.next_u64() % self.p.instances as u64) as u32;
        let req = self.reqs.len();
        self.reqs.push(Req {
            payment,
            key,
            instance,
            epoch: self.epoch,
            timed_out: false,
            answered: false,
        });
        if self.unit() >= self.p.request_loss {
            let net = self.net();
            self.sched.schedule_in(net, Ev::Arrive { req });
        }
        self.sched
            .schedule_in(secs(self.p.client_timeout_s), Ev::Timeout { req });
    }

    fn respond(&mut self, req: usize, code: Code, after: SimDuration) {
        if code == Code::Replay {
            self.counts.replays += 1;
        }
        self.sched.schedule_in(after, Ev::Respond { req, code });
    }

    fn start_charge(&mut self, req: usize, after: SimDuration) {
        self.reqs[req].epoch = self.epoch;
        let t = after + self.charge_time();
        self.sched.schedule_in(t, Ev::ChargeDone { req });
    }

    fn arrive(&mut self, req: usize) {
        let now = self.sched.now();
        let key = self.reqs[req].key;
        let db = self.db();
        match self.p.server_strategy {
            ServerStrategy::None => self.start_charge(req, SimDuration::ZERO),
            ServerStrategy::Memory => {
                let inst = self.reqs[req].instance as usize;
                match self.memory[inst].get(&key).copied() {
                    Some(KeyStatus::Completed) => {
                        self.respond(req, Code::Replay, SimDuration::ZERO)
                    }
                    Some(KeyStatus::Processing { .. }) => {
                        self.conflict(req, false, SimDuration::ZERO)
                    }
                    None => {
                        self.memory[inst].insert(key, KeyStatus::Processing { open_tx: false });
                        self.start_charge(req, SimDuration::ZERO);
                    }
                }
            }
            ServerStrategy::Article | ServerStrategy::ArticleForUpdate => {
                // The "cached?" SELECT, then the claim in its own transaction.
                let completed = self
                    .keys
                    .get(&key)
                    .is_some_and(|k| self.key_valid(k, now) && k.status == KeyStatus::Completed);
                if completed {
                    self.respond(req, Code::Replay, db);
                } else {
                    self.sched.schedule_in(db, Ev::Claim { req });
                }
            }
            ServerStrategy::OneTransaction => {
                let state = self
                    .keys
                    .get(&key)
                    .filter(|k| self.key_valid(k, now))
                    .map(|k| k.status);
                match state {
                    None => {
                        self.keys.insert(
                            key,
                            KeyState {
                                status: KeyStatus::Processing { open_tx: true },
                                created: now,
                                waiters: Vec::new(),
                            },
                        );
                        self.counts.keys_stored += 1;
                        self.start_charge(req, db);
                    }
                    Some(KeyStatus::Processing { open_tx: true }) => {
                        // The speculative insert waits on the uncommitted unique-index entry.
                        self.keys.get_mut(&key).expect("present").waiters.push(req);
                    }
                    Some(KeyStatus::Completed) => self.respond(req, Code::Replay, db),
                    Some(KeyStatus::Processing { open_tx: false }) => self.conflict(req, false, db),
                }
            }
        }
    }

    fn claim(&mut self, req: usize) {
        let now = self.sched.now();
        let key = self.reqs[req].key;
        let db = self.db();
        let existing = self
            .keys
            .get(&key)
            .filter(|k| self.key_valid(k, now))
            .map(|k| k.status);
        match existing {
            None => {
                self.keys.insert(
                    key,
                    KeyState {
                        status: KeyStatus::Processing { open_tx: false },
                        created: now,
                        waiters: Vec::new(),
                    },
                );
                self.counts.keys_stored += 1;
                // FOR UPDATE in its own transaction adds a round trip and protects nothing.
                let extra = if self.p.server_strategy == ServerStrategy::ArticleForUpdate {
                    db + db
                } else {
                    SimDuration::ZERO
                };
                self.start_charge(req, db + extra);
            }
            // The race the first SELECT leaves open: completed by now, yet answered 409.
            Some(KeyStatus::Completed) => self.conflict(req, true, db),
            Some(KeyStatus::Processing { .. }) => self.conflict(req, false, db),
        }
    }

    fn conflict(&mut self, req: usize, wrong: bool, after: SimDuration) {
        self.counts.conflicts += 1;
        if wrong {
            self.counts.wrong_answers += 1;
        }
        self.respond(req, Code::Conflict, after);
    }

    fn charge_done(&mut self, req: usize) {
        let crashed = self.reqs[req].epoch != self.epoch;
        let payment = self.reqs[req].payment;
        let key = self.reqs[req].key;
        // The provider charged: the server may have died before recording it.
        self.payments[payment].charges += 1;
        let db = self.db();
        match self.p.server_strategy {
            ServerStrategy::None => {
                if !crashed {
                    self.respond(req, Code::Charged, SimDuration::ZERO);
                }
            }
            ServerStrategy::Memory => {
                if !crashed {
                    let inst = self.reqs[req].instance as usize;
                    self.memory[inst].insert(key, KeyStatus::Completed);
                    self.respond(req, Code::Charged, SimDuration::ZERO);
                }
            }
            ServerStrategy::Article | ServerStrategy::ArticleForUpdate => {
                // A crash here leaves the key `processing` until the TTL: retries get 409.
                if !crashed {
                    if let Some(k) = self.keys.get_mut(&key) {
                        k.status = KeyStatus::Completed;
                    }
                    self.respond(req, Code::Charged, db);
                }
            }
            ServerStrategy::OneTransaction => {
                let waiters = self
                    .keys
                    .get_mut(&key)
                    .map(|k| std::mem::take(&mut k.waiters))
                    .unwrap_or_default();
                if crashed {
                    // Rolled back: the key vanishes although the provider charged; the first
                    // waiter claims it and charges again.
                    self.keys.remove(&key);
                    for w in waiters {
                        self.arrive(w);
                    }
                } else {
                    if let Some(k) = self.keys.get_mut(&key) {
                        k.status = KeyStatus::Completed;
                    }
                    self.respond(req, Code::Charged, db);
                    for w in waiters {
                        self.respond(w, Code::Replay, db + db);
                    }
                }
            }
        }
    }

    fn received(&mut self, req: usize, code: Code) {
        let now = self.sched.now();
        let r = &mut self.reqs[req];
        if r.timed_out || r.answered {
            return;
        }
        r.answered = true;
        let payment = r.payment;
        if self.payments[payment].done || self.payments[payment].failed {
            return;
        }
        match code {
            Code::Charged | Code::Replay => {
                let p = &mut self.payments[payment];
                p.done = true;
                let started = p.first_sent.unwrap_or(now);
                self.latency.record(now.since(started));
            }
            Code::Conflict => self.retry(payment),
        }
    }

    fn retry(&mut self, payment: usize) {
        let p = &self.payments[payment];
        if p.done || p.failed {
            return;
        }
        if p.series_attempts < self.p.max_attempts {
            let n = p.series_attempts;
            let cap = self.p.backoff_base_s * 2f64.powi(n as i32 - 1);
            let wait = self.unit() * cap;
            self.sched.schedule_in(secs(wait), Ev::Send { payment });
        } else if !p.offline_used && self.unit() < self.p.offline_rate {
            let p = &mut self.payments[payment];
            p.offline_used = true;
            p.series_attempts = 0;
            self.sched
                .schedule_in(secs(self.p.offline_delay_h * 3600.0), Ev::Send { payment });
        } else {
            self.payments[payment].failed = true;
        }
    }

    /// Runs the group's events until none are left or `until` passes.
    fn drain(&mut self, until: SimTime) {
        while let Some((now, ev)) = self.sched.pop() {
            self.apply_restarts(now);
            match ev {
                Ev::Send { payment } => self.send(payment),
                Ev::Arrive { req } => self.arrive(req),
                Ev::Claim { req } => self.claim(req),
                Ev::ChargeDone { req } => self.charge_done(req),
                Ev::Respond { req, code } => {
                    if self.unit() >= self.p.response_loss {
                        let net = self.net();
                        self.sched.schedule_in(net, Ev::Deliver { req, code });
                    }
                }
                Ev::Deliver { req, code } => self.received(req, code),
                Ev::Timeout { req } => self.timeout(req),
            }
            if now > until {
                break;
            }
        }
    }

    fn timeout(&mut self, req: usize) {
        let r = &mut self.reqs[req];
        if r.answered {
            return;
        }
        r.timed_out = true;
        let payment = r.payment;
        self.retry(payment);
    }
}

/// Runs one replication: a day of payments, or bursts of concurrent duplicates.
pub(super) fn run(p: &IdempotencyParams, streams: &RngStreams) -> Outcome {
    if p.burst_size > 0 {
        bursts(p, streams)
    } else {
        day(p, streams)
    }
}

fn charge_dist(p: &IdempotencyParams) -> LogNormal<f64> {
    LogNormal::new(p.charge_median_ms.ln(), p.charge_sigma.max(1e-12)).expect("validated")
}

/// What the real kernel measures: `burst_size` requests with one key, arriving within
/// `burst_spread_ms`, no losses, no retries; answers and charges per key.
fn bursts(p: &IdempotencyParams, streams: &RngStreams) -> Outcome {
    let mut rng = streams.stream("bursts");
    let mut latency = LatencyHistogram::new();
    let mut counts = Counts::default();
    let quiet = IdempotencyParams {
        request_loss: 0.0,
        response_loss: 0.0,
        stall_rate: 0.0,
        max_attempts: 1,
        offline_rate: 0.0,
        restarts_per_day: 0.0,
        key_strategy: KeyStrategy::UuidPerPayment,
        instances: 1,
        ..p.clone()
    };
    let n = p.burst_size as usize;
    let mut charges = 0u64;
    for _ in 0..p.burst_trials {
        let key = rng.next_u64();
        let mut g = Group {
            p: &quiet,
            rng: &mut rng,
            sched: Scheduler::with_capacity(8 * n),
            payments: (0..n).map(|_| Payment::default()).collect(),
            reqs: Vec::new(),
            keys: HashMap::new(),
            memory: vec![HashMap::new()],
            epoch: 0,
            next_restart: SimTime(u64::MAX),
            restart_gap: None,
            charge: charge_dist(&quiet),
            payment_key: vec![key; n],
            latency: &mut latency,
            counts: &mut counts,
        };
        for payment in 0..n {
            let at = secs(g.unit() * p.burst_spread_ms / 1000.0);
            g.sched.schedule_in(at, Ev::Send { payment });
        }
        g.drain(SimTime::ZERO + secs(3600.0));
        charges += g.payments.iter().map(|x| x.charges as u64).sum::<u64>();
    }
    let per_key = |x: u64| x as f64 / p.burst_trials.max(1) as f64;
    let mut out = Outcome::default();
    out.set("burst_charges_per_key", per_key(charges));
    out.set("burst_conflicts_per_key", per_key(counts.conflicts));
    out.set("burst_replays_per_key", per_key(counts.replays));
    out.set("burst_wrong_answers_per_key", per_key(counts.wrong_answers));
    out
}

/// One day of payments.
fn day(p: &IdempotencyParams, streams: &RngStreams) -> Outcome {
    let mut rng = streams.stream("payments");
    let mut latency = LatencyHistogram::new();
    let mut counts = Counts::default();
    let charge = charge_dist(p);
    let restart_gap = (p.restarts_per_day > 0.0)
        .then(|| Exp::new(p.restarts_per_day / 86_400.0).expect("validated"));
    let repeat_gap = Exp::new(1.0 / p.repeat_gap_s).expect("validated");
    let n = p.payments_per_day.round() as u64;
    let day = secs(86_400.0);
    for i in 0..n {
        // Each group starts at its own time of day (it matters for content-hash buckets).
        let start = secs(86_400.0 * (i as f64 + 0.5) / n as f64);
        let repeat = uniform(&mut rng) < p.identical_repeat_rate;
        let base_key = rng.next_u64();
        let mut payments = vec![Payment::default()];
        let mut keys = vec![base_key];
        let mut repeat_at = SimDuration::ZERO;
        if repeat {
            payments.push(Payment {
                genuine_repeat: true,
                ..Payment::default()
            });
            repeat_at = secs(repeat_gap.sample(&mut rng));
            let same_bucket = (start.as_secs_f64() / p.hash_bucket_s).floor()
                == ((start + repeat_at).as_secs_f64() / p.hash_bucket_s).floor();
            keys.push(match p.key_strategy {
                // Same user, amount and merchant in one bucket: the same hash.
                KeyStrategy::ContentHash if same_bucket => base_key,
                _ => rng.next_u64(),
            });
        }
        let first_restart = restart_gap.map_or(SimTime(u64::MAX), |g| {
            SimTime::ZERO + secs(g.sample(&mut rng))
        });
        let mut g = Group {
            p,
            rng: &mut rng,
            sched: Scheduler::with_capacity(32),
            payments,
            reqs: Vec::new(),
            keys: HashMap::new(),
            memory: (0..p.instances).map(|_| HashMap::new()).collect(),
            epoch: 0,
            next_restart: first_restart,
            restart_gap,
            charge,
            payment_key: keys,
            latency: &mut latency,
            counts: &mut counts,
        };
        // Times are relative to the group's start; the start only mattered for buckets.
        g.sched
            .schedule_in(SimDuration::ZERO, Ev::Send { payment: 0 });
        if g.unit() < p.double_submit_rate {
            let tap = secs(g.unit() * 0.1);
            g.sched.schedule_in(tap, Ev::Send { payment: 0 });
        }
        if repeat {
            g.sched.schedule_in(repeat_at, Ev::Send { payment: 1 });
        }
        // Offline replays can come hours later; nothing runs for more than two days.
        g.drain(SimTime::ZERO + day + day);
        for pay in &g.payments {
            g.counts.payments += 1;
            g.counts.extra_charges += pay.charges.saturating_sub(1) as u64;
            if pay.genuine_repeat && pay.charges == 0 && pay.done {
                // Told "paid" by a replay of the first payment: a genuine payment refused.
                g.counts.false_dedupes += 1;
            }
            if pay.failed && !pay.done {
                g.counts.failed += 1;
            }
        }
    }
    outcome(p, &counts, &latency)
}

fn outcome(p: &IdempotencyParams, c: &Counts, latency: &LatencyHistogram) -> Outcome {
    let per10k = |x: u64| {
        if c.payments == 0 {
            0.0
        } else {
            x as f64 * 10_000.0 / c.payments as f64
        }
    };
    let mut out = Outcome::default();
    out.set("double_charges_per_10k", per10k(c.extra_charges));
    out.set("false_dedupes_per_10k", per10k(c.false_dedupes));
    out.set("conflicts_per_10k", per10k(c.conflicts));
    out.set("wrong_answers_per_10k", per10k(c.wrong_answers));
    out.set("failed_payments_per_10k", per10k(c.failed));
    if !latency.is_empty() {
        out.set("p99_latency_ms", latency.value_at_quantile_s(0.99) * 1000.0);
    }
    // Keys written per day, kept for the TTL; without a TTL, a year's worth (and growing).
    let keys_per_day = if c.payments == 0 {
        0.0
    } else {
        c.keys_stored as f64 / c.payments as f64 * p.payments_per_day
    };
    let kept_days = if p.ttl_h > 0.0 { p.ttl_h / 24.0 } else { 365.0 };
    out.set("table_rows_steady_state", keys_per_day * kept_days);
    out
}
