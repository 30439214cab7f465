//! The event loop of the `migrations` room: one replication is the baseline window, the
//! migration, and the window after it, request by request (the migration itself is a handful of
//! events: one per backfill batch and sleep, never one per row).

use std::collections::VecDeque;

use rand_distr::{Distribution, LogNormal};

use super::params::{MigrationsParams, Procedure};
use crate::des::components::{
    Acquire, Arrivals, ProcessorSharing, Semaphore, SharingEvent, SharingKey,
};
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime, Stream, uniform};
use crate::simulation::Outcome;
use crate::stats::{LatencyHistogram, Tally};

#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival,
    /// The request's client timeout (and statement timeout) expires.
    Deadline {
        slot: u32,
        generation: u32,
    },
    Cpu(SharingEvent),
    MigrationStart,
    /// The backfill's sleep after a batch is over.
    ThrottleDone,
    /// The ghost swap's transaction commits.
    SwapRelease,
}

impl From<SharingEvent> for Ev {
    fn from(e: SharingEvent) -> Ev {
        Ev::Cpu(e)
    }
}

/// The processor job that is the migration's work (the rewrite, or one backfill batch);
/// requests are `generation << 32 | slot`, which never reaches it.
const MIGRATION_JOB: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for a pool connection.
    Pool,
    /// Holding a connection; the statement waits for the table lock.
    Lock,
    /// The statement holds its table lock and runs on the processors.
    Running(SharingKey),
    /// Slot unused.
    Free,
}

struct Request {
    arrived: SimTime,
    write: bool,
    generation: u32,
    stage: Stage,
}

/// The table's ACCESS EXCLUSIVE lock. A pending request waits for the statements that hold the
/// table and makes every newcomer queue behind it, as PostgreSQL's lock queue does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exclusive {
    Free,
    Pending,
    Held { since: SimTime },
}

/// Which window a request's arrival falls in.
#[derive(Clone, Copy)]
enum Window {
    Baseline = 0,
    During = 1,
    After = 2,
}

#[derive(Default)]
struct WindowStats {
    latency: LatencyHistogram,
    requests: u64,
    timeouts: u64,
}

struct Model<'a> {
    p: &'a MigrationsParams,
    sched: Scheduler<Ev>,
    cpu: ProcessorSharing,
    pool: Semaphore,
    exclusive: Exclusive,
    /// Statements holding the table (running on the processors).
    table_holders: usize,
    /// Requests with a connection waiting for the table lock (stale entries are skipped).
    lock_waiters: VecDeque<u64>,
    requests: Vec<Request>,
    free_slots: Vec<u32>,
    live: usize,

    arrivals: Arrivals,
    arrival_rng: Stream,
    service_rng: Stream,
    mix_rng: Stream,
    service: Option<LogNormal<f64>>,
    timeout: SimDuration,
    trigger_on: bool,

    start: SimTime,
    end: Option<SimTime>,
    arrivals_stopped: bool,
    rows_left: f64,
    batch_rows: f64,
    batch_started: SimTime,
    batch_busy: SimDuration,
    throttled: SimDuration,
    backfill_end: Option<SimTime>,
    lock_hold: Option<SimDuration>,
    pool_exhausted: Option<SimDuration>,

    windows: [WindowStats; 3],
    baseline_mean: Tally,
}

/// Runs one replication.
pub(super) fn run(p: &MigrationsParams, streams: &RngStreams) -> Outcome {
    let median_s = p.query_ms / 1e3;
    let mut m = Model {
        p,
        sched: Scheduler::with_capacity(1024),
        cpu: ProcessorSharing::new(p.db_cores as usize),
        pool: Semaphore::new(p.pool_size as usize),
        exclusive: Exclusive::Free,
        table_holders: 0,
        lock_waiters: VecDeque::new(),
        requests: Vec::new(),
        free_slots: Vec::new(),
        live: 0,
        arrivals: Arrivals::poisson(p.rate_rps).expect("validated: rate_rps > 0"),
        arrival_rng: streams.stream("arrivals"),
        service_rng: streams.stream("service"),
        mix_rng: streams.stream("mix"),
        service: (p.query_sigma > 0.0)
            .then(|| LogNormal::new(median_s.ln(), p.query_sigma).expect("validated σ")),
        timeout: SimDuration::from_secs_f64(p.client_timeout_ms / 1e3),
        trigger_on: false,
        start: SimTime::ZERO + SimDuration::from_secs_f64(p.baseline_s),
        end: None,
        arrivals_stopped: false,
        rows_left: p.rows,
        batch_rows: 0.0,
        batch_started: SimTime::ZERO,
        batch_busy: SimDuration::ZERO,
        throttled: SimDuration::ZERO,
        backfill_end: None,
        lock_hold: None,
        pool_exhausted: None,
        windows: Default::default(),
        baseline_mean: Tally::new(),
    };
    let start = m.start;
    m.sched
        .schedule_at(start, Ev::MigrationStart)
        .expect("the start is not in the past");
    if let Some(t) = m.arrivals.next_after(SimTime::ZERO, &mut m.arrival_rng) {
        m.sched
            .schedule_at(t, Ev::Arrival)
            .expect("the first arrival is not in the past");
    }
    while let Some((now, ev)) = m.sched.pop() {
        match ev {
            Ev::Arrival => m.arrival(now),
            Ev::Deadline { slot, generation } => m.deadline(slot, generation),
            Ev::Cpu(e) => {
                if let Some(done) = m.cpu.handle(&mut m.sched, e) {
                    if done.id == MIGRATION_JOB {
                        m.migration_work_done();
                    } else {
                        m.statement_done(done.id);
                    }
                }
            }
            Ev::MigrationStart => m.migration_start(),
            Ev::ThrottleDone => m.throttle_done(),
            Ev::SwapRelease => {
                m.release_exclusive();
                m.trigger_on = false;
                m.end = Some(now);
            }
        }
        if m.arrivals_stopped && m.live == 0 && m.end.is_some() {
            break;
        }
    }
    m.outcome()
}

fn slot_of(id: u64) -> (u32, u32) {
    (id as u32, (id >> 32) as u32)
}

impl Model<'_> {
    fn arrival(&mut self, now: SimTime) {
        if let Some(end) = self.end {
            if now.since(end).as_secs_f64() >= self.p.after_s {
                self.arrivals_stopped = true;
                return;
            }
        }
        let u = uniform(&mut self.mix_rng);
        let write = u >= self.p.read_fraction;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                let r = &mut self.requests[s as usize];
                r.generation = r.generation.wrapping_add(1);
                r.arrived = now;
                r.write = write;
                r.stage = Stage::Pool;
                s
            }
            None => {
                self.requests.push(Request {
                    arrived: now,
                    write,
                    generation: 0,
                    stage: Stage::Pool,
                });
                (self.requests.len() - 1) as u32
            }
        };
        self.live += 1;
        let generation = self.requests[slot as usize].generation;
        self.sched
            .schedule_in(self.timeout, Ev::Deadline { slot, generation });
        let id = ((generation as u64) << 32) | slot as u64;
        match self.pool.acquire(id, now) {
            Acquire::Granted => self.connected(slot),
            Acquire::Queued(_) => {
                let migrating = now >= self.start && self.end.is_none();
                if migrating && self.pool_exhausted.is_none() {
                    self.pool_exhausted = Some(now.since(self.start));
                }
            }
        }
        if let Some(t) = self.arrivals.next_after(now, &mut self.arrival_rng) {
            self.sched.schedule_in(t.since(now), Ev::Arrival);
        }
    }

    /// The request got a connection and sends its statement.
    fn connected(&mut self, slot: u32) {
        if self.exclusive == Exclusive::Free {
            self.start_statement(slot);
        } else {
            let r = &mut self.requests[slot as usize];
            r.stage = Stage::Lock;
            self.lock_waiters
                .push_back(((r.generation as u64) << 32) | slot as u64);
        }
    }

    fn start_statement(&mut self, slot: u32) {
        let base = match &self.service {
            Some(d) => d.sample(&mut self.service_rng),
            None => self.p.query_ms / 1e3,
        };
        let r = &self.requests[slot as usize];
        let extra = if r.write && self.trigger_on {
            self.p.trigger_overhead_ms / 1e3
        } else {
            0.0
        };
        let id = ((r.generation as u64) << 32) | slot as u64;
        let key = self.cpu.arrive(
            &mut self.sched,
            id,
            SimDuration::from_secs_f64(base + extra),
        );
        self.requests[slot as usize].stage = Stage::Running(key);
        self.table_holders += 1;
    }

    fn statement_done(&mut self, id: u64) {
        let (slot, _) = slot_of(id);
        let now = self.sched.now();
        let latency = now.since(self.requests[slot as usize].arrived);
        self.table_holders -= 1;
        self.finish(slot, latency, false);
        self.release_connection();
        self.maybe_grant_exclusive();
    }

    fn deadline(&mut self, slot: u32, generation: u32) {
        let r = &self.requests[slot as usize];
        if r.generation != generation || r.stage == Stage::Free {
            return; // answered in time; the slot may already serve another request
        }
        let now = self.sched.now();
        let id = ((generation as u64) << 32) | slot as u64;
        match r.stage {
            Stage::Pool => {
                self.pool.cancel_wait(id, now);
                self.finish(slot, self.timeout, true);
            }
            Stage::Lock => {
                // Its entry in the lock queue goes stale; the statement is cancelled.
                self.finish(slot, self.timeout, true);
                self.release_connection();
            }
            Stage::Running(key) => {
                self.cpu.cancel(&mut self.sched, key);
                self.table_holders -= 1;
                self.finish(slot, self.timeout, true);
                self.release_connection();
                self.maybe_grant_exclusive();
            }
            Stage::Free => unreachable!("checked above"),
        }
    }

    /// A connection comes back; the longest-waiting request takes it.
    fn release_connection(&mut self) {
        let now = self.sched.now();
        if let Some(next) = self.pool.release(now) {
            let (slot, _) = slot_of(next);
            self.connected(slot);
        }
    }

    fn window_of(&self, arrived: SimTime) -> Window {
        if arrived < self.start {
            Window::Baseline
        } else if self.end.is_none_or(|e| arrived < e) {
            Window::During
        } else {
            Window::After
        }
    }

    fn finish(&mut self, slot: u32, latency: SimDuration, timed_out: bool) {
        let w = self.window_of(self.requests[slot as usize].arrived);
        let s = &mut self.windows[w as usize];
        s.latency.record(latency);
        s.requests += 1;
        s.timeouts += timed_out as u64;
        if let Window::Baseline = w {
            self.baseline_mean.push(latency.as_secs_f64() * 1e3);
        }
        self.requests[slot as usize].stage = Stage::Free;
        self.free_slots.push(slot);
        self.live -= 1;
    }

    fn migration_start(&mut self) {
        let now = self.sched.now();
        match self.p.procedure {
            Procedure::None => self.end = Some(now),
            Procedure::Rewrite => {
                self.exclusive = Exclusive::Pending;
                self.maybe_grant_exclusive();
            }
            Procedure::Ghost => {
                // Creating the ghost table and the trigger are taken as instantaneous.
                self.trigger_on = true;
                self.start_batch();
            }
        }
    }

    fn start_batch(&mut self) {
        self.batch_rows = self.rows_left.min(self.p.batch_size);
        self.batch_started = self.sched.now();
        let work = SimDuration::from_secs_f64(self.batch_rows / self.p.backfill_rows_per_s);
        self.cpu.arrive(&mut self.sched, MIGRATION_JOB, work);
    }

    fn migration_work_done(&mut self) {
        let now = self.sched.now();
        match self.p.procedure {
            Procedure::Rewrite => {
                self.release_exclusive();
                self.end = Some(now);
            }
            Procedure::Ghost => {
                self.batch_busy = self.batch_busy + now.since(self.batch_started);
                self.rows_left -= self.batch_rows;
                let sleep = SimDuration::from_secs_f64(self.p.throttle_ms / 1e3);
                self.throttled = self.throttled + sleep;
                self.sched.schedule_in(sleep, Ev::ThrottleDone);
            }
            Procedure::None => unreachable!("no migration work without a migration"),
        }
    }

    fn throttle_done(&mut self) {
        if self.rows_left > 0.0 {
            self.start_batch();
        } else {
            self.backfill_end = Some(self.sched.now());
            self.exclusive = Exclusive::Pending;
            self.maybe_grant_exclusive();
        }
    }

    /// Grants a pending ACCESS EXCLUSIVE once the last statement holding the table is done.
    fn maybe_grant_exclusive(&mut self) {
        if self.exclusive != Exclusive::Pending || self.table_holders > 0 {
            return;
        }
        let now = self.sched.now();
        self.exclusive = Exclusive::Held { since: now };
        match self.p.procedure {
            Procedure::Rewrite => {
                let work = SimDuration::from_secs_f64(self.p.rows / self.p.rewrite_rows_per_s);
                self.cpu.arrive(&mut self.sched, MIGRATION_JOB, work);
            }
            Procedure::Ghost => {
                let hold = SimDuration::from_secs_f64(self.p.swap_lock_ms / 1e3);
                self.sched.schedule_in(hold, Ev::SwapRelease);
            }
            Procedure::None => unreachable!("no lock without a migration"),
        }
    }

    /// The lock is released; the statements queued behind it run.
    fn release_exclusive(&mut self) {
        let now = self.sched.now();
        if let Exclusive::Held { since } = self.exclusive {
            self.lock_hold = Some(now.since(since));
        }
        self.exclusive = Exclusive::Free;
        while let Some(id) = self.lock_waiters.pop_front() {
            let (slot, generation) = slot_of(id);
            let r = &self.requests[slot as usize];
            if r.generation == generation && r.stage == Stage::Lock {
                self.start_statement(slot);
            }
        }
    }

    fn outcome(&self) -> Outcome {
        let p = self.p;
        let mut out = Outcome::default();
        let ms = |h: &LatencyHistogram, q: f64| h.value_at_quantile_s(q) * 1e3;
        let [base, during, after] = &self.windows;
        let hold = self.lock_hold.map_or(0.0, |d| d.as_secs_f64());
        out.set("lock_hold_s", hold);
        match p.procedure {
            Procedure::None => {}
            Procedure::Rewrite => {
                if hold > 0.0 {
                    out.set("rewrite_rows_per_s", p.rows / hold);
                }
                out.set("wal_mb", p.rows * p.wal_bytes_per_row_rewrite / 1e6);
            }
            Procedure::Ghost => {
                if let Some(end) = self.end {
                    out.set("ghost_total_s", end.since(self.start).as_secs_f64());
                }
                if let Some(b) = self.backfill_end {
                    let phase = b.since(self.start).as_secs_f64();
                    if phase > 0.0 {
                        out.set("ghost_copy_rows_per_s", p.rows / phase);
                        out.set("backfill_duty_cycle", self.batch_busy.as_secs_f64() / phase);
                    }
                }
                out.set("throttle_s", self.throttled.as_secs_f64());
                out.set("wal_mb", p.rows * p.wal_bytes_per_row_ghost / 1e6);
            }
        }
        if p.procedure == Procedure::None {
            out.set("wal_mb", 0.0);
        }
        if !base.latency.is_empty() {
            out.set("mean_ms_baseline", self.baseline_mean.mean());
            out.set("p50_ms_baseline", ms(&base.latency, 0.50));
            out.set("p99_ms_baseline", ms(&base.latency, 0.99));
        }
        if p.procedure != Procedure::None && !during.latency.is_empty() {
            let p99 = ms(&during.latency, 0.99);
            out.set("p50_ms_during", ms(&during.latency, 0.50));
            out.set("p99_ms_during", p99);
            if !base.latency.is_empty() {
                out.set(
                    "p99_inflation_pct",
                    100.0 * (p99 / ms(&base.latency, 0.99) - 1.0),
                );
            }
        }
        if !after.latency.is_empty() {
            out.set("p99_ms_after", ms(&after.latency, 0.99));
        }
        let timeouts: u64 = self.windows.iter().map(|w| w.timeouts).sum();
        out.set_count("timeouts", timeouts);
        let (t, n) = if p.procedure == Procedure::None {
            let n: u64 = self.windows.iter().map(|w| w.requests).sum();
            (timeouts, n)
        } else {
            (during.timeouts, during.requests)
        };
        if n > 0 {
            out.set_proportion("error_fraction", t, n);
        }
        if let Some(d) = self.pool_exhausted {
            out.set("pool_exhausted_after_s", d.as_secs_f64());
        }
        out
    }
}
