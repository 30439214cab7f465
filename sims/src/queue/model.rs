//! The event loop of the `queue` room.

use rand::Rng;

use super::params::{ArrivalProcess, QueueParams, ServiceSampler};
use crate::des::components::{Arrivals, Job, Station, StationEvent, StationOutput};
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime};
use crate::simulation::{Outcome, RunError};
use crate::stats::{LatencyHistogram, Tally};

#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival,
    Station(StationEvent),
}

impl From<StationEvent> for Ev {
    fn from(e: StationEvent) -> Ev {
        Ev::Station(e)
    }
}

/// Per-class observations of the measured customers.
#[derive(Default)]
struct ClassStats {
    wait: Tally,
    sojourn: Tally,
}

/// Runs one replication and returns its metrics, or an error when the queue grows without
/// bound (an overloaded system that would never serve its measured customers).
pub(super) fn run(p: &QueueParams, streams: &RngStreams) -> Result<Outcome, RunError> {
    let mut arrival_rng = streams.stream("arrivals");
    let mut service_rng = streams.stream("service");
    let mut class_rng = streams.stream("class");

    let mut arrivals = match p.arrival_process {
        ArrivalProcess::Poisson => Arrivals::poisson(p.arrival_rate),
        ArrivalProcess::Deterministic => Arrivals::deterministic(p.arrival_rate),
        ArrivalProcess::Trace => Some(Arrivals::trace(&p.arrival_trace, true)),
    }
    .expect("validated: arrival rate > 0");
    let service = ServiceSampler::new(&p.service);
    let class_cdf = cumulative_shares(&p.classes);
    let patience = p.timeout.map(SimDuration::from_secs_f64);

    let classes = p.classes.len();
    let mut station = Station::new(p.servers as usize, classes, p.preemptive);
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(p.servers as usize + 16);

    let first = p.warmup;
    let last = p.warmup + p.customers; // measured ids are first..last
    let mut next_id: u64 = 0;
    let mut resolved: u64 = 0;
    let mut window_start = SimTime::ZERO;
    let mut departures_in_window: u64 = 0;

    let mut wait = Tally::new();
    let mut sojourn = Tally::new();
    let mut waited: u64 = 0;
    let mut reneged: u64 = 0;
    let mut sojourn_hist = LatencyHistogram::new();
    let mut wait_hist = LatencyHistogram::new();
    let mut per_class: Vec<ClassStats> = (0..classes).map(|_| ClassStats::default()).collect();

    if let Some(t) = arrivals.next_after(SimTime::ZERO, &mut arrival_rng) {
        sched
            .schedule_at(t, Ev::Arrival)
            .expect("first arrival is not in the past");
    }

    // Far above any stable queue's length; memory stays bounded when the system is not.
    let queue_cap = (2 * (p.warmup + p.customers)).max(1_000_000);
    let mut end = SimTime::ZERO;
    while let Some((now, ev)) = sched.pop() {
        end = now;
        match ev {
            Ev::Arrival => {
                let id = next_id;
                next_id += 1;
                if id == first {
                    // Warm-up deletion: time averages restart when the first measured customer
                    // arrives.
                    station.reset_stats(now);
                    window_start = now;
                    departures_in_window = 0;
                }
                let class = draw_class(&class_cdf, &mut class_rng);
                let work = service.sample(&mut service_rng);
                station.arrive(
                    &mut sched,
                    Job {
                        id,
                        class,
                        arrived: now,
                        work,
                        patience,
                    },
                );
                if let Some(t) = arrivals.next_after(now, &mut arrival_rng) {
                    sched.schedule_in(t.since(now), Ev::Arrival);
                }
                if station.queue_len() as u64 > queue_cap {
                    return Err(RunError::Infeasible(format!(
                        "more than {queue_cap} customers waiting at t = {:.0} s: the station is \
                         overloaded (offered load {:.3} per server, or higher classes saturate it) \
                         and would not serve the measured customers",
                        now.as_secs_f64(),
                        p.rho()
                    )));
                }
            }
            Ev::Station(se) => match station.handle(&mut sched, se) {
                Some(StationOutput::Departed(d)) => {
                    departures_in_window += 1;
                    let id = d.job.id;
                    if (first..last).contains(&id) {
                        let s = d.finished.since(d.job.arrived);
                        // Time in queue is everything but service: with preemption that
                        // includes waiting again after an interruption, which keeps
                        // wait_mean consistent with queue_length_mean (Little's law).
                        let w = s - d.job.work;
                        if d.first_start > d.job.arrived || d.preemptions > 0 {
                            waited += 1;
                        }
                        let (ws, ss) = (w.as_secs_f64(), s.as_secs_f64());
                        wait.push(ws);
                        sojourn.push(ss);
                        wait_hist.record(w);
                        sojourn_hist.record(s);
                        let c = &mut per_class[d.job.class];
                        c.wait.push(ws);
                        c.sojourn.push(ss);
                        resolved += 1;
                    }
                }
                Some(StationOutput::Reneged(job)) if (first..last).contains(&job.id) => {
                    reneged += 1;
                    waited += 1;
                    resolved += 1;
                }
                Some(StationOutput::Reneged(_)) | None => {}
            },
        }
        if resolved == p.customers {
            break;
        }
    }

    let mut out = Outcome::default();
    let window = end.since(window_start).as_secs_f64();
    // Metrics with no observations are left out (the verdict then says so) rather than
    // reported as 0.
    if wait.count() > 0 {
        out.set("wait_mean", wait.mean());
        out.set("sojourn_mean", sojourn.mean());
        out.set("sojourn_p50", sojourn_hist.value_at_quantile_s(0.50));
        out.set("sojourn_p95", sojourn_hist.value_at_quantile_s(0.95));
        out.set("sojourn_p99", sojourn_hist.value_at_quantile_s(0.99));
        out.set("wait_p99", wait_hist.value_at_quantile_s(0.99));
    }
    let trials = wait.count() + reneged;
    out.set_proportion("p_wait", waited, trials);
    out.set("utilization", station.mean_busy(end) / p.servers as f64);
    out.set(
        "throughput",
        if window > 0.0 {
            departures_in_window as f64 / window
        } else {
            0.0
        },
    );
    out.set("queue_length_mean", station.mean_queue_len(end));
    out.set_proportion("reneged_fraction", reneged, trials);
    if classes > 1 {
        for (i, c) in per_class
            .iter()
            .enumerate()
            .filter(|(_, c)| c.wait.count() > 0)
        {
            out.set(format!("wait_mean_class{i}"), c.wait.mean());
            out.set(format!("sojourn_mean_class{i}"), c.sojourn.mean());
        }
    }
    Ok(out)
}

fn cumulative_shares(shares: &[f64]) -> Vec<f64> {
    let total: f64 = shares.iter().sum();
    let mut acc = 0.0;
    shares
        .iter()
        .map(|s| {
            acc += s / total;
            acc
        })
        .collect()
}

#[inline]
fn draw_class<R: Rng + ?Sized>(cdf: &[f64], rng: &mut R) -> usize {
    if cdf.len() == 1 {
        return 0;
    }
    let u = crate::des::uniform(rng);
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1)
}
