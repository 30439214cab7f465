//! Engine unit tests: ordering, cancellation, time, streams, components.

use super::components::{
    Acquire, Job, ProcessorSharing, Semaphore, SharingEvent, Station, StationEvent, StationOutput,
};
use super::*;

#[test]
fn same_time_events_pop_by_priority_then_fifo() {
    let mut q = EventQueue::default();
    let t = SimTime(10);
    q.push(t, Priority::NORMAL, "n1");
    q.push(t, Priority::LATE, "late");
    q.push(t, Priority::NORMAL, "n2");
    q.push(t, Priority::URGENT, "urgent");
    q.push(SimTime(5), Priority::LATE, "early");
    let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
    assert_eq!(order, ["early", "urgent", "n1", "n2", "late"]);
}

#[test]
fn cancelled_events_never_fire() {
    let mut s: Scheduler<u32> = Scheduler::default();
    let a = s.schedule_in(SimDuration(5), 1);
    s.schedule_in(SimDuration(5), 2);
    let c = s.schedule_in(SimDuration(1), 3);
    s.cancel(a);
    s.cancel(c);
    let got: Vec<_> = std::iter::from_fn(|| s.pop()).collect();
    assert_eq!(got, [(SimTime(5), 2)]);
}

#[test]
fn scheduling_in_the_past_is_an_error_and_nothing_is_queued() {
    let mut s: Scheduler<()> = Scheduler::default();
    s.schedule_in(SimDuration(100), ());
    s.pop();
    assert_eq!(
        s.schedule_at(SimTime(50), ()),
        Err(ScheduleError::InPast {
            now: SimTime(100),
            at: SimTime(50)
        })
    );
    assert_eq!(s.pending(), 0);
}

#[test]
fn run_until_stops_at_the_horizon() {
    let mut s: Scheduler<u64> = Scheduler::default();
    s.schedule_in(SimDuration(1), 1);
    let mut seen = Vec::new();
    s.run_until(SimTime(10), |s, n| {
        seen.push(n);
        s.schedule_in(SimDuration(3), n + 1);
    });
    assert_eq!(seen, [1, 2, 3, 4]); // at t = 1, 4, 7, 10
    assert_eq!(s.now(), SimTime(10));
    assert_eq!(s.pending(), 1);
}

#[test]
fn a_month_in_nanoseconds_keeps_nanosecond_resolution() {
    let month = SimDuration::from_secs(31 * 24 * 3600);
    let t = SimTime::ZERO + month + SimDuration(1);
    assert_eq!(t.since(SimTime::ZERO + month), SimDuration(1));
    assert_eq!(SimDuration::from_secs_f64(-3.0), SimDuration::ZERO);
    assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration::ZERO);
    assert_eq!(SimDuration::from_millis(2).as_secs_f64(), 0.002);
}

#[test]
fn streams_are_deterministic_and_independent() {
    use rand::Rng;
    let a = RngStreams::new(42, 0, 0);
    let b = RngStreams::new(42, 0, 0);
    assert_eq!(a.stream("x").next_u64(), b.stream("x").next_u64());
    assert_ne!(a.stream("x").next_u64(), a.stream("y").next_u64());
    assert_ne!(
        a.stream("x").next_u64(),
        RngStreams::new(42, 0, 1).stream("x").next_u64()
    );
    assert_ne!(
        a.stream("x").next_u64(),
        RngStreams::new(42, 1, 0).stream("x").next_u64()
    );
    assert_ne!(
        a.stream("x").next_u64(),
        RngStreams::new(43, 0, 0).stream("x").next_u64()
    );
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ev {
    S(StationEvent),
}
impl From<StationEvent> for Ev {
    fn from(e: StationEvent) -> Ev {
        Ev::S(e)
    }
}

fn job(id: u64, class: usize, at: SimTime, work_s: u64, patience: Option<u64>) -> Job {
    Job {
        id,
        class,
        arrived: at,
        work: SimDuration::from_secs(work_s),
        patience: patience.map(SimDuration::from_secs),
    }
}

/// Drains the station, returning (id, first_start s, finished s) or (id, reneged at s).
fn drain(st: &mut Station, s: &mut Scheduler<Ev>) -> Vec<(u64, f64, f64)> {
    let mut out = Vec::new();
    while let Some((t, Ev::S(e))) = s.pop() {
        match st.handle(s, e) {
            Some(StationOutput::Departed(d)) => out.push((
                d.job.id,
                d.first_start.as_secs_f64(),
                d.finished.as_secs_f64(),
            )),
            Some(StationOutput::Reneged(j)) => out.push((j.id, -1.0, t.as_secs_f64())),
            None => {}
        }
    }
    out
}

#[test]
fn preemptive_resume_keeps_remaining_work() {
    let mut s: Scheduler<Ev> = Scheduler::default();
    let mut st = Station::new(1, 2, true);
    st.arrive(&mut s, job(1, 1, SimTime::ZERO, 10, None));
    // At t=4 a class-0 job arrives and preempts job 1 with 6 s left.
    s.run_until(SimTime::ZERO + SimDuration::from_secs(4), |_, _| {
        unreachable!("nothing is due before t=4")
    });
    let now = s.now();
    st.arrive(&mut s, job(2, 0, now, 3, None));
    let out = drain(&mut st, &mut s);
    assert_eq!(out, [(2, 4.0, 7.0), (1, 0.0, 13.0)]);
    assert_eq!(st.preemptions(), 1);
}

#[test]
fn non_preemptive_priority_serves_class_zero_first() {
    let mut s: Scheduler<Ev> = Scheduler::default();
    let mut st = Station::new(1, 2, false);
    st.arrive(&mut s, job(1, 1, SimTime::ZERO, 5, None));
    st.arrive(&mut s, job(2, 1, SimTime::ZERO, 1, None));
    st.arrive(&mut s, job(3, 0, SimTime::ZERO, 1, None));
    let out = drain(&mut st, &mut s);
    let ids: Vec<_> = out.iter().map(|o| o.0).collect();
    assert_eq!(ids, [1, 3, 2]);
}

#[test]
fn impatient_customers_renege_and_patient_ones_are_served() {
    let mut s: Scheduler<Ev> = Scheduler::default();
    let mut st = Station::new(1, 1, false);
    st.arrive(&mut s, job(1, 0, SimTime::ZERO, 10, None));
    st.arrive(&mut s, job(2, 0, SimTime::ZERO, 1, Some(3))); // gives up at t=3
    st.arrive(&mut s, job(3, 0, SimTime::ZERO, 1, Some(30))); // served at t=10, timer cancelled
    let out = drain(&mut st, &mut s);
    assert_eq!(out, [(2, -1.0, 3.0), (1, 0.0, 10.0), (3, 10.0, 11.0)]);
    assert_eq!(st.queue_len(), 0);
}

#[test]
fn multi_server_starts_immediately_while_servers_are_free() {
    let mut s: Scheduler<Ev> = Scheduler::default();
    let mut st = Station::new(2, 1, false);
    for id in 0..3 {
        st.arrive(&mut s, job(id, 0, SimTime::ZERO, 2, None));
    }
    assert_eq!((st.busy(), st.queue_len()), (2, 1));
    let out = drain(&mut st, &mut s);
    assert_eq!(out, [(0, 0.0, 2.0), (1, 0.0, 2.0), (2, 2.0, 4.0)]);
    // Two servers busy for 2 s, one for 2 s more: mean busy over 4 s = 1.5.
    assert!((st.mean_busy(SimTime::ZERO + SimDuration::from_secs(4)) - 1.5).abs() < 1e-12);
}

#[test]
fn semaphore_is_fifo_and_hands_over_permits() {
    let mut m = Semaphore::new(1);
    let t = SimTime::ZERO;
    assert_eq!(m.acquire(1, t), Acquire::Granted);
    assert_eq!(m.acquire(2, t), Acquire::Queued(0));
    assert!(!m.try_acquire(t));
    assert_eq!(m.acquire(3, t), Acquire::Queued(1));
    assert!(m.cancel_wait(2, t));
    assert_eq!(m.release(t), Some(3));
    assert_eq!(m.held(), 1);
    assert_eq!(m.release(t), None);
    assert_eq!(m.held(), 0);
    assert!(m.try_acquire(t));
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Ps(SharingEvent);
impl From<SharingEvent> for Ps {
    fn from(e: SharingEvent) -> Ps {
        Ps(e)
    }
}

/// Drains a processor-sharing component, returning (id, finished s).
fn drain_ps(ps: &mut ProcessorSharing, s: &mut Scheduler<Ps>) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    while let Some((_, Ps(e))) = s.pop() {
        if let Some(d) = ps.handle(s, e) {
            out.push((d.id, d.finished.as_secs_f64()));
        }
    }
    out
}

#[test]
fn processor_sharing_slows_jobs_only_when_they_outnumber_processors() {
    // Two processors, three jobs of 2, 4 and 6 s at t = 0: each runs at 2/3 until the first
    // leaves (2 s of work at 2/3 = 3 s), then the other two run at full speed.
    let mut s: Scheduler<Ps> = Scheduler::default();
    let mut ps = ProcessorSharing::new(2);
    for (id, w) in [(0, 2), (1, 4), (2, 6)] {
        ps.arrive(&mut s, id, SimDuration::from_secs(w));
    }
    let out = drain_ps(&mut ps, &mut s);
    assert_eq!(out, [(0, 3.0), (1, 5.0), (2, 7.0)]);
    // Busy processors: 2 until t = 5, then 1 until t = 7.
    let busy = ps.mean_busy(SimTime::ZERO + SimDuration::from_secs(7));
    assert!((busy - 12.0 / 7.0).abs() < 1e-9, "{busy}");
}

#[test]
fn processor_sharing_cancellation_returns_the_share() {
    // One processor, jobs of 4 s and 10 s; the long one is cancelled at t = 2 (each had 1 s),
    // so the short one finishes its remaining 3 s alone at t = 5.
    let mut s: Scheduler<Ps> = Scheduler::default();
    let mut ps = ProcessorSharing::new(1);
    ps.arrive(&mut s, 7, SimDuration::from_secs(4));
    let long = ps.arrive(&mut s, 8, SimDuration::from_secs(10));
    s.run_until(SimTime::ZERO + SimDuration::from_secs(2), |_, _| {
        unreachable!("nothing finishes before t=2")
    });
    assert!(ps.cancel(&mut s, long));
    assert!(!ps.cancel(&mut s, long), "a key cancels once");
    assert_eq!(drain_ps(&mut ps, &mut s), [(7, 5.0)]);
    assert_eq!(ps.present(), 0);
}

#[test]
fn processor_sharing_lone_job_keeps_its_exact_duration_late_in_a_run() {
    // After other work has moved the virtual clock, a job alone still takes exactly its work.
    let mut s: Scheduler<Ps> = Scheduler::default();
    let mut ps = ProcessorSharing::new(3);
    for id in 0..5 {
        ps.arrive(&mut s, id, SimDuration(1_234_567 + id * 7));
    }
    drain_ps(&mut ps, &mut s);
    let start = s.now();
    ps.arrive(&mut s, 99, SimDuration(1_190_476_190_476));
    let out = drain_ps(&mut ps, &mut s);
    assert_eq!(out.len(), 1);
    assert_eq!(s.now().since(start), SimDuration(1_190_476_190_476));
}
