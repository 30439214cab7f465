//! Processor sharing over `servers` identical processors: what an operating system does with
//! runnable processes on a few cores, as opposed to a FIFO station that hands each job a whole
//! server and makes the others wait.
//!
//! With `n` jobs present each progresses at rate `min(1, servers / n)`: a job never runs on more
//! than one processor (a backend process is single-threaded), and when jobs outnumber
//! processors they slow down together. The queue is symmetric, so its distribution of the
//! number present (and with it the mean sojourn, by Little's law) is that of the M/M/c queue
//! with the same mean work, whatever the work distribution.
//!
//! Bookkeeping in "attained service" (virtual) time: every present job has received the same
//! service since the last change, so a job joining when the virtual clock reads `v` finishes
//! when it reads `v + work`. Only the earliest such tag has a pending event; each arrival,
//! departure or cancellation replaces it (stale events are recognised by their epoch).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::des::{Scheduler, SimDuration, SimTime};
use crate::stats::TimeWeighted;

/// The component's own event; the room wraps it in its event enum.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SharingEvent {
    epoch: u64,
}

/// Identifies a job inside the component, for cancellation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SharingKey {
    slot: u32,
    generation: u32,
}

/// A job that received all its work.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SharingDone {
    /// The caller's identifier, returned unchanged.
    pub id: u64,
    /// When it joined.
    pub joined: SimTime,
    /// When it finished.
    pub finished: SimTime,
}

struct Entry {
    id: u64,
    joined: SimTime,
    generation: u32,
    live: bool,
}

/// See the module docs.
pub struct ProcessorSharing {
    servers: f64,
    /// Service every present job has received since the start, in nanoseconds.
    virtual_ns: f64,
    last: SimTime,
    /// (finish tag as ordered bits, insertion sequence, slot, generation), earliest first.
    tags: BinaryHeap<Reverse<(u64, u64, u32, u32)>>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    present: usize,
    seq: u64,
    epoch: u64,
    busy_tw: TimeWeighted,
}

impl ProcessorSharing {
    /// `servers` processors, nobody present.
    pub fn new(servers: usize) -> ProcessorSharing {
        assert!(
            servers > 0,
            "processor sharing needs at least one processor"
        );
        ProcessorSharing {
            servers: servers as f64,
            virtual_ns: 0.0,
            last: SimTime::ZERO,
            tags: BinaryHeap::new(),
            entries: Vec::new(),
            free: Vec::new(),
            present: 0,
            seq: 0,
            epoch: 0,
            busy_tw: TimeWeighted::new(SimTime::ZERO, 0.0),
        }
    }

    /// Jobs present.
    pub fn present(&self) -> usize {
        self.present
    }

    /// Time-average processors busy (`min(n, servers)`) since the last reset.
    pub fn mean_busy(&self, now: SimTime) -> f64 {
        self.busy_tw.mean(now)
    }

    /// Restarts the time average at `now`.
    pub fn reset_stats(&mut self, now: SimTime) {
        self.busy_tw.reset(now);
    }

    /// Rate at which each present job progresses.
    fn rate(&self) -> f64 {
        if self.present == 0 {
            0.0
        } else {
            (self.servers / self.present as f64).min(1.0)
        }
    }

    /// Brings the virtual clock to `now` at the rate that held since the last change.
    fn advance(&mut self, now: SimTime) {
        if now > self.last {
            self.virtual_ns += now.since(self.last).0 as f64 * self.rate();
            self.last = now;
        }
    }

    /// Adds a job of `work` at the current time.
    pub fn arrive<E: From<SharingEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        id: u64,
        work: SimDuration,
    ) -> SharingKey {
        let now = sched.now();
        self.advance(now);
        let (slot, generation) = match self.free.pop() {
            Some(slot) => {
                let e = &mut self.entries[slot as usize];
                e.generation = e.generation.wrapping_add(1);
                e.id = id;
                e.joined = now;
                e.live = true;
                (slot, e.generation)
            }
            None => {
                self.entries.push(Entry {
                    id,
                    joined: now,
                    generation: 0,
                    live: true,
                });
                ((self.entries.len() - 1) as u32, 0)
            }
        };
        let tag = self.virtual_ns + work.0 as f64;
        // Tags are non-negative, so their IEEE bits order like the numbers.
        self.tags
            .push(Reverse((tag.to_bits(), self.seq, slot, generation)));
        self.seq += 1;
        self.present += 1;
        self.reschedule(sched);
        SharingKey { slot, generation }
    }

    /// Removes a job before it finishes (a cancelled statement); `false` if it already left.
    pub fn cancel<E: From<SharingEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        key: SharingKey,
    ) -> bool {
        let now = sched.now();
        let e = &mut self.entries[key.slot as usize];
        if e.generation != key.generation || !e.live {
            return false;
        }
        self.advance(now);
        let e = &mut self.entries[key.slot as usize];
        e.live = false;
        self.free.push(key.slot);
        self.present -= 1;
        self.reschedule(sched);
        true
    }

    /// Handles the component's event: the job with the earliest tag finishes.
    pub fn handle<E: From<SharingEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        event: SharingEvent,
    ) -> Option<SharingDone> {
        if event.epoch != self.epoch {
            return None; // superseded by a later arrival, departure or cancellation
        }
        let now = sched.now();
        self.advance(now);
        self.drop_dead_tags();
        let Reverse((bits, _, slot, _)) = self.tags.pop()?;
        // Rounding to whole nanoseconds can leave the clock a hair short of the tag.
        self.virtual_ns = self.virtual_ns.max(f64::from_bits(bits));
        let e = &mut self.entries[slot as usize];
        e.live = false;
        let done = SharingDone {
            id: e.id,
            joined: e.joined,
            finished: now,
        };
        self.free.push(slot);
        self.present -= 1;
        self.reschedule(sched);
        Some(done)
    }

    fn drop_dead_tags(&mut self) {
        while let Some(Reverse((_, _, slot, generation))) = self.tags.peek() {
            let e = &self.entries[*slot as usize];
            if e.live && e.generation == *generation {
                return;
            }
            self.tags.pop();
        }
    }

    fn reschedule<E: From<SharingEvent>>(&mut self, sched: &mut Scheduler<E>) {
        let now = sched.now();
        self.epoch += 1;
        self.busy_tw
            .set(now, (self.present as f64).min(self.servers));
        self.drop_dead_tags();
        if let Some(Reverse((bits, ..))) = self.tags.peek() {
            let left = (f64::from_bits(*bits) - self.virtual_ns).max(0.0);
            let delay = SimDuration((left / self.rate()).ceil() as u64);
            sched.schedule_in(delay, E::from(SharingEvent { epoch: self.epoch }));
        }
    }
}
