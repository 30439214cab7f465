//! The cluster: its state (replicas' roles, requests, queues, the measurement window), its
//! construction from the params and its event loop, and what happens when a step ends (first
//! tokens, completions, closed-loop successors).

use std::collections::VecDeque;

use rand_distr::{Distribution, Exp};

use super::engine::{Engine, GpuTick, Out};
use super::hardware::{Hardware, Layout};
use super::params::{Arrival, GpuServingParams, Placement, Policy};
use super::workload::{Lengths, MONTH_S, OpenArrivals, Tenants};
use crate::des::{Priority, RngStreams, Scheduler, SimDuration, SimTime, Stream};
use crate::simulation::RunError;
use crate::stats::{LatencyHistogram, Tally};

/// Requests waiting in the application queue beyond which the cluster counts as overloaded.
const QUEUE_CAP: usize = 2_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Reserved,
    Shared,
    /// Finishing its sequences before its pod goes back to batch.
    Draining,
    /// A new pod is starting; `reserved` says for which pool.
    Starting {
        reserved: bool,
    },
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Ev {
    Tick(GpuTick),
    Arrival(u8),
    Think(u8),
    Requeue(u32),
    PodCheck,
    PodReady(u32),
    Warm,
    End,
}

impl From<GpuTick> for Ev {
    fn from(t: GpuTick) -> Ev {
        Ev::Tick(t)
    }
}

pub(super) const NO_SEQ: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(super) struct Req {
    pub(super) class: u8,
    pub(super) arrived: SimTime,
    pub(super) prompt: u32,
    pub(super) output: u32,
    /// Output tokens persisted (checkpointed) by earlier admissions.
    pub(super) done: u32,
    pub(super) first: bool,
    pub(super) seq: u32,
    pub(super) measured: bool,
    pub(super) alive: bool,
}

#[derive(Default)]
pub(super) struct Window {
    pub(super) ttft: [Tally; 2],
    pub(super) e2e: [Tally; 2],
    pub(super) ttft_hist: [LatencyHistogram; 2],
    pub(super) e2e_hist: [LatencyHistogram; 2],
    pub(super) completions: [u64; 3],
    pub(super) open_arrivals: u64,
    pub(super) rejected: u64,
    pub(super) preemptions: u64,
    pub(super) pod_evictions: u64,
    pub(super) p2_processed: u64,
    pub(super) p2_lost: u64,
}

pub(super) struct Cluster<'a> {
    pub(super) p: &'a GpuServingParams,
    pub(super) engine: Engine,
    pub(super) sched: Scheduler<Ev>,
    pub(super) roles: Vec<Role>,
    /// Units in the order the reserved pool grows into.
    pub(super) order: Vec<u32>,
    pub(super) reserved_init: usize,
    pub(super) reserved_now: usize,
    pub(super) quiet_checks: u32,
    /// P0 first tokens in the controller's current look, and how many came too late.
    pub(super) p0_seen: u64,
    pub(super) p0_slow: u64,
    pub(super) reqs: Vec<Req>,
    pub(super) free_reqs: Vec<u32>,
    pub(super) queues: [VecDeque<u32>; 3],
    pub(super) lengths: [Lengths; 3],
    pub(super) tenants: [Tenants; 3],
    pub(super) open: [Option<OpenArrivals>; 3],
    pub(super) think: [Option<Exp<f64>>; 3],
    pub(super) rng_arrival: [Stream; 3],
    pub(super) rng_tokens: [Stream; 3],
    pub(super) rng_tenant: [Stream; 3],
    pub(super) rng_think: Stream,
    pub(super) warm_end: SimTime,
    pub(super) end: SimTime,
    pub(super) measuring: bool,
    pub(super) w: Window,
    pub(super) out_buf: Vec<Out>,
}

impl<'a> Cluster<'a> {
    pub(super) fn new(
        p: &'a GpuServingParams,
        hw: &Hardware,
        layout: Layout,
        gpus: u32,
        start_hour: f64,
        streams: &RngStreams,
    ) -> Cluster<'a> {
        let engine = Engine::new(
            hw,
            gpus,
            layout.units,
            layout.max_seqs,
            layout.kv_tokens,
            p.max_prefill_tokens_per_step,
        );
        let units = (gpus * layout.units) as usize;
        let order: Vec<u32> = match p.reserved_placement {
            Placement::Packed => (0..units as u32).collect(),
            Placement::Spread => (0..layout.units)
                .flat_map(|r| (0..gpus).map(move |g| g * layout.units + r))
                .collect(),
        };
        let reserved_init = if p.policy == Policy::ReservedPool && p.reserved_share > 0.0 {
            ((p.reserved_share * units as f64 - 1e-9).ceil() as usize).clamp(1, units)
        } else {
            0
        };
        let mut roles = vec![Role::Shared; units];
        for &u in &order[..reserved_init] {
            roles[u as usize] = Role::Reserved;
        }
        let warmup_s = p.warmup_minutes * 60.0;
        let hour_at_zero = start_hour - warmup_s / 3600.0;
        let classes = p.classes();
        let open_total: f64 = classes
            .iter()
            .filter(|c| c.arrival == Arrival::Open)
            .map(|c| c.share)
            .sum();
        let names = ["p0", "p1", "p2"];
        let mut rng_arrival = names.map(|n| streams.stream(&format!("arrivals_{n}")));
        let open: [Option<OpenArrivals>; 3] = std::array::from_fn(|i| {
            let c = classes[i];
            if c.arrival != Arrival::Open || open_total <= 0.0 {
                return None;
            }
            let rate = p.monthly_requests * c.share / open_total / MONTH_S;
            OpenArrivals::new(p, c, rate, hour_at_zero, &mut rng_arrival[i])
        });
        let warm_end = SimTime(SimDuration::from_secs_f64(warmup_s).0);
        Cluster {
            p,
            engine,
            sched: Scheduler::with_capacity(units + 64),
            roles,
            order,
            reserved_init,
            reserved_now: reserved_init,
            quiet_checks: 0,
            p0_seen: 0,
            p0_slow: 0,
            reqs: Vec::new(),
            free_reqs: Vec::new(),
            queues: Default::default(),
            lengths: std::array::from_fn(|i| Lengths::new(classes[i], p.max_context_tokens)),
            tenants: std::array::from_fn(|i| Tenants::new(classes[i])),
            open,
            think: std::array::from_fn(|i| {
                let t = classes[i].think_s;
                (t > 0.0).then(|| Exp::new(1.0 / t).expect("validated: think_s > 0"))
            }),
            rng_arrival,
            rng_tokens: names.map(|n| streams.stream(&format!("tokens_{n}"))),
            rng_tenant: names.map(|n| streams.stream(&format!("tenants_{n}"))),
            rng_think: streams.stream("think"),
            warm_end,
            end: warm_end + SimDuration::from_secs_f64(p.sim_minutes * 60.0),
            measuring: warm_end == SimTime::ZERO,
            w: Window::default(),
            out_buf: Vec::new(),
        }
    }

    pub(super) fn run(&mut self, capacity: f64) -> Result<(), RunError> {
        let p = self.p;
        for c in 0..3u8 {
            let cp = p.classes()[c as usize];
            if cp.arrival == Arrival::Closed {
                for _ in 0..cp.concurrency {
                    self.sched.schedule_in(SimDuration::ZERO, Ev::Think(c));
                }
            } else if let Some(a) = &mut self.open[c as usize] {
                let t = a.next(p, &mut self.rng_arrival[c as usize]);
                self.sched
                    .schedule_in(SimDuration::from_secs_f64(t), Ev::Arrival(c));
            }
        }
        if p.pod_preemption && p.policy == Policy::ReservedPool {
            self.sched
                .schedule_in(SimDuration::from_secs_f64(p.pod_check_s), Ev::PodCheck);
        }
        if self.warm_end > SimTime::ZERO {
            self.sched
                .schedule_at_with(self.warm_end, Priority::URGENT, Ev::Warm)
                .expect("warm-up end is in the future");
        }
        self.sched
            .schedule_at_with(self.end, Priority::LATE, Ev::End)
            .expect("end is in the future");

        while let Some((now, ev)) = self.sched.pop() {
            match ev {
                Ev::End => break,
                Ev::Warm => {
                    self.engine.reset_stats(now);
                    self.w = Window::default();
                    self.measuring = true;
                }
                Ev::Tick(tick) => self.on_tick(tick, now),
                Ev::Arrival(c) => {
                    let ci = c as usize;
                    let tenant = self.tenants[ci].draw(&mut self.rng_tenant[ci]);
                    if self.measuring {
                        self.w.open_arrivals += 1;
                    }
                    if self.tenants[ci].admit(tenant, now.as_secs_f64()) {
                        let r = self.new_request(c, now);
                        self.arrive(r, now);
                    } else if self.measuring {
                        self.w.rejected += 1;
                    }
                    if let Some(a) = &mut self.open[ci] {
                        let t = a.next(p, &mut self.rng_arrival[ci]);
                        let at = SimTime(SimDuration::from_secs_f64(t).0).max(now);
                        self.sched
                            .schedule_at(at, Ev::Arrival(c))
                            .expect("not before now");
                    }
                }
                Ev::Think(c) => {
                    let r = self.new_request(c, now);
                    self.arrive(r, now);
                }
                Ev::Requeue(r) => self.requeue(r, now),
                Ev::PodCheck => {
                    self.pod_check(now);
                    self.sched
                        .schedule_in(SimDuration::from_secs_f64(p.pod_check_s), Ev::PodCheck);
                }
                Ev::PodReady(u) => {
                    let u = u as usize;
                    if let Role::Starting { reserved } = self.roles[u] {
                        self.roles[u] = if reserved {
                            Role::Reserved
                        } else {
                            Role::Shared
                        };
                    }
                    self.dispatch(u, now);
                }
            }
            self.engine.flush(now, &mut self.sched);
            let queued: usize = self.queues.iter().map(|q| q.len()).sum();
            if queued > QUEUE_CAP {
                return Err(RunError::Infeasible(format!(
                    "more than {QUEUE_CAP} requests waiting at t = {:.0} s: the cluster is \
                     overloaded (offered {:.1} requests/s at the daily peak, capacity {:.1}/s) \
                     and latencies would be meaningless",
                    now.as_secs_f64(),
                    p.monthly_requests / MONTH_S * p.daily_peak_to_mean,
                    capacity,
                )));
            }
        }
        Ok(())
    }

    pub(super) fn new_request(&mut self, c: u8, now: SimTime) -> u32 {
        let (prompt, output) = self.lengths[c as usize].draw(&mut self.rng_tokens[c as usize]);
        let req = Req {
            class: c,
            arrived: now,
            prompt,
            output,
            done: 0,
            first: false,
            seq: NO_SEQ,
            measured: now >= self.warm_end,
            alive: true,
        };
        match self.free_reqs.pop() {
            Some(r) => {
                self.reqs[r as usize] = req;
                r
            }
            None => {
                self.reqs.push(req);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    pub(super) fn queue_of(&self, class: u8) -> usize {
        if self.p.policy == Policy::Fifo {
            0
        } else {
            class as usize
        }
    }

    pub(super) fn kv_of(&self, r: u32) -> u32 {
        let q = &self.reqs[r as usize];
        q.prompt + q.output
    }
    fn on_tick(&mut self, tick: GpuTick, now: SimTime) {
        let finished = self.engine.on_tick(tick, now);
        let mut outs = std::mem::take(&mut self.out_buf);
        for &u in &finished {
            outs.clear();
            self.engine.finish_step(u as usize, &mut outs);
            for &o in &outs {
                match o {
                    Out::First(r) => self.on_first(r, now),
                    Out::Done(r) => self.on_done(r, now),
                }
            }
        }
        self.out_buf = outs;
        for &u in &finished {
            self.dispatch(u as usize, now);
        }
        self.engine.recycle(finished);
    }

    fn on_first(&mut self, r: u32, now: SimTime) {
        let q = &mut self.reqs[r as usize];
        if q.first {
            return;
        }
        q.first = true;
        if q.class == 0 {
            self.p0_seen += 1;
            let slow = now.since(q.arrived).as_secs_f64() * 1e3 > self.p.pod_scale_up_ttft_ms;
            self.p0_slow += u64::from(slow);
        }
        if q.measured && q.class < 2 {
            let d = now.since(q.arrived);
            let c = q.class as usize;
            self.w.ttft[c].push(d.as_secs_f64());
            self.w.ttft_hist[c].record(d);
        }
    }

    fn on_done(&mut self, r: u32, now: SimTime) {
        let q = &mut self.reqs[r as usize];
        let c = q.class as usize;
        if self.measuring {
            self.w.completions[c] += 1;
            if c == 2 {
                self.w.p2_processed += (q.prompt + q.output) as u64;
            }
        }
        if q.measured && c < 2 {
            let d = now.since(q.arrived);
            self.w.e2e[c].push(d.as_secs_f64());
            self.w.e2e_hist[c].record(d);
        }
        q.alive = false;
        q.seq = NO_SEQ;
        self.free_reqs.push(r);
        if self.p.classes()[c].arrival == Arrival::Closed {
            match &self.think[c] {
                Some(e) => {
                    let t = e.sample(&mut self.rng_think);
                    self.sched
                        .schedule_in(SimDuration::from_secs_f64(t), Ev::Think(c as u8));
                }
                None => {
                    let r = self.new_request(c as u8, now);
                    self.arrive(r, now);
                }
            }
        }
    }
}
