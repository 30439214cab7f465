//! A counting semaphore (a lock when `permits == 1`) with a FIFO wait queue.
//!
//! It holds no events of its own: the room decides when holders release and when waiters give
//! up (by scheduling its own timeout and calling [`Semaphore::cancel_wait`]), which keeps the
//! "first of grant or timeout" race explicit in the room instead of leaving a stale request
//! queued.

use std::collections::VecDeque;

use crate::des::SimTime;
use crate::stats::TimeWeighted;

/// Outcome of an acquire attempt.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// A permit was free and is now held by the caller.
    Granted,
    /// The caller is queued at this position (0 = next).
    Queued(usize),
}

/// See the module docs.
pub struct Semaphore {
    permits: usize,
    held: usize,
    waiters: VecDeque<u64>,
    held_tw: TimeWeighted,
    waiting_tw: TimeWeighted,
}

impl Semaphore {
    /// A semaphore with `permits` permits, all free.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits,
            held: 0,
            waiters: VecDeque::new(),
            held_tw: TimeWeighted::new(SimTime::ZERO, 0.0),
            waiting_tw: TimeWeighted::new(SimTime::ZERO, 0.0),
        }
    }

    /// Asks for a permit for `id` at `now`. FIFO: nobody jumps a non-empty queue.
    pub fn acquire(&mut self, id: u64, now: SimTime) -> Acquire {
        let r = if self.held < self.permits && self.waiters.is_empty() {
            self.held += 1;
            Acquire::Granted
        } else {
            self.waiters.push_back(id);
            Acquire::Queued(self.waiters.len() - 1)
        };
        self.note(now);
        r
    }

    /// Non-blocking attempt: `true` and a held permit, or `false` and nothing queued.
    pub fn try_acquire(&mut self, now: SimTime) -> bool {
        let ok = self.held < self.permits && self.waiters.is_empty();
        if ok {
            self.held += 1;
            self.note(now);
        }
        ok
    }

    /// Returns a permit; if someone waits, the permit passes to them and their id is returned.
    pub fn release(&mut self, now: SimTime) -> Option<u64> {
        assert!(self.held > 0, "release without a held permit");
        let next = self.waiters.pop_front();
        if next.is_none() {
            self.held -= 1;
        }
        self.note(now);
        next
    }

    /// Removes `id` from the wait queue (it gave up); `false` if it was not waiting.
    pub fn cancel_wait(&mut self, id: u64, now: SimTime) -> bool {
        let found = match self.waiters.iter().position(|&w| w == id) {
            Some(i) => {
                self.waiters.remove(i);
                true
            }
            None => false,
        };
        self.note(now);
        found
    }

    /// Permits held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Callers waiting.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Time-average permits held since the last reset.
    pub fn mean_held(&self, now: SimTime) -> f64 {
        self.held_tw.mean(now)
    }

    /// Time-average waiters since the last reset.
    pub fn mean_waiting(&self, now: SimTime) -> f64 {
        self.waiting_tw.mean(now)
    }

    /// Restarts the time averages at `now`.
    pub fn reset_stats(&mut self, now: SimTime) {
        self.held_tw.reset(now);
        self.waiting_tw.reset(now);
    }

    fn note(&mut self, now: SimTime) {
        self.held_tw.set(now, self.held as f64);
        self.waiting_tw.set(now, self.waiters.len() as f64);
    }
}
