//! Where requests go: the units a class may use, admission onto a unit, preemption of batch
//! work to make room, and pulling waiting requests onto a unit when it has room.

use super::cluster::{Cluster, Ev, NO_SEQ, Role};
use super::engine::Preempted;
use super::params::Policy;
use crate::des::{SimDuration, SimTime};

impl Cluster<'_> {
    fn eligible(&self, u: usize, class: u8) -> bool {
        match self.roles[u] {
            Role::Reserved => class == 0 || (class == 2 && self.p.batch_borrows_reserved),
            Role::Shared => {
                self.p.policy != Policy::ReservedPool || class != 0 || self.p.p0_overflow
            }
            Role::Draining | Role::Starting { .. } => false,
        }
    }

    /// Units a request of `class` may use, in the order it prefers them: for P0 under a
    /// reserved pool the reserved units first. Within a group, least loaded first.
    fn candidates(&self, class: u8) -> Vec<usize> {
        let units = self.roles.len();
        let mut v: Vec<(u8, u32, usize)> = (0..units)
            .filter(|&u| self.eligible(u, class))
            .map(|u| {
                let group = u8::from(
                    self.p.policy == Policy::ReservedPool
                        && class == 0
                        && self.roles[u] != Role::Reserved,
                );
                (group, self.engine.live(u), u)
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|x| x.2).collect()
    }

    /// A new request (or a preempted one back in line when `front`).
    pub(super) fn arrive(&mut self, r: u32, now: SimTime) {
        let class = self.reqs[r as usize].class;
        let q = self.queue_of(class);
        if !self.queues[q].is_empty() {
            self.queues[q].push_back(r);
            return;
        }
        let kv = self.kv_of(r);
        let cands = self.candidates(class);
        if let Some(&u) = cands.iter().find(|&&u| self.engine.can_admit(u, kv)) {
            self.admit(u, r, now);
            return;
        }
        if class < 2 && self.p.policy != Policy::Fifo {
            if let Some(u) = self.make_room(&cands, kv) {
                self.admit(u, r, now);
                return;
            }
        }
        self.queues[q].push_back(r);
    }

    /// A preempted request returns at the head of its queue.
    pub(super) fn requeue(&mut self, r: u32, now: SimTime) {
        let class = self.reqs[r as usize].class;
        let kv = self.kv_of(r);
        let cands = self.candidates(class);
        match cands.iter().find(|&&u| self.engine.can_admit(u, kv)) {
            Some(&u) => self.admit(u, r, now),
            None => {
                let q = self.queue_of(class);
                self.queues[q].push_front(r);
            }
        }
    }

    /// Preempts P2 sequences on the first candidate unit where that makes room for `kv`.
    fn make_room(&mut self, cands: &[usize], kv: u32) -> Option<usize> {
        let ck = self.p.checkpoint_tokens;
        for &u in cands {
            if self.engine.units[u].class_live[2] == 0 {
                continue;
            }
            // Victims: P2 sequences, the least work to redo first (prefill done so far plus
            // output since the last checkpoint; one still waiting for its prefill costs nothing).
            let mut victims: Vec<(u32, u32, u32)> = self
                .engine
                .members(u)
                .iter()
                .filter_map(|&s| {
                    let (class, generated, prefilled, skv) = self.engine.seq_info(s);
                    (class == 2).then(|| {
                        let total = self.reqs[self.engine_req(s) as usize].done + generated;
                        let unsaved = if ck > 0 { total % ck } else { total };
                        (prefilled + unsaved, s, skv)
                    })
                })
                .collect();
            let freeable: u64 = victims.iter().map(|v| v.2 as u64).sum();
            let slots_free = self.engine.units[u].max_seqs > self.engine.live(u);
            if self.engine.kv_free(u) + freeable < kv as u64 || (!slots_free && victims.is_empty())
            {
                continue;
            }
            victims.sort_unstable();
            for (_, s, _) in victims {
                if self.engine.can_admit(u, kv) {
                    break;
                }
                let info = self.engine.preempt(s);
                self.on_preempted(info, false);
            }
            if self.engine.can_admit(u, kv) {
                return Some(u);
            }
        }
        None
    }

    fn engine_req(&self, s: u32) -> u32 {
        self.engine.seq_req(s)
    }

    fn admit(&mut self, u: usize, r: u32, now: SimTime) {
        let by_class = self.p.policy != Policy::Fifo;
        let q = &self.reqs[r as usize];
        let (class, prefill, decode, kv) = (
            q.class,
            q.prompt + q.done,
            q.output - q.done,
            q.prompt + q.output,
        );
        let s = self
            .engine
            .admit(u, r, class, prefill, decode, kv, by_class);
        self.reqs[r as usize].seq = s;
        self.engine.start(u, now);
    }

    pub(super) fn on_preempted(&mut self, info: Preempted, by_pod: bool) {
        let ck = self.p.checkpoint_tokens;
        let q = &mut self.reqs[info.req as usize];
        q.seq = NO_SEQ;
        let delay = if info.class == 2 {
            // Batch jobs persist every `ck` output tokens; the rest is lost.
            let total = q.done + info.generated;
            let kept = total
                .checked_div(ck)
                .map_or(q.done, |n| (n * ck).max(q.done));
            if self.measuring {
                // Tokens processed (prefill and decode) that the restart must redo.
                self.w.p2_processed += (info.prefilled + info.generated) as u64;
                self.w.p2_lost += (info.prefilled + total - kept) as u64;
            }
            q.done = kept;
            SimDuration::from_secs_f64(self.p.restart_delay_s)
        } else {
            // A real-time answer cannot resume: it starts over (its first token stays counted).
            q.done = 0;
            SimDuration::ZERO
        };
        if self.measuring && !by_pod {
            self.w.preemptions += 1;
        }
        self.sched.schedule_in(delay, Ev::Requeue(info.req));
    }

    /// Pulls waiting requests onto unit `u` while it has room, then starts its step.
    pub(super) fn dispatch(&mut self, u: usize, now: SimTime) {
        match self.roles[u] {
            Role::Starting { .. } => return,
            Role::Draining => {
                if self.engine.live(u) == 0 {
                    self.roles[u] = Role::Starting { reserved: false };
                    self.sched.schedule_in(
                        SimDuration::from_secs_f64(self.p.pod_startup_s),
                        Ev::PodReady(u as u32),
                    );
                }
                return;
            }
            Role::Reserved | Role::Shared => {}
        }
        if self.p.policy == Policy::Fifo {
            while let Some(&r) = self.queues[0].front() {
                if !self.engine.can_admit(u, self.kv_of(r)) {
                    break;
                }
                self.queues[0].pop_front();
                self.admit(u, r, now);
            }
        } else {
            for c in 0..3u8 {
                if !self.eligible(u, c) {
                    continue;
                }
                let mut blocked = false;
                while let Some(&r) = self.queues[c as usize].front() {
                    if !self.engine.can_admit(u, self.kv_of(r)) {
                        blocked = true;
                        break;
                    }
                    self.queues[c as usize].pop_front();
                    self.admit(u, r, now);
                }
                // A higher class waiting for room keeps lower classes out of it.
                if blocked {
                    break;
                }
            }
        }
        self.engine.start(u, now);
    }
}
