//! The clock and the future-event set together: schedule, cancel, advance.

use super::queue::{EventKey, EventQueue, Priority};
use crate::time::{SimDuration, SimTime};

/// Scheduling mistakes. The run can continue after any of them: nothing was scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// An absolute time earlier than the current time.
    #[error("cannot schedule at {at} before the current time {now}")]
    InPast {
        /// The current time.
        now: SimTime,
        /// The requested time.
        at: SimTime,
    },
}

/// Simulated clock plus pending events. `pop` advances the clock to the event's time.
pub struct Scheduler<E> {
    now: SimTime,
    queue: EventQueue<E>,
    popped: u64,
}

impl<E> Default for Scheduler<E> {
    fn default() -> Self {
        Self::with_capacity(16)
    }
}

impl<E> Scheduler<E> {
    /// A scheduler at time zero with room for `cap` pending events.
    pub fn with_capacity(cap: usize) -> Self {
        Scheduler {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(cap),
            popped: 0,
        }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at absolute time `at` (now or later) with normal priority.
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> Result<EventKey, ScheduleError> {
        self.schedule_at_with(at, Priority::NORMAL, event)
    }

    /// Schedules `event` at `at` with an explicit same-time priority.
    pub fn schedule_at_with(
        &mut self,
        at: SimTime,
        priority: Priority,
        event: E,
    ) -> Result<EventKey, ScheduleError> {
        if at < self.now {
            return Err(ScheduleError::InPast { now: self.now, at });
        }
        Ok(self.queue.push(at, priority, event))
    }

    /// Schedules `event` after `delay` (zero allowed: it runs after the events already due now).
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventKey {
        self.queue.push(self.now + delay, Priority::NORMAL, event)
    }

    /// Schedules `event` after `delay` with an explicit same-time priority.
    pub fn schedule_in_with(
        &mut self,
        delay: SimDuration,
        priority: Priority,
        event: E,
    ) -> EventKey {
        self.queue.push(self.now + delay, priority, event)
    }

    /// Cancels a pending event (lazy deletion).
    pub fn cancel(&mut self, key: EventKey) {
        self.queue.cancel(key);
    }

    /// Advances to the next live event and returns it.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let (t, e) = self.queue.pop()?;
        self.now = t;
        self.popped += 1;
        Some((t, e))
    }

    /// Runs `handler` on every event due at or before `until`, then sets the clock to `until`.
    /// The handler gets the scheduler back so it can schedule follow-ups.
    pub fn run_until(&mut self, until: SimTime, mut handler: impl FnMut(&mut Self, E)) {
        while let Some(t) = self.queue.peek_time() {
            if t > until {
                break;
            }
            match self.pop() {
                Some((_, e)) => handler(self, e),
                None => break,
            }
        }
        if self.now < until {
            self.now = until;
        }
    }

    /// Events handed out by `pop` so far.
    pub fn events_processed(&self) -> u64 {
        self.popped
    }

    /// Pending entries (cancelled ones included until they surface).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
