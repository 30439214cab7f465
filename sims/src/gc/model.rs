//! The event loop of the `gc` room: c workers, one FIFO queue, a heap and a collector.
//!
//! A request allocates its bytes when it starts. The heap is `alive after the last collection +
//! allocated since the current (or last) collection started`. At heap ≥ coefficient × target
//! an epoch starts: the stop-the-world part (time to safepoint, roots, and for `pmcs` the
//! parallel mark) freezes every request in service and every start; the concurrent parts
//! (`cms` mark, sweep) hold `gc_threads` cores, so fewer requests start. With assists on, a
//! request start that takes the heap to the target stalls every worker until the epoch ends.
//! At the end, the live set is drawn and autotune sets target = live / utilisation.

use std::collections::VecDeque;

use rand_distr::{Distribution, Exp, LogNormal};

use super::params::{Collector, Effective, GcParams, ServiceShape};
use crate::des::{EventKey, RngStreams, Scheduler, SimDuration, SimTime, Stream, uniform};
use crate::simulation::{Outcome, RunError};
use crate::stats::{LatencyHistogram, Tally};

#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival,
    Done(u32),
    /// Frozen time ends (its own end time, since freezes can be extended).
    Thaw,
    /// `cms`: the concurrent mark ends; STW #2 follows.
    MarkDone,
    /// The STW part ends and the sweep starts.
    StwDone,
    /// The sweep ends: the epoch is over.
    EpochDone,
    /// The regular-interval timer.
    Timer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Stw,
    ConcurrentMark,
    Sweep,
}

#[derive(Clone, Copy)]
struct Busy {
    arrived: SimTime,
    finish: SimTime,
    key: EventKey,
}

/// A GC pause or stall as it happened: (start s, duration s, is an assist stall).
pub(crate) type PauseRecord = (f64, f64, bool);

struct Server {
    p: GcParams,
    e: Effective,
    sched: Scheduler<Ev>,
    slots: Vec<Option<Busy>>,
    busy: u32,
    queue: VecDeque<(SimTime, SimDuration)>,
    frozen_until: SimTime,
    phase: Phase,
    stolen: u32,
    // Heap, MB.
    alive: f64,
    allocated: f64,
    target: f64,
    heap_peak: f64,
    epoch_end: SimTime,
    epoch_live: f64,
    /// `cms`: the concurrent mark's length, s, pending at StwDone (0 once started).
    pending_conc: f64,
    /// `cms`: STW #2's length, s.
    stw2: f64,
    /// The sweep's length, s, pending.
    pending_sweep: f64,
    stalled_this_epoch: bool,
    last_gc_start: SimTime,
    // Random sources.
    gc_rng: Stream,
    /// Mean residual time to a safepoint, s.
    ttsp_mean: f64,
    jitter: LogNormal<f64>,
    live: LogNormal<f64>,
    // Observations (from `measure_from` on).
    measure_from: SimTime,
    measure_to: SimTime,
    gcs: u64,
    gc_cpu_core_s: f64,
    pauses: Vec<PauseRecord>,
    trigger_ratio: Tally,
    target_after: Tally,
}

fn lognormal_mean_one(sigma: f64) -> LogNormal<f64> {
    LogNormal::new(-sigma * sigma / 2.0, sigma).expect("validated: sigma finite")
}

impl Server {
    fn heap(&self) -> f64 {
        self.alive + self.allocated
    }

    fn measuring(&self, now: SimTime) -> bool {
        now >= self.measure_from && now < self.measure_to
    }

    /// Freezes every request in service and every start until `until`.
    fn freeze(&mut self, until: SimTime) {
        let now = self.sched.now();
        let from = now.max(self.frozen_until);
        if until <= from {
            return;
        }
        let extra = until.since(from);
        for (i, s) in self.slots.iter_mut().enumerate() {
            if let Some(b) = s {
                self.sched.cancel(b.key);
                b.finish += extra;
                b.key = self
                    .sched
                    .schedule_at(b.finish, Ev::Done(i as u32))
                    .expect("later than now");
            }
        }
        self.frozen_until = until;
        self.sched
            .schedule_at(until, Ev::Thaw)
            .expect("later than now");
    }

    fn record_pause(&mut self, start: SimTime, d: SimDuration, stall: bool) {
        if self.measuring(start) {
            self.pauses
                .push((start.as_secs_f64(), d.as_secs_f64(), stall));
        }
    }

    /// Starts waiting requests while cores are free and nothing is frozen.
    fn start_work(&mut self) {
        let now = self.sched.now();
        let cap = self.p.cores - self.stolen;
        while now >= self.frozen_until && self.busy < cap {
            let Some((arrived, work)) = self.queue.pop_front() else {
                return;
            };
            let slot = self
                .slots
                .iter()
                .position(Option::is_none)
                .expect("a free slot");
            let finish = now + work;
            let key = self
                .sched
                .schedule_at(finish, Ev::Done(slot as u32))
                .expect("not in the past");
            self.slots[slot] = Some(Busy {
                arrived,
                finish,
                key,
            });
            self.busy += 1;
            if self.p.gc {
                self.allocate();
            }
        }
    }

    fn allocate(&mut self) {
        let e = self.e;
        self.allocated += e.alloc_mb;
        let h = self.heap();
        self.heap_peak = self.heap_peak.max(h);
        if self.phase == Phase::Idle {
            if h >= self.p.trigger_coefficient * self.target {
                self.start_epoch();
            }
        } else if e.assists && h >= self.target && !self.stalled_this_epoch {
            // Mutators wait until the epoch finishes.
            self.stalled_this_epoch = true;
            let now = self.sched.now();
            let until = self.epoch_end;
            if until > now {
                self.record_pause(now, until.since(now), true);
                self.freeze(until);
            }
        }
    }

    fn start_epoch(&mut self) {
        let now = self.sched.now();
        let p = self.p.clone();
        let e = self.e;
        self.phase = Phase::Stw;
        self.stalled_this_epoch = false;
        self.last_gc_start = now;
        let live = p.live_set_mb * self.live.sample(&mut self.gc_rng);
        self.epoch_live = live;
        let lp = if e.large_pages {
            1.0 - p.large_pages_cut
        } else {
            1.0
        };
        let ttsp = self.draw_ttsp();
        let full_mark =
            live / (p.mark_gb_per_s * 1000.0) * lp * self.jitter.sample(&mut self.gc_rng);
        let heap = self.heap();
        let sweep = heap / (p.sweep_gb_per_s * 1000.0);
        if self.measuring(now) {
            self.gcs += 1;
            self.trigger_ratio
                .push(self.allocated / self.alive.max(1e-9));
        }
        // `allocatedSinceGCStart` restarts now.
        self.allocated = 0.0;
        let root = p.root_scan_ms / 1000.0;
        let (stw1, conc, stw2) = match p.collector {
            Collector::Pmcs => (ttsp + root + full_mark, 0.0, 0.0),
            Collector::Cms => {
                let conc = live / (p.concurrent_mark_gb_per_s * 1000.0) * lp;
                let stw2 = self.draw_ttsp() + p.remark_fraction * full_mark;
                (ttsp + root, conc, stw2)
            }
        };
        let stw1_d = SimDuration::from_secs_f64(stw1);
        self.epoch_end = now + SimDuration::from_secs_f64(stw1 + conc + stw2 + sweep);
        let threads = f64::from(p.gc_threads);
        let cores = f64::from(p.cores);
        if self.measuring(now) {
            self.gc_cpu_core_s += (stw1 + stw2) * cores + (conc + sweep) * threads;
        }
        self.record_pause(now, stw1_d, false);
        self.freeze(now + stw1_d);
        self.sched.schedule_in(stw1_d, Ev::StwDone);
        self.pending_conc = conc;
        self.stw2 = stw2;
        self.pending_sweep = sweep;
    }

    fn draw_ttsp(&mut self) -> f64 {
        // The slowest of the requests in service to reach a safepoint: the max of `busy`
        // exponentials, drawn by inversion.
        if self.ttsp_mean <= 0.0 || self.busy == 0 {
            return 0.0;
        }
        let u = uniform(&mut self.gc_rng);
        let k = f64::from(self.busy);
        -self.ttsp_mean * (1.0 - u.powf(1.0 / k)).max(1e-300).ln()
    }

    /// The STW part is over: concurrent mark (`cms`) or sweep.
    fn stw_done(&mut self) {
        if self.pending_conc > 0.0 {
            self.phase = Phase::ConcurrentMark;
            self.stolen = self.p.gc_threads;
            let conc = std::mem::take(&mut self.pending_conc);
            self.sched
                .schedule_in(SimDuration::from_secs_f64(conc), Ev::MarkDone);
        } else {
            self.begin_sweep();
        }
        self.start_work();
    }

    /// `cms`: STW #2 finishes the mark, then the sweep.
    fn mark_done(&mut self) {
        let now = self.sched.now();
        self.stolen = 0;
        self.phase = Phase::Stw;
        let d = SimDuration::from_secs_f64(self.stw2);
        self.record_pause(now, d, false);
        self.freeze(now + d);
        self.sched.schedule_in(d, Ev::StwDone);
    }

    fn begin_sweep(&mut self) {
        self.phase = Phase::Sweep;
        self.stolen = self.p.gc_threads;
        self.sched.schedule_in(
            SimDuration::from_secs_f64(self.pending_sweep),
            Ev::EpochDone,
        );
    }

    fn epoch_done(&mut self) {
        let e = self.e;
        self.phase = Phase::Idle;
        self.stolen = 0;
        self.alive = self.epoch_live;
        if e.autotune {
            let mut t = (self.alive / self.p.target_utilization).max(e.min_heap_mb);
            if e.max_heap_mb > 0.0 {
                t = t.min(e.max_heap_mb);
            }
            self.target = t;
        }
        if self.measuring(self.sched.now()) {
            self.target_after.push(self.target);
        }
        self.heap_peak = self.heap_peak.max(self.heap());
        if self.heap() >= self.p.trigger_coefficient * self.target {
            self.start_epoch();
        }
        self.start_work();
    }

    fn timer(&mut self) {
        let now = self.sched.now();
        let interval = SimDuration::from_secs_f64(self.p.regular_gc_interval_s);
        if self.phase == Phase::Idle && now.since(self.last_gc_start) >= interval {
            self.start_epoch();
        }
        let next = self.last_gc_start.max(now) + interval;
        let next = if next <= now { now + interval } else { next };
        self.sched.schedule_at(next, Ev::Timer).expect("later");
    }
}

/// Runs one replication.
pub(super) fn run(p: &GcParams, streams: &RngStreams) -> Result<Outcome, RunError> {
    let mut arrival_rng = streams.stream("arrivals");
    let mut service_rng = streams.stream("service");
    let e = p.effective();
    let gap = Exp::new(p.arrival_rate).expect("validated: rate > 0");
    let median_s = p.service_median_ms / 1000.0;
    let own = match p.service_shape {
        ServiceShape::Lognormal => {
            Own::Lognormal(LogNormal::new(median_s.ln(), p.service_sigma).expect("validated sigma"))
        }
        ServiceShape::Exp => Own::Exp(Exp::new(1.0 / median_s).expect("validated mean")),
    };
    let measure_from = SimTime::ZERO + SimDuration::from_secs_f64(p.warmup_s);
    let measure_to = measure_from + SimDuration::from_secs_f64(p.duration_s);
    let mut s = Server {
        p: p.clone(),
        e,
        sched: Scheduler::with_capacity(p.cores as usize + 64),
        slots: vec![None; p.cores as usize],
        busy: 0,
        queue: VecDeque::new(),
        frozen_until: SimTime::ZERO,
        phase: Phase::Idle,
        stolen: 0,
        // A warm server: the live set is in the heap from the start.
        alive: if p.gc { p.live_set_mb } else { 0.0 },
        allocated: 0.0,
        target: e.target_heap_mb,
        heap_peak: 0.0,
        epoch_end: SimTime::ZERO,
        epoch_live: p.live_set_mb,
        pending_conc: 0.0,
        stw2: 0.0,
        pending_sweep: 0.0,
        stalled_this_epoch: false,
        last_gc_start: SimTime::ZERO,
        gc_rng: streams.stream("gc"),
        ttsp_mean: p.ttsp_mean_ms / 1000.0,
        jitter: lognormal_mean_one(p.pause_sigma),
        live: lognormal_mean_one(p.live_cv),
        measure_from,
        measure_to,
        gcs: 0,
        gc_cpu_core_s: 0.0,
        pauses: Vec::new(),
        trigger_ratio: Tally::new(),
        target_after: Tally::new(),
    };
    s.sched.schedule_in(
        SimDuration::from_secs_f64(gap.sample(&mut arrival_rng)),
        Ev::Arrival,
    );
    if p.gc {
        s.sched.schedule_in(
            SimDuration::from_secs_f64(p.regular_gc_interval_s),
            Ev::Timer,
        );
    }
    let mut latency = LatencyHistogram::new();
    let mut latency_tally = Tally::new();
    let mut busy_core_s = 0.0;
    let mut outstanding: u64 = 0;
    let queue_cap = (p.arrival_rate * 60.0).max(1e6) as usize;
    while let Some((now, ev)) = s.sched.pop() {
        match ev {
            Ev::Arrival => {
                if now >= measure_to {
                    continue;
                }
                let work = own.sample(&mut service_rng) + e.alloc_cpu_s;
                let work = SimDuration::from_secs_f64(work);
                if now >= measure_from {
                    outstanding += 1;
                    busy_core_s += work.as_secs_f64();
                }
                s.queue.push_back((now, work));
                s.start_work();
                if s.queue.len() > queue_cap {
                    return Err(RunError::Infeasible(format!(
                        "more than {queue_cap} requests waiting at t = {:.1} s: the collector \
                         takes more than the spare capacity (GC CPU on top of a load of {:.2})",
                        now.as_secs_f64(),
                        p.arrival_rate * p.mean_service_s() / f64::from(p.cores)
                    )));
                }
                s.sched.schedule_in(
                    SimDuration::from_secs_f64(gap.sample(&mut arrival_rng)),
                    Ev::Arrival,
                );
            }
            Ev::Done(i) => {
                let b = s.slots[i as usize].take().expect("a busy slot");
                s.busy -= 1;
                if b.arrived >= measure_from && b.arrived < measure_to {
                    let d = now.since(b.arrived);
                    latency.record(d);
                    latency_tally.push(d.as_secs_f64());
                    outstanding -= 1;
                }
                s.start_work();
                if outstanding == 0 && now >= measure_to {
                    break;
                }
            }
            Ev::Thaw => {
                if now >= s.frozen_until {
                    s.start_work();
                }
            }
            Ev::StwDone => s.stw_done(),
            Ev::MarkDone => s.mark_done(),
            Ev::EpochDone => s.epoch_done(),
            Ev::Timer => {
                if now < measure_to {
                    s.timer();
                }
            }
        }
    }

    let mut out = Outcome::default();
    let ms = 1000.0;
    if latency_tally.count() > 0 {
        out.set("latency_mean_ms", latency_tally.mean() * ms);
        out.set("latency_p50_ms", latency.value_at_quantile_s(0.50) * ms);
        out.set("latency_p99_ms", latency.value_at_quantile_s(0.99) * ms);
        out.set("latency_p999_ms", latency.value_at_quantile_s(0.999) * ms);
        out.set("latency_max_ms", latency_tally.max() * ms);
    }
    let minutes = p.duration_s / 60.0;
    out.set("gc_count_per_min", s.gcs as f64 / minutes);
    let stw: Vec<f64> = s.pauses.iter().map(|x| x.1).collect();
    let max_pause = stw.iter().copied().fold(0.0, f64::max);
    out.set("gc_pause_max_ms", max_pause * ms);
    if !stw.is_empty() {
        out.set(
            "gc_pause_mean_ms",
            stw.iter().sum::<f64>() / stw.len() as f64 * ms,
        );
    }
    let stalls = s.pauses.iter().filter(|x| x.2).count();
    out.set("assist_stalls_per_min", stalls as f64 / minutes);
    out.set("heap_peak_mb", s.heap_peak);
    let cores = f64::from(p.cores);
    out.set(
        "cpu_gc_fraction",
        (s.gc_cpu_core_s / (cores * p.duration_s)).min(1.0),
    );
    out.set(
        "utilization",
        (busy_core_s / (cores * p.duration_s)).min(1.0),
    );
    out.set("alloc_rate_mb_per_s", p.arrival_rate * e.alloc_mb);
    if s.trigger_ratio.count() > 0 {
        out.set("gc_trigger_alloc_per_live", s.trigger_ratio.mean());
    }
    if s.target_after.count() > 0 {
        out.set("target_heap_after_gc_mb", s.target_after.mean());
    }
    Ok(out)
}

enum Own {
    Lognormal(LogNormal<f64>),
    Exp(Exp<f64>),
}

impl Own {
    fn sample(&self, rng: &mut Stream) -> f64 {
        match self {
            Own::Lognormal(d) => d.sample(rng),
            Own::Exp(d) => d.sample(rng),
        }
    }
}
