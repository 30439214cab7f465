//! One replication: the probes, the cost model, then the cluster's event loop.

use std::collections::VecDeque;

use rand_distr::{Distribution, Exp};

use super::cost::CostModel;
use super::engine::{Engine, GpuTick, Out, Preempted};
use super::hardware::{Hardware, Layout};
use super::params::{Arrival, GpuServingParams, Placement, Policy, Sharing};
use super::probe;
use super::workload::{Lengths, MONTH_S, OpenArrivals, Tenants, mix_mean_tokens};
use crate::des::{Priority, RngStreams, Scheduler, SimDuration, SimTime, Stream};
use crate::simulation::{Outcome, RunError};
use crate::stats::{LatencyHistogram, Tally};

/// Requests waiting in the application queue beyond which the cluster counts as overloaded.
const QUEUE_CAP: usize = 2_000_000;

/// Runs one replication.
pub(super) fn run(p: &GpuServingParams, streams: &RngStreams) -> Result<Outcome, RunError> {
    let hw = Hardware::new(p);
    let mut out = Outcome::default();
    let layout = hw.layout(p, p.sharing, p.replicas);
    let mix_tokens = mix_mean_tokens(p);
    out.set(
        "max_batch_per_replica",
        layout.map_or(0.0, |l| {
            (l.max_seqs as f64).min((l.kv_tokens as f64 / mix_tokens).floor())
        }),
    );
    tenant_metrics(p, &hw, &mut out);

    let start_hour = p.start_hour.unwrap_or(p.peak_hour);
    let volume = p.monthly_requests;
    let capacity_per_gpu = layout.map_or(0.0, |l| probe::capacity(p, &hw, l, streams));
    if capacity_per_gpu <= 0.0 {
        // Nothing can be served: no capacity, no self-hosted price, no latencies.
        out.set(
            "api_usd_month",
            CostModel::new(p, 1.0, start_hour).api(volume),
        );
        for m in [
            "capacity_rps",
            "capacity_vs_batching",
            "gpu_utilization",
            "throughput_rps",
            "p2_throughput_rps",
        ] {
            out.set(m, 0.0);
        }
        return Ok(out);
    }
    let layout = layout.expect("capacity > 0 needs a layout");

    let cost = CostModel::new(p, capacity_per_gpu, start_hour);
    let self_hosted = cost.self_hosted(volume);
    let api = cost.api(volume);
    out.set("self_hosted_usd_month", self_hosted);
    out.set("api_usd_month", api);
    out.set("savings_usd_month", api - self_hosted);
    if api > 0.0 {
        out.set("savings_fraction", (api - self_hosted) / api);
    }
    if let Some(v) = cost.breakeven() {
        out.set("breakeven_requests_month", v);
    }
    out.set("self_hosted_scale_exponent", cost.scale_exponent(volume));
    out.set("gpus_provisioned", cost.gpus_peak(volume) as f64);
    let gpus = if p.autoscale {
        cost.gpus_at_start(volume)
    } else {
        cost.gpus_peak(volume)
    };
    let capacity = capacity_per_gpu * gpus as f64;
    out.set("capacity_rps", capacity);
    let batching_capacity = if layout.units > 1 {
        hw.layout(p, Sharing::Batching, 1)
            .map_or(0.0, |l| probe::capacity(p, &hw, l, streams))
    } else {
        capacity_per_gpu
    };
    if batching_capacity > 0.0 {
        out.set("capacity_vs_batching", capacity_per_gpu / batching_capacity);
    }

    let mut cluster = Cluster::new(p, &hw, layout, gpus, start_hour, streams);
    cluster.run(capacity)?;
    cluster.report(capacity, &mut out);
    Ok(out)
}

/// The tenant probe at `replicas` tenants against one tenant alone.
fn tenant_metrics(p: &GpuServingParams, hw: &Hardware, out: &mut Outcome) {
    let tokens = p.tenant_request_tokens;
    let solo_s = tokens as f64 * hw.step_ms(1) / 1e3;
    let idle_s = solo_s * (1.0 - p.tenant_duty) / p.tenant_duty;
    let Some(alone) = probe::tenants(p, hw, p.sharing, 1, tokens, idle_s) else {
        return;
    };
    match probe::tenants(p, hw, p.sharing, p.replicas, tokens, idle_s) {
        Some(shared) => {
            let gain = shared.tokens_per_s / alone.tokens_per_s;
            out.set("tenant_token_gain", gain);
            out.set(
                "tenant_latency_stretch",
                shared.latency_mean_s / alone.latency_mean_s,
            );
            out.set("cost_cut_vs_dedicated", 1.0 - 1.0 / gain);
        }
        // The tenants' processes do not fit in the GPU's memory: none of them serves.
        None => out.set("tenant_token_gain", 0.0),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
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
enum Ev {
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

const NO_SEQ: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Req {
    class: u8,
    arrived: SimTime,
    prompt: u32,
    output: u32,
    /// Output tokens persisted (checkpointed) by earlier admissions.
    done: u32,
    first: bool,
    seq: u32,
    measured: bool,
    alive: bool,
}

#[derive(Default)]
struct Window {
    ttft: [Tally; 2],
    e2e: [Tally; 2],
    ttft_hist: [LatencyHistogram; 2],
    e2e_hist: [LatencyHistogram; 2],
    completions: [u64; 3],
    open_arrivals: u64,
    rejected: u64,
    preemptions: u64,
    pod_evictions: u64,
    p2_processed: u64,
    p2_lost: u64,
}

struct Cluster<'a> {
    p: &'a GpuServingParams,
    engine: Engine,
    sched: Scheduler<Ev>,
    roles: Vec<Role>,
    /// Units in the order the reserved pool grows into.
    order: Vec<u32>,
    reserved_init: usize,
    reserved_now: usize,
    quiet_checks: u32,
    /// P0 first tokens in the controller's current look, and how many came too late.
    p0_seen: u64,
    p0_slow: u64,
    reqs: Vec<Req>,
    free_reqs: Vec<u32>,
    queues: [VecDeque<u32>; 3],
    lengths: [Lengths; 3],
    tenants: [Tenants; 3],
    open: [Option<OpenArrivals>; 3],
    think: [Option<Exp<f64>>; 3],
    rng_arrival: [Stream; 3],
    rng_tokens: [Stream; 3],
    rng_tenant: [Stream; 3],
    rng_think: Stream,
    warm_end: SimTime,
    end: SimTime,
    measuring: bool,
    w: Window,
    out_buf: Vec<Out>,
}

impl<'a> Cluster<'a> {
    fn new(
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

    fn run(&mut self, capacity: f64) -> Result<(), RunError> {
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

    fn new_request(&mut self, c: u8, now: SimTime) -> u32 {
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

    fn queue_of(&self, class: u8) -> usize {
        if self.p.policy == Policy::Fifo {
            0
        } else {
            class as usize
        }
    }

    fn eligible(&self, u: usize, class: u8) -> bool {
        match self.roles[u] {
            Role::Reserved => class == 0 || (class == 2 && self.p.batch_borrows_reserved),
            Role::Shared => {
                self.p.policy != Policy::ReservedPool || class != 0 || self.p.p0_overflow
            }
            Role::Draining | Role::Starting { .. } => false,
        }
    }

    /// Units a request of `class` may use, in the order it prefers them: for P0 under a
    /// reserved pool the reserved units first. Within a group, least loaded first.
    fn candidates(&self, class: u8) -> Vec<usize> {
        let units = self.roles.len();
        let mut v: Vec<(u8, u32, usize)> = (0..units)
            .filter(|&u| self.eligible(u, class))
            .map(|u| {
                let group = u8::from(
                    self.p.policy == Policy::ReservedPool
                        && class == 0
                        && self.roles[u] != Role::Reserved,
                );
                (group, self.engine.live(u), u)
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|x| x.2).collect()
    }

    fn kv_of(&self, r: u32) -> u32 {
        let q = &self.reqs[r as usize];
        q.prompt + q.output
    }

    /// A new request (or a preempted one back in line when `front`).
    fn arrive(&mut self, r: u32, now: SimTime) {
        let class = self.reqs[r as usize].class;
        let q = self.queue_of(class);
        if !self.queues[q].is_empty() {
            self.queues[q].push_back(r);
            return;
        }
        let kv = self.kv_of(r);
        let cands = self.candidates(class);
        if let Some(&u) = cands.iter().find(|&&u| self.engine.can_admit(u, kv)) {
            self.admit(u, r, now);
            return;
        }
        if class < 2 && self.p.policy != Policy::Fifo {
            if let Some(u) = self.make_room(&cands, kv) {
                self.admit(u, r, now);
                return;
            }
        }
        self.queues[q].push_back(r);
    }

    /// A preempted request returns at the head of its queue.
    fn requeue(&mut self, r: u32, now: SimTime) {
        let class = self.reqs[r as usize].class;
        let kv = self.kv_of(r);
        let cands = self.candidates(class);
        match cands.iter().find(|&&u| self.engine.can_admit(u, kv)) {
            Some(&u) => self.admit(u, r, now),
            None => {
                let q = self.queue_of(class);
                self.queues[q].push_front(r);
            }
        }
    }

    /// Preempts P2 sequences on the first candidate unit where that makes room for `kv`.
    fn make_room(&mut self, cands: &[usize], kv: u32) -> Option<usize> {
        let ck = self.p.checkpoint_tokens;
        for &u in cands {
            if self.engine.units[u].class_live[2] == 0 {
                continue;
            }
            // Victims: P2 sequences, the least work to redo first (prefill done so far plus
            // output since the last checkpoint; one still waiting for its prefill costs nothing).
            let mut victims: Vec<(u32, u32, u32)> = self
                .engine
                .members(u)
                .iter()
                .filter_map(|&s| {
                    let (class, generated, prefilled, skv) = self.engine.seq_info(s);
                    (class == 2).then(|| {
                        let total = self.reqs[self.engine_req(s) as usize].done + generated;
                        let unsaved = if ck > 0 { total % ck } else { total };
                        (prefilled + unsaved, s, skv)
                    })
                })
                .collect();
            let freeable: u64 = victims.iter().map(|v| v.2 as u64).sum();
            let slots_free = self.engine.units[u].max_seqs > self.engine.live(u);
            if self.engine.kv_free(u) + freeable < kv as u64 || (!slots_free && victims.is_empty())
            {
                continue;
            }
            victims.sort_unstable();
            for (_, s, _) in victims {
                if self.engine.can_admit(u, kv) {
                    break;
                }
                let info = self.engine.preempt(s);
                self.on_preempted(info, false);
            }
            if self.engine.can_admit(u, kv) {
                return Some(u);
            }
        }
        None
    }

    fn engine_req(&self, s: u32) -> u32 {
        self.engine.seq_req(s)
    }

    fn admit(&mut self, u: usize, r: u32, now: SimTime) {
        let by_class = self.p.policy != Policy::Fifo;
        let q = &self.reqs[r as usize];
        let (class, prefill, decode, kv) = (
            q.class,
            q.prompt + q.done,
            q.output - q.done,
            q.prompt + q.output,
        );
        let s = self
            .engine
            .admit(u, r, class, prefill, decode, kv, by_class);
        self.reqs[r as usize].seq = s;
        self.engine.start(u, now);
    }

    fn on_preempted(&mut self, info: Preempted, by_pod: bool) {
        let ck = self.p.checkpoint_tokens;
        let q = &mut self.reqs[info.req as usize];
        q.seq = NO_SEQ;
        let delay = if info.class == 2 {
            // Batch jobs persist every `ck` output tokens; the rest is lost.
            let total = q.done + info.generated;
            let kept = total
                .checked_div(ck)
                .map_or(q.done, |n| (n * ck).max(q.done));
            if self.measuring {
                // Tokens processed (prefill and decode) that the restart must redo.
                self.w.p2_processed += (info.prefilled + info.generated) as u64;
                self.w.p2_lost += (info.prefilled + total - kept) as u64;
            }
            q.done = kept;
            SimDuration::from_secs_f64(self.p.restart_delay_s)
        } else {
            // A real-time answer cannot resume: it starts over (its first token stays counted).
            q.done = 0;
            SimDuration::ZERO
        };
        if self.measuring && !by_pod {
            self.w.preemptions += 1;
        }
        self.sched.schedule_in(delay, Ev::Requeue(info.req));
    }

    /// Pulls waiting requests onto unit `u` while it has room, then starts its step.
    fn dispatch(&mut self, u: usize, now: SimTime) {
        match self.roles[u] {
            Role::Starting { .. } => return,
            Role::Draining => {
                if self.engine.live(u) == 0 {
                    self.roles[u] = Role::Starting { reserved: false };
                    self.sched.schedule_in(
                        SimDuration::from_secs_f64(self.p.pod_startup_s),
                        Ev::PodReady(u as u32),
                    );
                }
                return;
            }
            Role::Reserved | Role::Shared => {}
        }
        if self.p.policy == Policy::Fifo {
            while let Some(&r) = self.queues[0].front() {
                if !self.engine.can_admit(u, self.kv_of(r)) {
                    break;
                }
                self.queues[0].pop_front();
                self.admit(u, r, now);
            }
        } else {
            for c in 0..3u8 {
                if !self.eligible(u, c) {
                    continue;
                }
                let mut blocked = false;
                while let Some(&r) = self.queues[c as usize].front() {
                    if !self.engine.can_admit(u, self.kv_of(r)) {
                        blocked = true;
                        break;
                    }
                    self.queues[c as usize].pop_front();
                    self.admit(u, r, now);
                }
                // A higher class waiting for room keeps lower classes out of it.
                if blocked {
                    break;
                }
            }
        }
        self.engine.start(u, now);
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

    /// The pod-level controller: grow the P0 pool by evicting a batch pod when too many P0
    /// first tokens came later than `pod_scale_up_ttft_ms`, shrink it back after quiet looks. Pods take `pod_startup_s` to become ready.
    fn pod_check(&mut self, now: SimTime) {
        let pressure = if self.p0_seen > 0 {
            self.p0_slow as f64 / self.p0_seen as f64
        } else {
            0.0
        };
        self.p0_seen = 0;
        self.p0_slow = 0;
        if pressure > self.p.pod_scale_up_share && self.reserved_now < self.order.len() {
            self.quiet_checks = 0;
            let u = self.order[self.reserved_now] as usize;
            self.reserved_now += 1;
            match self.roles[u] {
                // Still draining from a scale-down: it simply stays in the pool.
                Role::Draining | Role::Reserved => self.roles[u] = Role::Reserved,
                Role::Starting { .. } => self.roles[u] = Role::Starting { reserved: true },
                Role::Shared => {
                    let victims: Vec<u32> = self.engine.members(u).to_vec();
                    for s in victims {
                        let info = self.engine.preempt(s);
                        self.on_preempted(info, true);
                    }
                    if self.measuring {
                        self.w.pod_evictions += 1;
                    }
                    self.roles[u] = Role::Starting { reserved: true };
                    self.sched.schedule_in(
                        SimDuration::from_secs_f64(self.p.pod_startup_s),
                        Ev::PodReady(u as u32),
                    );
                }
            }
        } else if pressure == 0.0 {
            self.quiet_checks += 1;
            if self.quiet_checks >= self.p.pod_scale_down_checks
                && self.reserved_now > self.reserved_init
            {
                self.quiet_checks = 0;
                self.reserved_now -= 1;
                let u = self.order[self.reserved_now] as usize;
                match self.roles[u] {
                    Role::Reserved => {
                        self.roles[u] = Role::Draining;
                        self.dispatch(u, now);
                    }
                    Role::Starting { .. } => self.roles[u] = Role::Starting { reserved: false },
                    Role::Shared | Role::Draining => {}
                }
            }
        } else {
            self.quiet_checks = 0;
        }
    }

    fn report(&mut self, capacity: f64, out: &mut Outcome) {
        let end = self.end;
        // Requests still open at the end count with their age so far (a lower bound), so an
        // overloaded class cannot look fast by never finishing.
        for q in self
            .reqs
            .iter()
            .filter(|q| q.alive && q.measured && q.class < 2)
        {
            let c = q.class as usize;
            let age = end.since(q.arrived);
            if !q.first {
                self.w.ttft[c].push(age.as_secs_f64());
                self.w.ttft_hist[c].record(age);
            }
            self.w.e2e[c].push(age.as_secs_f64());
            self.w.e2e_hist[c].record(age);
        }
        let w = &self.w;
        let ms = |h: &LatencyHistogram| h.value_at_quantile_s(0.99) * 1e3;
        if w.ttft[0].count() > 0 {
            out.set("p0_latency_p99_ms", ms(&w.ttft_hist[0]));
            out.set("p0_latency_mean_ms", w.ttft[0].mean() * 1e3);
        }
        if w.e2e[0].count() > 0 {
            out.set("p0_e2e_p99_ms", ms(&w.e2e_hist[0]));
            out.set("p0_e2e_mean_ms", w.e2e[0].mean() * 1e3);
        }
        if w.ttft[1].count() > 0 {
            out.set("p1_latency_p99_ms", ms(&w.ttft_hist[1]));
        }
        if w.e2e[1].count() > 0 {
            out.set("p1_e2e_p99_ms", ms(&w.e2e_hist[1]));
        }
        let window_s = end.since(self.warm_end).as_secs_f64();
        let hours = window_s / 3600.0;
        let total: u64 = w.completions.iter().sum();
        let throughput = total as f64 / window_s;
        out.set("throughput_rps", throughput);
        out.set("p2_throughput_rps", w.completions[2] as f64 / window_s);
        out.set("capacity_used_fraction", throughput / capacity);
        let gpus = self.engine.gpu_count();
        out.set(
            "gpu_utilization",
            (0..gpus)
                .map(|g| self.engine.busy_mean(g, end))
                .sum::<f64>()
                / gpus as f64,
        );
        out.set("preemptions_per_hour", w.preemptions as f64 / hours);
        out.set("pod_preemptions_per_hour", w.pod_evictions as f64 / hours);
        out.set(
            "lost_work_fraction",
            if w.p2_processed > 0 {
                w.p2_lost as f64 / w.p2_processed as f64
            } else {
                0.0
            },
        );
        out.set(
            "quota_rejected_fraction",
            if w.open_arrivals > 0 {
                w.rejected as f64 / w.open_arrivals as f64
            } else {
                0.0
            },
        );
    }
}
