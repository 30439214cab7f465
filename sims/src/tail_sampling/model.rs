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
//!
//! This file holds the traffic (requests, their spans and export batches) and the event loop;
//! the collector is in `collector.rs`, its decision caches in `cache.rs`, the policies'
//! per-route answers in `routes.rs`, the counters and the metrics they give in `counts.rs`.

use std::collections::VecDeque;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Poisson};

use super::cache::Lru;
use super::collector::Collector;
use super::config::TailConfig;
use super::counts::Counts;
use super::ids::{Meta, OrdMap};
use super::limits::PolicyState;
use super::params::TailSamplingParams;
use super::policy::Semantics;
use super::routes::route_memo;
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime, uniform};
use crate::simulation::Outcome;

#[derive(Clone, Copy, Debug)]
enum Ev {
    Request,
    /// One SDK export batch of a trace's spans reaches the collector: its slot in the
    /// in-flight slab (a small index keeps the event heap's entries at 24 bytes, not ~96).
    Spans(u32),
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
    let memo = route_memo(cfg, &routes, &p.attribute_key, &p.trace_state);

    let ticks_wait = (cfg.decision_wait_s.floor() as usize).max(1);
    let mut c = Collector {
        cfg,
        sem,
        memo,
        bytes_per_span: p.otlp_bytes_per_span,
        state: PolicyState::new(cfg.slots),
        map: OrdMap::default(),
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
    let mut requests: u64 = 0;
    // A request's export batches (at most three), reused from request to request.
    let mut batches: Vec<(u64, Batch)> = Vec::with_capacity(3);
    // Batches in flight between their export and their arrival, with a free list.
    let mut in_flight: Vec<Batch> = Vec::with_capacity(1 << 12);
    let mut free: Vec<u32> = Vec::new();
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
                    // Drawn only when some traces carry a tracestate, so the stream of a
                    // scenario without one is unchanged.
                    let has_state =
                        p.trace_state_share > 0.0 && uniform(&mut rng) < p.trace_state_share;
                    let duration = SimDuration::from_secs_f64(dur_ms / 1000.0).0;
                    requests += 1;
                    let meta = Meta {
                        id: ((ids.next_u64() as u128) << 64) | ids.next_u64() as u128,
                        ord: requests,
                        route: route as u16,
                        probe,
                        error_root: err && !on_child,
                        error_child: on_child,
                        slow: dur_ms >= p.slow_threshold_ms,
                        has_state,
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
                    batches.clear();
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
                    for (at, b) in batches.drain(..) {
                        let slot = match free.pop() {
                            Some(slot) => {
                                in_flight[slot as usize] = b;
                                slot
                            }
                            None => {
                                in_flight.push(b);
                                (in_flight.len() - 1) as u32
                            }
                        };
                        sched.schedule_in(SimDuration(at - now.0), Ev::Spans(slot));
                    }
                    sched.schedule_in(
                        SimDuration::from_secs_f64(gaps.sample(&mut rng)),
                        Ev::Request,
                    );
                }
            }
            Ev::Spans(slot) => {
                let b = in_flight[slot as usize];
                free.push(slot);
                if !ticking {
                    // Resume on the 1 s grid the ticks kept before.
                    let next = (now.0 / 1_000_000_000 + 1) * 1_000_000_000;
                    sched.schedule_in(SimDuration(next - now.0), Ev::Tick);
                    ticking = true;
                }
                c.spans(b.meta, b.root, b.after_first, b.lo, b.hi, b.spans, b.error);
            }
            Ev::Tick => {
                c.tick(now.0);
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

    c.counts.report(p)
}
