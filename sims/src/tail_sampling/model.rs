//! A day of traffic through one collector's `tail_sampling` processor.
//!
//! Requests arrive as a Poisson stream; each is a trace whose spans reach the collector in up
//! to three SDK export batches: the first child (ended at 5% of the request), the other
//! children (by 90%) and the root (at the end), each at the next export tick of the service's
//! BatchSpanProcessor; spans sharing a tick travel together. The collector
//! keeps pending traces in a map bounded by `num_traces` with FIFO eviction, decides a trace
//! N = decision_wait ticks after the tick its first span arrived in, and handles late spans
//! through the decision caches, an inherited decision, or as a new fragment trace. Only traces
//! in flight are held, so memory is bounded whatever the simulated length.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Poisson};

use super::config::TailConfig;
use super::params::TailSamplingParams;
use super::policy::{AttrValue, Semantics, StatusCode, TraceView, decide};
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime, uniform};
use crate::simulation::Outcome;

/// Trace ids are uniformly random: their low 64 bits are already a good hash.
#[derive(Default)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64 ^ (i >> 64) as u64;
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}
type IdMap<V> = HashMap<u128, V, BuildHasherDefault<IdHasher>>;

/// What a trace is, carried in its events (nothing per trace is stored elsewhere).
#[derive(Clone, Copy, Debug)]
struct Meta {
    id: u128,
    route: u16,
    probe: bool,
    error_root: bool,
    error_child: bool,
    slow: bool,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Request,
    /// One SDK export batch of a trace's spans reaches the collector.
    Spans(Batch),
    Tick,
}

/// One export batch: which spans of which trace.
#[derive(Clone, Copy, Debug)]
struct Batch {
    meta: Meta,
    /// The batch carries the root span.
    root: bool,
    /// An earlier batch of this trace was exported (so a new entry is a fragment).
    after_first: bool,
    /// Span window, ns.
    lo: u64,
    hi: u64,
    spans: u32,
    error: bool,
}

/// A trace (or fragment) the collector holds.
struct Entry {
    meta: Meta,
    root: bool,
    /// Window of the spans received, ns.
    lo: u64,
    hi: u64,
    error: bool,
    spans: u32,
    decided: Option<bool>,
}

/// An LRU set keyed like upstream's caches: the last 8 bytes of the id, little-endian.
struct Lru {
    cap: usize,
    stamp: HashMap<u64, u64, BuildHasherDefault<IdHasher>>,
    order: VecDeque<(u64, u64)>,
    clock: u64,
}

impl Lru {
    fn new(cap: u64) -> Lru {
        Lru {
            cap: cap as usize,
            stamp: HashMap::default(),
            order: VecDeque::new(),
            clock: 0,
        }
    }
    fn key(id: u128) -> u64 {
        let b = id.to_be_bytes();
        u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"))
    }
    fn enabled(&self) -> bool {
        self.cap > 0
    }
    /// A read refreshes recency, as in hashicorp's LRU.
    fn get(&mut self, id: u128) -> bool {
        if self.cap == 0 {
            return false;
        }
        let k = Lru::key(id);
        if self.stamp.contains_key(&k) {
            self.touch(k);
            true
        } else {
            false
        }
    }
    fn put(&mut self, id: u128) {
        if self.cap == 0 {
            return;
        }
        self.touch(Lru::key(id));
        while self.stamp.len() > self.cap {
            let Some((k, s)) = self.order.pop_front() else {
                break;
            };
            if self.stamp.get(&k) == Some(&s) {
                self.stamp.remove(&k);
            }
        }
        if self.order.len() > 4 * self.cap + 64 {
            let stamp = &self.stamp;
            self.order.retain(|(k, s)| stamp.get(k) == Some(s));
        }
    }
    fn touch(&mut self, k: u64) {
        self.clock += 1;
        self.stamp.insert(k, self.clock);
        self.order.push_back((k, self.clock));
    }
}

/// What policies see of a held trace: attributes come from precomputed route tables.
struct View<'a> {
    e: &'a Entry,
    /// memo[leaf][route] for traces whose root (the span carrying the path) has arrived.
    memo: &'a [Vec<bool>],
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
}

/// A synthetic route's root-span attributes, as a trace the policies can be asked about.
struct RouteTrace {
    attrs: Vec<(String, AttrValue)>,
}

impl TraceView for RouteTrace {
    fn trace_id(&self) -> [u8; 16] {
        [0; 16]
    }
    fn attr_hit(&self, _leaf: usize, key: &str, hit: &dyn Fn(&AttrValue, bool) -> bool) -> bool {
        self.attrs.iter().any(|(k, v)| k == key && hit(v, false))
    }
    fn any_status(&self, _codes: &[StatusCode]) -> bool {
        false
    }
    fn for_each_span(&self, _f: &mut dyn FnMut(u64, u64) -> bool) {}
}

/// For every attribute policy (leaf) and route: does the route's root span match?
fn route_memo(cfg: &TailConfig, routes: &[String], key: &str) -> Vec<Vec<bool>> {
    use super::policy::{Policy, PolicyKind};
    let mut memo = vec![vec![false; routes.len()]; cfg.leaves];
    fn walk(p: &Policy, f: &mut dyn FnMut(&Policy)) {
        f(p);
        match &p.kind {
            PolicyKind::And(s) | PolicyKind::Drop(s) => s.iter().for_each(|q| walk(q, f)),
            PolicyKind::Not(q) => walk(q, f),
            _ => {}
        }
    }
    // Evaluate each leaf with invert off on each route: the raw "hit".
    let sem = Semantics {
        invert: super::policy::InvertMode::Plain,
        latency_lower_inclusive: true,
    };
    for p in &cfg.policies {
        walk(p, &mut |q| {
            let (leaf, raw) = match &q.kind {
                PolicyKind::StringAttribute {
                    leaf,
                    key,
                    values,
                    regexes,
                    ..
                } => (
                    *leaf,
                    PolicyKind::StringAttribute {
                        leaf: *leaf,
                        key: key.clone(),
                        values: values.clone(),
                        regexes: regexes.clone(),
                        invert: false,
                    },
                ),
                PolicyKind::NumericAttribute {
                    leaf,
                    key,
                    min,
                    max,
                    ..
                } => (
                    *leaf,
                    PolicyKind::NumericAttribute {
                        leaf: *leaf,
                        key: key.clone(),
                        min: *min,
                        max: *max,
                        invert: false,
                    },
                ),
                PolicyKind::BooleanAttribute {
                    leaf, key, value, ..
                } => (
                    *leaf,
                    PolicyKind::BooleanAttribute {
                        leaf: *leaf,
                        key: key.clone(),
                        value: *value,
                        invert: false,
                    },
                ),
                _ => return,
            };
            let probe = Policy {
                name: String::new(),
                kind: raw,
            };
            for (r, path) in routes.iter().enumerate() {
                let t = RouteTrace {
                    attrs: vec![
                        (key.to_string(), AttrValue::Str(path.clone())),
                        ("http.request.method".into(), AttrValue::Str("GET".into())),
                    ],
                };
                memo[leaf][r] = probe.evaluate(&t, &sem) == super::policy::Decision::Sampled;
            }
        });
    }
    memo
}

/// Counters of one replication.
#[derive(Default)]
struct Counts {
    traces: u64,
    kept: u64,
    error_traces: u64,
    error_kept: u64,
    slow_traces: u64,
    slow_kept: u64,
    probe_traces: u64,
    probe_kept: u64,
    stored_spans: u64,
    ingested_spans: u64,
    dropped_undecided: u64,
    fragments: u64,
    peak_pending: u64,
    peak_buffer_spans: u64,
    /// Pending traces and buffered spans at the end of the simulated window.
    end_pending: Option<(u64, u64)>,
}

impl Counts {
    fn outcome(&mut self, m: &Meta, kept: bool) {
        self.traces += 1;
        self.kept += kept as u64;
        if m.error_root || m.error_child {
            self.error_traces += 1;
            self.error_kept += kept as u64;
        }
        if m.slow {
            self.slow_traces += 1;
            self.slow_kept += kept as u64;
        }
        if m.probe {
            self.probe_traces += 1;
            self.probe_kept += kept as u64;
        }
    }
}

struct Collector<'a> {
    cfg: &'a TailConfig,
    sem: Semantics,
    memo: Vec<Vec<bool>>,
    map: IdMap<Entry>,
    fifo: VecDeque<u128>,
    /// Batches waiting for their decision tick; the front is decided next.
    batches: VecDeque<Vec<u128>>,
    sampled: Lru,
    not_sampled: Lru,
    pending: u64,
    buffered_spans: u64,
    counts: Counts,
}

impl Collector<'_> {
    /// Spans of `meta` arrive: a batch with the root (`root`) or children only.
    /// `after_first` says an earlier batch of this trace was exported, so a new entry made by
    /// this batch is a fragment of a trace the collector already saw.
    #[allow(clippy::too_many_arguments)]
    fn spans(
        &mut self,
        meta: Meta,
        root: bool,
        after_first: bool,
        lo: u64,
        hi: u64,
        n: u32,
        error: bool,
    ) {
        self.counts.ingested_spans += n as u64;
        let id = meta.id;
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
        if let Some(e) = self.map.get_mut(&id) {
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
            id,
            Entry {
                meta,
                root,
                lo,
                hi,
                error,
                spans: n,
                decided: None,
            },
        );
        self.fifo.push_back(id);
        self.batches
            .back_mut()
            .expect("pipeline is never empty")
            .push(id);
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

    /// One 1-second tick: decide the batch that came due, open a new one.
    fn tick(&mut self) {
        let due = self.batches.pop_front().unwrap_or_default();
        for id in due {
            let Some(e) = self.map.get(&id) else { continue };
            if e.decided.is_some() {
                continue;
            }
            let view = View {
                e,
                memo: &self.memo,
            };
            let f = decide(
                &self.cfg.policies,
                &view,
                &self.sem,
                self.cfg.sample_on_first_match,
            );
            let (meta, root, spans) = (e.meta, e.root, e.spans);
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
                self.map.remove(&id);
            } else if let Some(e) = self.map.get_mut(&id) {
                e.decided = Some(f.sampled);
                e.spans = 0;
            }
        }
        self.batches.push_back(Vec::new());
    }
}

/// Runs one replication.
pub(super) fn run(
    p: &TailSamplingParams,
    cfg: &TailConfig,
    sem: Semantics,
    streams: &RngStreams,
) -> Outcome {
    let mut rng = streams.stream("traffic");
    let mut ids = streams.stream("trace-ids");
    let rate = p.rpm / 60.0;
    let gaps = Exp::new(rate).expect("validated rpm");
    let lat = LogNormal::new(p.latency_median_ms.ln(), p.latency_sigma.max(1e-12))
        .expect("validated latency");
    let extra_spans = (p.spans_per_trace > 1.0)
        .then(|| Poisson::new(p.spans_per_trace - 1.0).expect("validated spans"));
    let mut routes: Vec<String> = p.probe_paths.clone();
    let n_probe = routes.len();
    routes.extend(p.business_paths.iter().cloned());
    let memo = route_memo(cfg, &routes, &p.attribute_key);

    let ticks_wait = (cfg.decision_wait_s.floor() as usize).max(1);
    let mut c = Collector {
        cfg,
        sem,
        memo,
        map: IdMap::default(),
        fifo: VecDeque::new(),
        batches: (0..=ticks_wait).map(|_| Vec::new()).collect(),
        sampled: Lru::new(cfg.sampled_cache_size),
        not_sampled: Lru::new(cfg.non_sampled_cache_size),
        pending: 0,
        buffered_spans: 0,
        counts: Counts::default(),
    };
    let horizon = SimTime::ZERO + SimDuration::from_secs_f64(p.sim_hours * 3600.0);
    let export = SimDuration::from_secs_f64(p.export_interval_s).0.max(1);
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1 << 16);
    sched.schedule_in(
        SimDuration::from_secs_f64(gaps.sample(&mut rng)),
        Ev::Request,
    );
    sched.schedule_in(SimDuration::from_secs(1), Ev::Tick);

    let mut ticking = true;
    while let Some((now, ev)) = sched.pop() {
        match ev {
            Ev::Request => {
                if now < horizon {
                    let probe = uniform(&mut rng) < p.probe_share;
                    let (route, dur_ms, spans, err) = if probe {
                        let r = (rng.next_u64() % n_probe as u64) as usize;
                        (
                            r,
                            p.probe_latency_ms,
                            1,
                            uniform(&mut rng) < p.probe_error_rate,
                        )
                    } else {
                        let nb = routes.len() - n_probe;
                        let r = n_probe + (rng.next_u64() % nb as u64) as usize;
                        let extra = extra_spans
                            .as_ref()
                            .map_or(0, |d| d.sample(&mut rng) as u32);
                        (
                            r,
                            lat.sample(&mut rng),
                            1 + extra,
                            uniform(&mut rng) < p.error_rate,
                        )
                    };
                    let on_child = err && spans > 1 && uniform(&mut rng) < p.child_error_share;
                    let duration = SimDuration::from_secs_f64(dur_ms / 1000.0).0;
                    let meta = Meta {
                        id: ((ids.next_u64() as u128) << 64) | ids.next_u64() as u128,
                        route: route as u16,
                        probe,
                        error_root: err && !on_child,
                        error_child: on_child,
                        slow: dur_ms >= p.slow_threshold_ms,
                    };
                    // Each service exports on its own 5 s schedule: a random phase per trace.
                    let phase = rng.next_u64() % export;
                    let export_at = |t: u64| ((t + phase) / export + 1) * export - phase;
                    // Spans are exported at the service's next export tick after they end:
                    // the first child early (at 5% of the request), the other children by
                    // 90%, the root at the end. Spans sharing a tick travel together.
                    let start = now.0;
                    let first_end = start + duration / 20;
                    let rest_end = start + duration * 9 / 10;
                    let end = start + duration;
                    let mut batches: Vec<(u64, Batch)> = Vec::with_capacity(3);
                    let mut add = |at: u64, root: bool, lo: u64, hi: u64, n: u32, error: bool| {
                        if n == 0 {
                            return;
                        }
                        if let Some((t, b)) = batches.last_mut() {
                            if *t == at {
                                b.root |= root;
                                b.lo = b.lo.min(lo);
                                b.hi = b.hi.max(hi);
                                b.spans += n;
                                b.error |= error;
                                return;
                            }
                        }
                        let after_first = !batches.is_empty();
                        batches.push((
                            at,
                            Batch {
                                meta,
                                root,
                                after_first,
                                lo,
                                hi,
                                spans: n,
                                error,
                            },
                        ));
                    };
                    if spans > 1 {
                        let child_err_first = meta.error_child && spans == 2;
                        add(
                            export_at(first_end),
                            false,
                            start + duration / 50,
                            first_end,
                            1,
                            child_err_first,
                        );
                        add(
                            export_at(rest_end),
                            false,
                            first_end,
                            rest_end,
                            spans - 2,
                            meta.error_child && spans > 2,
                        );
                    }
                    add(export_at(end), true, start, end, 1, meta.error_root);
                    for (at, b) in batches {
                        sched.schedule_in(SimDuration(at - now.0), Ev::Spans(b));
                    }
                    sched.schedule_in(
                        SimDuration::from_secs_f64(gaps.sample(&mut rng)),
                        Ev::Request,
                    );
                }
            }
            Ev::Spans(b) => {
                if !ticking {
                    // Resume on the 1 s grid the ticks kept before.
                    let next = (now.0 / 1_000_000_000 + 1) * 1_000_000_000;
                    sched.schedule_in(SimDuration(next - now.0), Ev::Tick);
                    ticking = true;
                }
                c.spans(b.meta, b.root, b.after_first, b.lo, b.hi, b.spans, b.error);
            }
            Ev::Tick => {
                c.tick();
                if now >= horizon && c.counts.end_pending.is_none() {
                    c.counts.end_pending = Some((c.pending, c.buffered_spans));
                }
                // After the horizon, tick only while traces wait for a decision; late spans
                // of far-off roots restart the clock (see `Ev::Spans`) instead of ticking
                // through empty hours.
                if now < horizon || c.pending > 0 {
                    sched.schedule_in(SimDuration::from_secs(1), Ev::Tick);
                } else {
                    ticking = false;
                }
            }
        }
    }

    let k = &c.counts;
    let day = 24.0 / p.sim_hours;
    let frac = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut out = Outcome::default();
    out.set("traces_per_day", k.traces as f64 * day);
    out.set("stored_traces_per_day", k.kept as f64 * day);
    out.set("kept_fraction", frac(k.kept, k.traces));
    if k.error_traces > 0 {
        out.set(
            "error_traces_kept_fraction",
            frac(k.error_kept, k.error_traces),
        );
    }
    if k.slow_traces > 0 {
        out.set(
            "slow_traces_kept_fraction",
            frac(k.slow_kept, k.slow_traces),
        );
    }
    if k.probe_traces > 0 {
        out.set(
            "health_traces_kept_fraction",
            frac(k.probe_kept, k.probe_traces),
        );
    }
    out.set(
        "dropped_undecided_per_day",
        k.dropped_undecided as f64 * day,
    );
    out.set("fragment_traces_per_day", k.fragments as f64 * day);
    out.set("peak_pending_traces", k.peak_pending as f64);
    out.set(
        "peak_buffer_mb",
        k.peak_buffer_spans as f64 * p.buffer_bytes_per_span / 1e6,
    );
    let (end_pending, end_spans) = k.end_pending.unwrap_or((0, 0));
    out.set("pending_traces_at_end", end_pending as f64);
    out.set(
        "buffer_mb_at_end",
        end_spans as f64 * p.buffer_bytes_per_span / 1e6,
    );
    let stored_spans_day = k.stored_spans as f64 * day;
    let gb_month = stored_spans_day * p.stored_bytes_per_span * p.retention_days / 1e9;
    out.set("stored_spans_per_day", stored_spans_day);
    out.set("stored_gb_month", gb_month);
    let storage = gb_month * p.storage_usd_per_gb_month;
    out.set("storage_usd_month", storage);
    let total = (gb_month + p.log_gb_month) * p.storage_usd_per_gb_month;
    out.set("total_usd_month", total);
    // The vendor is billed on every span ingested (no tail sampling in front), 30-day month.
    let vendor = k.ingested_spans as f64 * day * 30.0 / 1e6 * p.vendor_usd_per_million_spans;
    out.set("vendor_usd_month", vendor);
    if vendor > 0.0 {
        out.set("cost_ratio", total / vendor);
    }
    out
}
