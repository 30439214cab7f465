//! The server's side of a group: the key strategies' claims and checks, the provider's charge
//! (and a crash in the middle of it), and the answers sent back.

use rand_distr::Distribution;

use super::group::{Code, Ev, Group, KeyState, KeyStatus, secs};
use super::params::ServerStrategy;
use crate::des::{SimDuration, SimTime};

impl Group<'_> {
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

    pub(super) fn respond(&mut self, req: usize, code: Code, after: SimDuration) {
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

    pub(super) fn arrive(&mut self, req: usize) {
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

    pub(super) fn claim(&mut self, req: usize) {
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

    pub(super) fn charge_done(&mut self, req: usize) {
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
}
