//! A multi-server station: `servers` identical servers, one FIFO queue per priority class
//! (class 0 is served first), optional preemptive-resume priority, and reneging.
//!
//! Semantics, chosen to match the textbook models the engine is validated against:
//! - A job that finds a free server starts at once (its wait is exactly zero).
//! - Non-preemptive: a freed server takes the head of the highest non-empty class.
//! - Preemptive-resume: an arriving job of a higher class than some job in service takes that
//!   server if none is free. The victim is the lowest-class job in service, the one that
//!   started latest among equals; it keeps its remaining work and goes to the *front* of its
//!   class queue.
//! - Reneging: a waiting job with `patience` leaves when it has waited that long without
//!   starting (a client request timeout). A job already in service never reneges; a preempted
//!   job waiting again does not renege either (it already started).

use std::collections::VecDeque;

use crate::des::{EventKey, Scheduler, SimDuration, SimTime};
use crate::stats::TimeWeighted;

/// A customer offered to the station.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Caller's identifier, returned unchanged.
    pub id: u64,
    /// Priority class, 0 highest.
    pub class: usize,
    /// When the job arrived.
    pub arrived: SimTime,
    /// Service requirement.
    pub work: SimDuration,
    /// How long it will wait in queue before giving up; `None` waits forever.
    pub patience: Option<SimDuration>,
}

/// The station's own events; the room wraps them in its event enum.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StationEvent {
    /// Server `server` finishes its current job.
    Done {
        /// Server index.
        server: u32,
    },
    /// A waiting job's patience ran out.
    Renege {
        /// Slot of the waiting job.
        slot: u32,
        /// Generation of the slot when the job was queued.
        generation: u32,
    },
}

/// A finished job.
#[derive(Clone, Debug, PartialEq)]
pub struct Departure {
    /// The job as offered.
    pub job: Job,
    /// When it first started service (wait = first_start - arrived).
    pub first_start: SimTime,
    /// When it finished.
    pub finished: SimTime,
    /// How many times it was preempted.
    pub preemptions: u32,
}

/// What handling a station event produced.
#[derive(Clone, Debug, PartialEq)]
pub enum StationOutput {
    /// A job completed service.
    Departed(Departure),
    /// A job left the queue unserved after waiting its full patience.
    Reneged(Job),
}

struct InService {
    job: Job,
    first_start: SimTime,
    slice_start: SimTime,
    remaining: SimDuration,
    done_key: EventKey,
    preemptions: u32,
}

struct Waiting {
    job: Job,
    first_start: Option<SimTime>,
    remaining: SimDuration,
    renege_key: Option<EventKey>,
    preemptions: u32,
}

struct Slot {
    generation: u32,
    waiting: Option<Waiting>,
}

/// See the module docs for the service discipline.
pub struct Station {
    servers: Vec<Option<InService>>,
    free: Vec<u32>,
    queues: Vec<VecDeque<(u32, u32)>>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    queued: usize,
    preemptive: bool,
    busy_tw: TimeWeighted,
    queue_tw: TimeWeighted,
    preemptions: u64,
}

impl Station {
    /// A station with `servers` servers and `classes` priority classes.
    pub fn new(servers: usize, classes: usize, preemptive: bool) -> Station {
        assert!(servers > 0, "a station needs at least one server");
        Station {
            servers: (0..servers).map(|_| None).collect(),
            // Pop from the end: server 0 is used first.
            free: (0..servers as u32).rev().collect(),
            queues: (0..classes.max(1)).map(|_| VecDeque::new()).collect(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            queued: 0,
            preemptive,
            busy_tw: TimeWeighted::new(SimTime::ZERO, 0.0),
            queue_tw: TimeWeighted::new(SimTime::ZERO, 0.0),
            preemptions: 0,
        }
    }

    /// Jobs waiting (not in service).
    pub fn queue_len(&self) -> usize {
        self.queued
    }

    /// Servers busy.
    pub fn busy(&self) -> usize {
        self.servers.len() - self.free.len()
    }

    /// Number of servers.
    pub fn servers(&self) -> usize {
        self.servers.len()
    }

    /// Time-average number of busy servers since the last reset, up to `now`.
    pub fn mean_busy(&self, now: SimTime) -> f64 {
        self.busy_tw.mean(now)
    }

    /// Time-average queue length since the last reset, up to `now`.
    pub fn mean_queue_len(&self, now: SimTime) -> f64 {
        self.queue_tw.mean(now)
    }

    /// Preemptions since creation.
    pub fn preemptions(&self) -> u64 {
        self.preemptions
    }

    /// Restarts the time averages at `now` (warm-up deletion).
    pub fn reset_stats(&mut self, now: SimTime) {
        self.busy_tw.reset(now);
        self.queue_tw.reset(now);
    }

    fn note_levels(&mut self, now: SimTime) {
        let busy = self.busy() as f64;
        let queued = self.queued as f64;
        self.busy_tw.set(now, busy);
        self.queue_tw.set(now, queued);
    }

    /// Offers a job at the current time.
    pub fn arrive<E: From<StationEvent>>(&mut self, sched: &mut Scheduler<E>, job: Job) {
        let now = sched.now();
        let class = job.class.min(self.queues.len() - 1);
        if let Some(server) = self.free.pop() {
            let remaining = job.work;
            self.start(sched, server, job, now, remaining, 0);
        } else if let Some(server) = self.preemptive.then(|| self.victim_for(class)).flatten() {
            self.preempt(sched, server);
            let remaining = job.work;
            self.start(sched, server, job, now, remaining, 0);
        } else {
            let (slot, generation) = self.alloc_slot();
            let renege_key = job
                .patience
                .map(|p| sched.schedule_in(p, E::from(StationEvent::Renege { slot, generation })));
            let remaining = job.work;
            self.slots[slot as usize].waiting = Some(Waiting {
                job,
                first_start: None,
                remaining,
                renege_key,
                preemptions: 0,
            });
            self.queues[class].push_back((slot, generation));
            self.queued += 1;
        }
        self.note_levels(now);
    }

    /// Handles one of the station's own events.
    pub fn handle<E: From<StationEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        event: StationEvent,
    ) -> Option<StationOutput> {
        let now = sched.now();
        let out = match event {
            StationEvent::Done { server } => {
                let done = self.servers[server as usize]
                    .take()
                    .expect("a Done event for an idle server: its cancellation was lost");
                self.free.push(server);
                self.start_next(sched);
                Some(StationOutput::Departed(Departure {
                    job: done.job,
                    first_start: done.first_start,
                    finished: now,
                    preemptions: done.preemptions,
                }))
            }
            StationEvent::Renege { slot, generation } => {
                let s = &mut self.slots[slot as usize];
                if s.generation != generation {
                    None
                } else if let Some(w) = s.waiting.take() {
                    self.free_slots.push(slot);
                    self.queued -= 1;
                    Some(StationOutput::Reneged(w.job))
                } else {
                    None
                }
            }
        };
        self.note_levels(now);
        out
    }

    fn alloc_slot(&mut self) -> (u32, u32) {
        if let Some(slot) = self.free_slots.pop() {
            let s = &mut self.slots[slot as usize];
            s.generation = s.generation.wrapping_add(1);
            (slot, s.generation)
        } else {
            self.slots.push(Slot {
                generation: 0,
                waiting: None,
            });
            ((self.slots.len() - 1) as u32, 0)
        }
    }

    fn start<E: From<StationEvent>>(
        &mut self,
        sched: &mut Scheduler<E>,
        server: u32,
        job: Job,
        first_start: SimTime,
        remaining: SimDuration,
        preemptions: u32,
    ) {
        let done_key = sched.schedule_in(remaining, E::from(StationEvent::Done { server }));
        self.servers[server as usize] = Some(InService {
            job,
            first_start,
            slice_start: sched.now(),
            remaining,
            done_key,
            preemptions,
        });
    }

    /// Starts the head of the highest non-empty class on a free server, if any.
    fn start_next<E: From<StationEvent>>(&mut self, sched: &mut Scheduler<E>) {
        let now = sched.now();
        while !self.free.is_empty() {
            let Some(w) = self.pop_waiting() else { return };
            if let Some(k) = w.renege_key {
                sched.cancel(k);
            }
            let server = self.free.pop().expect("checked non-empty");
            let first_start = w.first_start.unwrap_or(now);
            self.start(
                sched,
                server,
                w.job,
                first_start,
                w.remaining,
                w.preemptions,
            );
        }
    }

    fn pop_waiting(&mut self) -> Option<Waiting> {
        for q in &mut self.queues {
            while let Some((slot, generation)) = q.pop_front() {
                let s = &mut self.slots[slot as usize];
                if s.generation != generation {
                    continue; // reneged; the slot was reused
                }
                if let Some(w) = s.waiting.take() {
                    self.free_slots.push(slot);
                    self.queued -= 1;
                    return Some(w);
                }
            }
        }
        None
    }

    /// The server whose job an arrival of `class` may preempt: lowest class, latest start.
    fn victim_for(&self, class: usize) -> Option<u32> {
        let mut best: Option<(usize, SimTime, u32)> = None;
        for (i, s) in self.servers.iter().enumerate() {
            let Some(s) = s else { continue };
            let c = s.job.class;
            if c <= class {
                continue;
            }
            let better = match best {
                None => true,
                Some((bc, bt, _)) => c > bc || (c == bc && s.slice_start >= bt),
            };
            if better {
                best = Some((c, s.slice_start, i as u32));
            }
        }
        best.map(|(_, _, i)| i)
    }

    fn preempt<E: From<StationEvent>>(&mut self, sched: &mut Scheduler<E>, server: u32) {
        let now = sched.now();
        let s = self.servers[server as usize]
            .take()
            .expect("victim server is busy");
        sched.cancel(s.done_key);
        self.preemptions += 1;
        let remaining = s.remaining - now.since(s.slice_start);
        let class = s.job.class.min(self.queues.len() - 1);
        let (slot, generation) = self.alloc_slot();
        self.slots[slot as usize].waiting = Some(Waiting {
            job: s.job,
            first_start: Some(s.first_start),
            remaining,
            renege_key: None,
            preemptions: s.preemptions + 1,
        });
        // Resume discipline: the interrupted job is next in its class.
        self.queues[class].push_front((slot, generation));
        self.queued += 1;
    }
}
