//! The collector's `tail_sampling` processor: pending traces in a map bounded by `num_traces`
//! with FIFO eviction, decided in batches by tick, late spans through the decision caches.

use std::collections::VecDeque;

use super::cache::Lru;
use super::config::TailConfig;
use super::counts::Counts;
use super::evaluate::decide;
use super::ids::{Meta, OrdMap};
use super::limits::PolicyState;
use super::ottl::OttlPolicy;
use super::policy::{AttrValue, Semantics, StatusCode, TraceView};
use super::routes::Memo;

/// A trace (or fragment) the collector holds.
pub(super) struct Entry {
    meta: Meta,
    root: bool,
    /// Window of the spans received, ns.
    lo: u64,
    hi: u64,
    error: bool,
    spans: u32,
    decided: Option<bool>,
    /// Made by the trace's first export batch (not a fragment of a trace the collector lost).
    first: bool,
}

/// What policies see of a held trace: content comes from precomputed route tables.
pub(super) struct View<'a> {
    e: &'a Entry,
    memo: &'a Memo,
    bytes_per_span: f64,
}

impl TraceView for View<'_> {
    fn trace_id(&self) -> [u8; 16] {
        self.e.meta.id.to_be_bytes()
    }
    fn attr_hit(&self, leaf: usize, _key: &str, _hit: &dyn Fn(&AttrValue, bool) -> bool) -> bool {
        // Only the root (server) span carries the path attribute.
        self.e.root
            && self
                .memo
                .attr
                .get(leaf)
                .is_some_and(|r| r[self.e.meta.route as usize])
    }
    fn any_status(&self, codes: &[StatusCode]) -> bool {
        // Spans without an error stay UNSET (instrumentation does not set OK).
        (self.e.error && codes.contains(&StatusCode::Error))
            || ((self.e.spans > 1 || !self.e.error) && codes.contains(&StatusCode::Unset))
    }
    fn for_each_span(&self, f: &mut dyn FnMut(u64, u64) -> bool) {
        f(self.e.lo, self.e.hi);
    }
    fn span_count(&self) -> i64 {
        self.e.spans as i64
    }
    fn size_bytes(&self) -> i64 {
        (self.e.spans as f64 * self.bytes_per_span).round() as i64
    }
    fn trace_state_hit(&self, leaf: usize, _key: &str, _hit: &dyn Fn(&str) -> bool) -> bool {
        self.e.meta.has_state && self.memo.state[leaf]
    }
    fn any_sampled_flag(&self) -> bool {
        true
    }
    fn ottl_hit(&self, leaf: usize, _c: &OttlPolicy) -> bool {
        let m = &self.memo.ottl[leaf];
        let e = self.e;
        // Which synthetic spans have arrived: the root, an erroring child, other children.
        let root = e.root && m.root[e.meta.route as usize][e.meta.error_root as usize];
        let child_error = e.meta.error_child && e.error;
        let others = e.spans.saturating_sub(e.root as u32 + child_error as u32);
        root || (child_error && m.child[1]) || (others > 0 && m.child[0])
    }
}

pub(super) struct Collector<'a> {
    pub(super) cfg: &'a TailConfig,
    pub(super) sem: Semantics,
    pub(super) memo: Memo,
    pub(super) bytes_per_span: f64,
    /// The processor's stateful policies (limits, composites), shared by every trace.
    pub(super) state: PolicyState,
    /// Held traces by [`Meta::ord`].
    pub(super) map: OrdMap<Entry>,
    pub(super) fifo: VecDeque<u64>,
    /// Batches waiting for their decision tick; the front is decided next.
    pub(super) batches: VecDeque<Vec<u64>>,
    pub(super) sampled: Lru,
    pub(super) not_sampled: Lru,
    pub(super) pending: u64,
    pub(super) buffered_spans: u64,
    pub(super) counts: Counts,
}

impl Collector<'_> {
    /// Spans of `meta` arrive: a batch with the root (`root`) or children only.
    /// `after_first` says an earlier batch of this trace was exported, so a new entry made by
    /// this batch is a fragment of a trace the collector already saw.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spans(
        &mut self,
        meta: Meta,
        root: bool,
        after_first: bool,
        lo: u64,
        hi: u64,
        n: u32,
        error: bool,
    ) {
        let (id, key) = (meta.id, meta.ord);
        // Late spans: caches first, then an inherited decision.
        if self.sampled.get(id) {
            self.counts.stored_spans += n as u64;
            if root {
                self.counts.outcome(&meta, true);
            }
            return;
        }
        if self.not_sampled.get(id) {
            if root {
                self.counts.outcome(&meta, false);
            }
            return;
        }
        if let Some(e) = self.map.get_mut(&key) {
            match e.decided {
                Some(kept) => {
                    if kept {
                        self.counts.stored_spans += n as u64;
                    }
                    if root {
                        self.counts.outcome(&meta, kept);
                    }
                }
                None => {
                    e.lo = e.lo.min(lo);
                    e.hi = e.hi.max(hi);
                    e.error |= error;
                    e.spans += n;
                    e.root |= root;
                    self.buffered_spans += n as u64;
                }
            }
            return;
        }
        // A new trace, or a fragment of one whose entry is gone.
        if after_first {
            self.counts.fragments += 1;
        }
        if self.map.len() as u64 >= self.cfg.num_traces {
            self.evict_oldest();
        }
        self.map.insert(
            key,
            Entry {
                meta,
                root,
                lo,
                hi,
                error,
                spans: n,
                decided: None,
                first: !after_first,
            },
        );
        self.fifo.push_back(key);
        self.batches
            .back_mut()
            .expect("pipeline is never empty")
            .push(key);
        self.pending += 1;
        self.buffered_spans += n as u64;
        self.counts.peak_pending = self.counts.peak_pending.max(self.pending);
        self.counts.peak_buffer_spans = self.counts.peak_buffer_spans.max(self.buffered_spans);
    }

    fn evict_oldest(&mut self) {
        while let Some(old) = self.fifo.pop_front() {
            if let Some(e) = self.map.remove(&old) {
                if e.decided.is_none() {
                    // Lost without a decision: nothing exported, nothing cached.
                    self.counts.dropped_undecided += 1;
                    if e.first {
                        self.counts.lost_traces += 1;
                    }
                    self.pending -= 1;
                    self.buffered_spans -= e.spans as u64;
                    if e.root {
                        self.counts.outcome(&e.meta, false);
                    }
                }
                return;
            }
        }
    }

    /// One 1-second tick at `now_ns`: decide the batch that came due, open a new one.
    pub(super) fn tick(&mut self, now_ns: u64) {
        self.state.now_ns = now_ns as i64;
        let due = self.batches.pop_front().unwrap_or_default();
        for key in due {
            let Some(e) = self.map.get(&key) else {
                continue;
            };
            if e.decided.is_some() {
                continue;
            }
            let view = View {
                e,
                memo: &self.memo,
                bytes_per_span: self.bytes_per_span,
            };
            let f = decide(
                &self.cfg.policies,
                &view,
                &self.sem,
                self.cfg.sample_on_first_match,
                &mut self.state,
                None,
            );
            let (meta, root, spans) = (e.meta, e.root, e.spans);
            let id = meta.id;
            if !root && e.first {
                // Decided on part of the trace: the root (and with it the full duration, and
                // an ERROR on it) comes later.
                self.counts.decided_before_root += 1;
            }
            self.pending -= 1;
            self.buffered_spans -= spans as u64;
            if f.sampled {
                self.counts.stored_spans += spans as u64;
                self.sampled.put(id);
            } else {
                self.not_sampled.put(id);
            }
            if root {
                self.counts.outcome(&meta, f.sampled);
            }
            let cached = if f.sampled {
                self.sampled.enabled()
            } else {
                self.not_sampled.enabled()
            };
            if cached {
                self.map.remove(&key);
            } else if let Some(e) = self.map.get_mut(&key) {
                e.decided = Some(f.sampled);
                e.spans = 0;
            }
        }
        self.batches.push_back(Vec::new());
    }
}
