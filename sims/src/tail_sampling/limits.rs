//! The state stateful policies keep across traces: `rate_limiting`, `bytes_limiting` and
//! `composite`. One processor has one [`PolicyState`]; the traces it decides share it, in the
//! order they are decided, and the clock ([`PolicyState::now_ns`]) is the processor's
//! wall clock at the decision (Unix time in ns: upstream reads `time.Now()`).
//!
//! Upstream's limiters:
//! - the token bucket of `golang.org/x/time/rate` (`bytes_limiting`, and `rate_limiting` from
//!   PR #48226): starts full, refills continuously at the rate up to the burst; `AllowN(now, n)`
//!   admits when `n ≤ burst` and the bucket holds `n` tokens (a deficit shorter than 1 ns
//!   counts as none, as Go truncates the wait to whole nanoseconds);
//! - the per-second counter of `rate_limiting` before that: the count restarts when the Unix
//!   second changes, and a trace is admitted while `count + spans < spans_per_second`;
//! - the composite's counters: per sub-policy, restarted each Unix second, admitting while
//!   `count + spans ≤ budget` and `count + spans ≤ max_total_spans_per_second`.

/// The state of one stateful policy (a "slot").
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot {
    /// Token bucket: used at least once (a fresh bucket is full).
    started: bool,
    tokens: f64,
    last_ns: i64,
    /// Counters: the Unix second they count in (upstream starts at 0) and their counts.
    second: i64,
    count: i64,
    sub_counts: Vec<i64>,
}

/// The shared state of one processor's stateful policies, and its clock.
#[derive(Debug, Clone)]
pub(crate) struct PolicyState {
    /// The processor's clock at the decision being made, ns since the Unix epoch.
    pub now_ns: i64,
    slots: Vec<Slot>,
}

impl PolicyState {
    /// A fresh processor with `slots` stateful policies.
    pub(crate) fn new(slots: usize) -> PolicyState {
        PolicyState {
            now_ns: 0,
            slots: vec![Slot::default(); slots],
        }
    }

    fn slot(&mut self, i: usize) -> &mut Slot {
        if i >= self.slots.len() {
            self.slots.resize(i + 1, Slot::default());
        }
        &mut self.slots[i]
    }

    /// `rate.NewLimiter(rate, burst).AllowN(now, n)` on slot `i`.
    pub(crate) fn allow_n(&mut self, i: usize, rate: f64, burst: i64, n: i64) -> bool {
        let now = self.now_ns;
        let s = self.slot(i);
        if rate <= 0.0 {
            // rate.Limit(0): the burst is a one-off allowance, spent as it is used.
            if !s.started {
                s.started = true;
                s.tokens = burst as f64;
            }
            if s.tokens >= n as f64 {
                s.tokens -= n as f64;
                return true;
            }
            return false;
        }
        if !s.started {
            s.started = true;
            s.tokens = burst as f64;
            s.last_ns = now;
        }
        // advance: a clock that went back counts no elapsed time.
        let last = s.last_ns.min(now);
        let elapsed = now - last;
        let secs = (elapsed / 1_000_000_000) as f64 + (elapsed % 1_000_000_000) as f64 / 1e9;
        let tokens = (s.tokens + secs * rate).min(burst as f64) - n as f64;
        // The wait for a deficit, truncated to whole nanoseconds as Go's Duration is.
        let wait_ns = if tokens < 0.0 {
            (-tokens / rate * 1e9).min(i64::MAX as f64) as i64
        } else {
            0
        };
        let ok = n <= burst && wait_ns <= 0;
        if ok {
            s.last_ns = now;
            s.tokens = tokens;
        }
        ok
    }

    /// The per-second counter of `rate_limiting` before the token bucket.
    pub(crate) fn per_second(&mut self, i: usize, limit: i64, n: i64) -> bool {
        let second = self.now_ns.div_euclid(1_000_000_000);
        let s = self.slot(i);
        if s.second != second {
            s.second = second;
            s.count = 0;
        }
        let if_sampled = s.count.saturating_add(n);
        if if_sampled < limit {
            s.count = if_sampled;
            true
        } else {
            false
        }
    }

    /// Restarts the composite's counters on slot `i` when the Unix second changed.
    pub(crate) fn composite_second(&mut self, i: usize, subs: usize) {
        let second = self.now_ns.div_euclid(1_000_000_000);
        let s = self.slot(i);
        if s.sub_counts.len() != subs {
            s.sub_counts = vec![0; subs];
        }
        if s.second != second {
            s.second = second;
            s.sub_counts.iter_mut().for_each(|c| *c = 0);
        }
    }

    /// Admits `n` spans for sub-policy `sub` of the composite on slot `i` if both budgets
    /// allow them (counted only when admitted).
    pub(crate) fn composite_admit(
        &mut self,
        i: usize,
        sub: usize,
        budget: i64,
        total: i64,
        n: i64,
    ) -> bool {
        let s = self.slot(i);
        let if_sampled = s.sub_counts[sub].saturating_add(n);
        if if_sampled <= budget && if_sampled <= total {
            s.sub_counts[sub] = if_sampled;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_starts_full_and_refills_at_the_rate() {
        let mut st = PolicyState::new(1);
        st.now_ns = 1_000_000_000;
        // Burst 20 at 10/s: 20 at once, then nothing until time passes.
        assert!(st.allow_n(0, 10.0, 20, 20));
        assert!(!st.allow_n(0, 10.0, 20, 1));
        st.now_ns += 100_000_000; // 0.1 s: one token
        assert!(st.allow_n(0, 10.0, 20, 1));
        assert!(!st.allow_n(0, 10.0, 20, 1));
        // More than the burst never passes, however long the wait.
        st.now_ns += 3_600_000_000_000;
        assert!(!st.allow_n(0, 10.0, 20, 21));
        assert!(st.allow_n(0, 10.0, 20, 20));
    }

    #[test]
    fn per_second_counter_is_strict_and_restarts_each_second() {
        let mut st = PolicyState::new(1);
        st.now_ns = 5_000_000_000;
        assert!(st.per_second(0, 3, 2));
        assert!(!st.per_second(0, 3, 1)); // 2 + 1 is not below 3
        assert!(st.per_second(0, 3, 0));
        st.now_ns = 6_000_000_000;
        assert!(st.per_second(0, 3, 2));
    }
}
