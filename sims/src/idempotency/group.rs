//! A group of payments on its own event timeline: its state (payments, requests, the key
//! store, in-memory sets, server restarts), its event loop, and the client's side (sends,
//! answers received, retries with backoff, offline replays, timeouts).

use std::collections::HashMap;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use super::params::{IdempotencyParams, KeyStrategy};
use crate::des::{Scheduler, SimDuration, SimTime, Stream, uniform};
use crate::stats::LatencyHistogram;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Code {
    Charged,
    Replay,
    Conflict,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Ev {
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
pub(super) enum KeyStatus {
    /// Claimed; `open_tx` while the one-transaction flow still holds its transaction.
    Processing {
        open_tx: bool,
    },
    Completed,
}

pub(super) struct KeyState {
    pub(super) status: KeyStatus,
    pub(super) created: SimTime,
    /// One-transaction flow: requests blocked on the uncommitted key.
    pub(super) waiters: Vec<usize>,
}

pub(super) struct Req {
    pub(super) payment: usize,
    pub(super) key: u64,
    pub(super) instance: u32,
    /// Server epoch (restart count) when processing began.
    pub(super) epoch: u32,
    pub(super) timed_out: bool,
    pub(super) answered: bool,
}

#[derive(Default)]
pub(super) struct Payment {
    pub(super) first_sent: Option<SimTime>,
    pub(super) attempts: u32,
    pub(super) series_attempts: u32,
    pub(super) offline_used: bool,
    pub(super) charges: u32,
    pub(super) done: bool,
    pub(super) failed: bool,
    pub(super) genuine_repeat: bool,
}

/// Per-day counters.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) payments: u64,
    pub(super) extra_charges: u64,
    pub(super) false_dedupes: u64,
    pub(super) conflicts: u64,
    pub(super) wrong_answers: u64,
    pub(super) replays: u64,
    pub(super) failed: u64,
    pub(super) keys_stored: u64,
}

pub(super) struct Group<'a> {
    pub(super) p: &'a IdempotencyParams,
    pub(super) rng: &'a mut Stream,
    pub(super) sched: Scheduler<Ev>,
    pub(super) payments: Vec<Payment>,
    pub(super) reqs: Vec<Req>,
    pub(super) keys: HashMap<u64, KeyState>,
    pub(super) memory: Vec<HashMap<u64, KeyStatus>>,
    pub(super) epoch: u32,
    pub(super) next_restart: SimTime,
    pub(super) restart_gap: Option<Exp<f64>>,
    pub(super) charge: LogNormal<f64>,
    /// Key of each payment (UUID per payment, or content hash).
    pub(super) payment_key: Vec<u64>,
    pub(super) latency: &'a mut LatencyHistogram,
    /// First tap to success, for the payments that needed more than one attempt.
    pub(super) retried_latency: &'a mut LatencyHistogram,
    pub(super) counts: &'a mut Counts,
}

/// Seconds as a simulated duration.
pub(super) fn secs(s: f64) -> SimDuration {
    SimDuration::from_secs_f64(s)
}

impl Group<'_> {
    pub(super) fn unit(&mut self) -> f64 {
        uniform(self.rng)
    }

    pub(super) fn net(&self) -> SimDuration {
        secs(self.p.network_ms / 1000.0)
    }

    pub(super) fn db(&self) -> SimDuration {
        secs(self.p.db_ms / 1000.0)
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
                let retried = p.attempts > 1;
                self.latency.record(now.since(started));
                if retried {
                    self.retried_latency.record(now.since(started));
                }
            }
            Code::Conflict => self.retry(payment),
        }
    }

    pub(super) fn retry(&mut self, payment: usize) {
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
    pub(super) fn drain(&mut self, until: SimTime) {
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
