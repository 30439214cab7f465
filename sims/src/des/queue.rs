//! The future-event set: a binary heap ordered by (time, priority, insertion sequence).
//!
//! Same-time events pop by priority (lower first), then FIFO by insertion, so a replication
//! repeats exactly: without the sequence number a heap's order for equal keys is arbitrary.
//! Cancellation is lazy: a cancelled key is remembered and its entry skipped when it surfaces,
//! which costs nothing for runs that never cancel.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use crate::time::SimTime;

/// Tie-break rank for events due at the same instant; lower runs first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl Priority {
    /// Runs before everything else due at the same instant (bookkeeping, interrupts).
    pub const URGENT: Priority = Priority(0);
    /// The default.
    pub const NORMAL: Priority = Priority(128);
    /// Runs after everything else due at the same instant (end-of-period summaries).
    pub const LATE: Priority = Priority(255);
}

/// Identifies one scheduled event, for cancellation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventKey(u64);

const SEQ_BITS: u32 = 56;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

struct Entry<E> {
    time: u64,
    /// Priority in the top 8 bits, insertion sequence below: one integer compare breaks ties.
    rank: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.rank == other.rank
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest entry on top.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .cmp(&self.time)
            .then_with(|| other.rank.cmp(&self.rank))
    }
}

/// A min-queue of events keyed by (time, priority, insertion order).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    cancelled: HashSet<u64>,
    cancelled_popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<E> EventQueue<E> {
    /// An empty queue with room for `cap` pending events.
    pub fn with_capacity(cap: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(cap),
            next_seq: 0,
            cancelled: HashSet::new(),
            cancelled_popped: 0,
        }
    }

    /// Adds an event; returns its key.
    #[inline]
    pub fn push(&mut self, time: SimTime, priority: Priority, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        debug_assert!(seq <= SEQ_MASK, "more than 2^56 events scheduled");
        self.heap.push(Entry {
            time: time.0,
            rank: ((priority.0 as u64) << SEQ_BITS) | (seq & SEQ_MASK),
            event,
        });
        EventKey(seq)
    }

    /// Removes and returns the earliest live event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            let entry = self.heap.pop()?;
            if !self.cancelled.is_empty() && self.cancelled.remove(&(entry.rank & SEQ_MASK)) {
                self.cancelled_popped += 1;
                continue;
            }
            return Some((SimTime(entry.time), entry.event));
        }
    }

    /// The time of the earliest entry (which may be a cancelled one).
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime(e.time))
    }

    /// Marks a pending event as cancelled; it will never be returned by `pop`.
    ///
    /// Cancel only events that are still pending: a key whose event already fired stays in the
    /// cancelled set (harmless, but it costs memory).
    pub fn cancel(&mut self, key: EventKey) {
        if key.0 < self.next_seq {
            self.cancelled.insert(key.0);
        }
    }

    /// Pending entries, cancelled ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no entries remain.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// How many cancelled entries were skipped so far.
    pub fn cancelled_skipped(&self) -> u64 {
        self.cancelled_popped
    }
}
