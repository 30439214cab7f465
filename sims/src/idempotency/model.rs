//! One day of payments. Each logical payment (and the genuine identical payment that may
//! follow it) is simulated on its own small event timeline: payments interact only through
//! their keys, and keys are per payment except where the key strategy merges them.
//!
//! This file runs the groups (a day of payments, or the real kernel's bursts) and turns their
//! counts into metrics; a group's state and the client's side (sends, retries, timeouts) are in
//! `group.rs`, the server's side (claims, charges, answers) in `server.rs`.

use std::collections::HashMap;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use super::group::{Counts, Ev, Group, Payment, secs};
use super::params::{IdempotencyParams, KeyStrategy};
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime, uniform};
use crate::simulation::Outcome;
use crate::stats::LatencyHistogram;

/// Runs one replication: a day of payments, or bursts of concurrent duplicates.
pub(super) fn run(p: &IdempotencyParams, streams: &RngStreams) -> Outcome {
    if p.burst_size > 0 {
        bursts(p, streams)
    } else {
        day(p, streams)
    }
}

fn charge_dist(p: &IdempotencyParams) -> LogNormal<f64> {
    LogNormal::new(p.charge_median_ms.ln(), p.charge_sigma.max(1e-12)).expect("validated")
}

/// What the real kernel measures: `burst_size` requests with one key, arriving within
/// `burst_spread_ms`, no losses, no retries; answers and charges per burst, with the counts
/// behind them (bursts are the exposure).
fn bursts(p: &IdempotencyParams, streams: &RngStreams) -> Outcome {
    let mut rng = streams.stream("bursts");
    let mut latency = LatencyHistogram::new();
    let mut retried_latency = LatencyHistogram::new();
    let mut counts = Counts::default();
    let quiet = IdempotencyParams {
        request_loss: 0.0,
        response_loss: 0.0,
        stall_rate: 0.0,
        max_attempts: 1,
        offline_rate: 0.0,
        restarts_per_day: 0.0,
        key_strategy: KeyStrategy::UuidPerPayment,
        instances: 1,
        ..p.clone()
    };
    let n = p.burst_size as usize;
    let mut charges = 0u64;
    let mut double_charged = 0u64;
    for _ in 0..p.burst_trials {
        let key = rng.next_u64();
        let mut g = Group {
            p: &quiet,
            rng: &mut rng,
            sched: Scheduler::with_capacity(8 * n),
            payments: (0..n).map(|_| Payment::default()).collect(),
            reqs: Vec::new(),
            keys: HashMap::new(),
            memory: vec![HashMap::new()],
            epoch: 0,
            next_restart: SimTime(u64::MAX),
            restart_gap: None,
            charge: charge_dist(&quiet),
            payment_key: vec![key; n],
            latency: &mut latency,
            retried_latency: &mut retried_latency,
            counts: &mut counts,
        };
        for payment in 0..n {
            let at = secs(g.unit() * p.burst_spread_ms / 1000.0);
            g.sched.schedule_in(at, Ev::Send { payment });
        }
        g.drain(SimTime::ZERO + secs(3600.0));
        let burst: u64 = g.payments.iter().map(|x| x.charges as u64).sum();
        charges += burst;
        double_charged += u64::from(burst > 1);
    }
    let bursts = f64::from(p.burst_trials);
    let mut out = Outcome::default();
    out.set_rate("burst_charges_per_key", charges, bursts, 1.0);
    out.set_rate("burst_conflicts_per_key", counts.conflicts, bursts, 1.0);
    out.set_rate("burst_replays_per_key", counts.replays, bursts, 1.0);
    out.set_rate(
        "burst_wrong_answers_per_key",
        counts.wrong_answers,
        bursts,
        1.0,
    );
    out.set_proportion(
        "burst_double_charged",
        double_charged,
        u64::from(p.burst_trials),
    );
    out
}

/// One day of payments.
fn day(p: &IdempotencyParams, streams: &RngStreams) -> Outcome {
    let mut rng = streams.stream("payments");
    let mut latency = LatencyHistogram::new();
    let mut retried_latency = LatencyHistogram::new();
    let mut counts = Counts::default();
    let charge = charge_dist(p);
    let restart_gap = (p.restarts_per_day > 0.0)
        .then(|| Exp::new(p.restarts_per_day / 86_400.0).expect("validated"));
    let repeat_gap = Exp::new(1.0 / p.repeat_gap_s).expect("validated");
    let n = u64::from(p.payments_simulated);
    let day = secs(86_400.0);
    // Offline replays come `offline_delay_h` later; every group runs until two days after.
    let horizon = SimTime::ZERO + day + day + secs(p.offline_delay_h * 3600.0);
    for i in 0..n {
        // Each group starts at its own time of day (it matters for content-hash buckets).
        let start = secs(86_400.0 * (i as f64 + 0.5) / n as f64);
        let repeat = uniform(&mut rng) < p.identical_repeat_rate;
        let base_key = rng.next_u64();
        let mut payments = vec![Payment::default()];
        let mut keys = vec![base_key];
        let mut repeat_at = SimDuration::ZERO;
        if repeat {
            payments.push(Payment {
                genuine_repeat: true,
                ..Payment::default()
            });
            repeat_at = secs(repeat_gap.sample(&mut rng));
            let same_bucket = (start.as_secs_f64() / p.hash_bucket_s).floor()
                == ((start + repeat_at).as_secs_f64() / p.hash_bucket_s).floor();
            keys.push(match p.key_strategy {
                // Same user, amount and merchant in one bucket: the same hash.
                KeyStrategy::ContentHash if same_bucket => base_key,
                _ => rng.next_u64(),
            });
        }
        let first_restart = restart_gap.map_or(SimTime(u64::MAX), |g| {
            SimTime::ZERO + secs(g.sample(&mut rng))
        });
        let mut g = Group {
            p,
            rng: &mut rng,
            sched: Scheduler::with_capacity(32),
            payments,
            reqs: Vec::new(),
            keys: HashMap::new(),
            memory: (0..p.instances).map(|_| HashMap::new()).collect(),
            epoch: 0,
            next_restart: first_restart,
            restart_gap,
            charge,
            payment_key: keys,
            latency: &mut latency,
            retried_latency: &mut retried_latency,
            counts: &mut counts,
        };
        // Times are relative to the group's start; the start only mattered for buckets.
        g.sched
            .schedule_in(SimDuration::ZERO, Ev::Send { payment: 0 });
        if g.unit() < p.double_submit_rate {
            let tap = secs(g.unit() * 0.1);
            g.sched.schedule_in(tap, Ev::Send { payment: 0 });
        }
        if repeat {
            g.sched.schedule_in(repeat_at, Ev::Send { payment: 1 });
        }
        g.drain(horizon);
        for pay in &g.payments {
            g.counts.payments += 1;
            g.counts.extra_charges += pay.charges.saturating_sub(1) as u64;
            if pay.genuine_repeat && pay.charges == 0 && pay.done {
                // Told "paid" by a replay of the first payment: a genuine payment refused.
                g.counts.false_dedupes += 1;
            }
            if pay.failed && !pay.done {
                g.counts.failed += 1;
            }
        }
    }
    outcome(p, n, &counts, &latency, &retried_latency)
}

fn outcome(
    p: &IdempotencyParams,
    logical: u64,
    c: &Counts,
    latency: &LatencyHistogram,
    retried: &LatencyHistogram,
) -> Outcome {
    let mut out = Outcome::default();
    let payments = c.payments as f64;
    for (name, events) in [
        ("double_charges_per_10k", c.extra_charges),
        ("false_dedupes_per_10k", c.false_dedupes),
        ("conflicts_per_10k", c.conflicts),
        ("wrong_answers_per_10k", c.wrong_answers),
        ("failed_payments_per_10k", c.failed),
    ] {
        out.set_rate(name, events, payments, 10_000.0);
    }
    // The simulated payments are this many days of the article's traffic.
    let days = logical as f64 / p.payments_per_day;
    out.set_rate("double_charges_per_day", c.extra_charges, days, 1.0);
    if !latency.is_empty() {
        out.set("p99_latency_ms", latency.value_at_quantile_s(0.99) * 1000.0);
    }
    if !retried.is_empty() {
        out.set("retried_p50_s", retried.value_at_quantile_s(0.5));
    }
    // Keys written per day, kept for the TTL; without a TTL, a year's worth (and growing).
    let keys_per_day = if logical == 0 {
        0.0
    } else {
        c.keys_stored as f64 / days
    };
    let kept_days = if p.ttl_h > 0.0 { p.ttl_h / 24.0 } else { 365.0 };
    out.set("table_rows_steady_state", keys_per_day * kept_days);
    out
}
