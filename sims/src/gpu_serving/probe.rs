//! Two small experiments on one GPU, run with the same engine as the cluster:
//! - the capacity probe: every process kept full of the class mix; requests served per second;
//! - the tenant probe: the dataset's time-slicing experiment, `tenants` closed-loop clients
//!   each sending a batch-1 request of a few decode steps and then idling, started together.

use super::engine::{Engine, GpuTick, Out};
use super::hardware::{Hardware, Layout};
use super::params::{GpuServingParams, Sharing};
use super::workload::{Lengths, mix_mean_tokens};
use crate::des::{RngStreams, Scheduler, SimDuration, SimTime, uniform};
use crate::stats::value_at_quantile;

/// Requests per second one GPU completes when every process always has work waiting.
pub(super) fn capacity(
    p: &GpuServingParams,
    hw: &Hardware,
    layout: Layout,
    streams: &RngStreams,
) -> f64 {
    let mut rng = streams.stream("capacity_probe");
    let lengths: Vec<Lengths> = p
        .classes()
        .iter()
        .map(|c| Lengths::new(c, p.max_context_tokens))
        .collect();
    let total: f64 = p.classes().iter().map(|c| c.share).sum();
    let mut cdf = [0.0; 3];
    let mut acc = 0.0;
    for (i, c) in p.classes().iter().enumerate() {
        acc += c.share / total;
        cdf[i] = acc;
    }
    let draw = |rng: &mut crate::des::Stream| {
        let u = uniform(rng);
        let class = cdf.iter().position(|&c| u < c).unwrap_or(2);
        let (prompt, output) = lengths[class].draw(rng);
        (class as u8, prompt, output)
    };

    let mut engine = Engine::new(
        hw,
        1,
        layout.units,
        layout.max_seqs,
        layout.kv_tokens,
        p.max_prefill_tokens_per_step,
    );
    let mut sched: Scheduler<GpuTick> = Scheduler::with_capacity(16);
    let units = layout.units as usize;
    // The next request of each unit, drawn ahead so a unit waits for room rather than skipping.
    let mut next: Vec<(u8, u32, u32)> = (0..units).map(|_| draw(&mut rng)).collect();
    let mut fill = |engine: &mut Engine, u: usize, rng: &mut crate::des::Stream| {
        loop {
            let (class, prompt, output) = next[u];
            if !engine.can_admit(u, prompt + output) {
                break;
            }
            engine.admit(u, 0, class, prompt, output, prompt + output, false);
            next[u] = draw(rng);
        }
    };
    for u in 0..units {
        fill(&mut engine, u, &mut rng);
        engine.start(u, SimTime::ZERO);
    }
    engine.flush(SimTime::ZERO, &mut sched);

    // Warm up past two turnovers of a full batch: the first completions come from a batch
    // that started empty, all at once.
    let full_batch = (layout.max_seqs as f64).min(layout.kv_tokens as f64 / mix_mean_tokens(p));
    let warm = ((p.probe_requests / 10) as u64).max((2.0 * units as f64 * full_batch) as u64);
    let target = warm + p.probe_requests as u64;
    let mut done: u64 = 0;
    let mut t_warm = SimTime::ZERO;
    let mut out = Vec::new();
    while let Some((now, tick)) = sched.pop() {
        let finished = engine.on_tick(tick, now);
        for &u in &finished {
            out.clear();
            engine.finish_step(u as usize, &mut out);
            for o in &out {
                if matches!(o, Out::Done(_)) {
                    done += 1;
                    if done == warm {
                        t_warm = now;
                    }
                    if done == target {
                        let span = now.since(t_warm).as_secs_f64();
                        return if span > 0.0 {
                            p.probe_requests as f64 / span
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
        for &u in &finished {
            fill(&mut engine, u as usize, &mut rng);
            engine.start(u as usize, now);
        }
        engine.recycle(finished);
        engine.flush(now, &mut sched);
    }
    0.0
}

/// What the tenant probe measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct TenantRun {
    /// Output tokens per second of all tenants together.
    pub tokens_per_s: f64,
    /// Mean request latency, s.
    pub latency_mean_s: f64,
    /// 99th percentile request latency, s.
    pub latency_p99_s: f64,
}

#[derive(Clone, Copy, Debug)]
enum TenantEv {
    Tick(GpuTick),
    Send(u32),
}

impl From<GpuTick> for TenantEv {
    fn from(t: GpuTick) -> TenantEv {
        TenantEv::Tick(t)
    }
}

/// `tenants` clients, each sending a request of `tokens` decode steps at batch 1 (no prompt),
/// waiting `idle_s` after each answer, all starting at time zero. With `time_slice` each tenant
/// has its own process on the GPU; with `batching` all share one batching process. `None` when
/// the processes do not fit in memory.
pub(super) fn tenants(
    p: &GpuServingParams,
    hw: &Hardware,
    sharing: Sharing,
    tenants: u32,
    tokens: u32,
    idle_s: f64,
) -> Option<TenantRun> {
    let layout = hw.layout(p, sharing, tenants)?;
    let mut engine = Engine::new(
        hw,
        1,
        layout.units,
        layout.max_seqs.max(tenants),
        layout.kv_tokens,
        p.max_prefill_tokens_per_step,
    );
    let mut sched: Scheduler<TenantEv> = Scheduler::with_capacity(16);
    let idle = SimDuration::from_secs_f64(idle_s);
    // Long enough for ~200 requests per tenant even when every request is stretched.
    let solo_s = tokens as f64 * hw.step_ms(1) / 1e3;
    let slowest = solo_s * tenants as f64 * (1.0 + hw.overhead.max(0.0)) + idle_s;
    let horizon = SimTime(SimDuration::from_secs_f64(200.0 * slowest).0);
    let warm = SimTime(SimDuration::from_secs_f64(20.0 * slowest).0);
    let unit_of = |t: u32| match sharing {
        Sharing::TimeSlice => t as usize,
        Sharing::Batching => 0,
    };
    let mut sent_at = vec![SimTime::ZERO; tenants as usize];
    for t in 0..tenants {
        sched.schedule_in(SimDuration::ZERO, TenantEv::Send(t));
    }
    let mut latencies: Vec<f64> = Vec::new();
    let mut out_tokens: u64 = 0;
    let mut out = Vec::new();
    while let Some((now, ev)) = sched.pop() {
        if now > horizon {
            break;
        }
        match ev {
            TenantEv::Send(t) => {
                let u = unit_of(t);
                sent_at[t as usize] = now;
                engine.admit(u, t, 0, 0, tokens, tokens, false);
                engine.start(u, now);
            }
            TenantEv::Tick(tick) => {
                let finished = engine.on_tick(tick, now);
                for &u in &finished {
                    out.clear();
                    engine.finish_step(u as usize, &mut out);
                    for o in &out {
                        if let Out::Done(t) = *o {
                            if now > warm {
                                out_tokens += tokens as u64;
                                latencies.push(now.since(sent_at[t as usize]).as_secs_f64());
                            }
                            sched.schedule_in(idle, TenantEv::Send(t));
                        }
                    }
                }
                for &u in &finished {
                    engine.start(u as usize, now);
                }
                engine.recycle(finished);
            }
        }
        engine.flush(now, &mut sched);
    }
    if latencies.is_empty() {
        return None;
    }
    let span = horizon.since(warm).as_secs_f64();
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    latencies.sort_by(f64::total_cmp);
    let p99 = value_at_quantile(&latencies, 0.99);
    Some(TenantRun {
        tokens_per_s: out_tokens as f64 / span,
        latency_mean_s: mean,
        latency_p99_s: p99,
    })
}
