//! Time-weighted average of a piecewise-constant level (queue length, busy servers).

use crate::time::SimTime;

/// Integrates a level over simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeWeighted {
    start: SimTime,
    last: SimTime,
    level: f64,
    area: f64,
    max: f64,
}

impl TimeWeighted {
    /// Starts at `now` with level `level`.
    pub fn new(now: SimTime, level: f64) -> TimeWeighted {
        TimeWeighted {
            start: now,
            last: now,
            level,
            area: 0.0,
            max: level,
        }
    }

    /// The level changes to `level` at `now` (which must not be before the last change).
    #[inline]
    pub fn set(&mut self, now: SimTime, level: f64) {
        if now > self.last {
            self.area += self.level * now.since(self.last).as_secs_f64();
            self.last = now;
        }
        self.level = level;
        if level > self.max {
            self.max = level;
        }
    }

    /// Forgets the history before `now`, keeping the current level (warm-up deletion).
    pub fn reset(&mut self, now: SimTime) {
        self.start = now;
        self.last = now;
        self.area = 0.0;
        self.max = self.level;
    }

    /// The time average from the last reset to `now`; the current level if no time passed.
    pub fn mean(&self, now: SimTime) -> f64 {
        let span = now.since(self.start).as_secs_f64();
        if span <= 0.0 {
            return self.level;
        }
        let tail = if now > self.last {
            self.level * now.since(self.last).as_secs_f64()
        } else {
            0.0
        };
        (self.area + tail) / span
    }

    /// The current level.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// The highest level since the last reset.
    pub fn max(&self) -> f64 {
        self.max
    }
}
