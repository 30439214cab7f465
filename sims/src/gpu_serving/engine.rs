//! Serving processes on GPUs. Inside a process: continuous batching, one step at a time; a
//! step decodes one token for every running sequence and prefills up to the chunk budget of
//! waiting prompts, and takes t(B) + prefill tokens × cost. Between the time-sliced processes
//! of one GPU: processor sharing, which is what the dataset measured (`h100-timeslice.jsonl`):
//! with n processes stepping at once each progresses at 1 / (n (1 + overhead)) of its solo
//! speed, so slices share one GPU's throughput, interleave, and stretch every overlapping step.
//!
//! Sequence bookkeeping is O(log B) per completion and O(1) per step: a sequence that joins
//! decoding at step s and needs n tokens finishes at step s + n, kept in a min-heap per process.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::hardware::Hardware;
use crate::des::{Scheduler, SimDuration, SimTime};
use crate::stats::TimeWeighted;

/// The engine's event: GPU `gpu`'s next step completion, valid while `epoch` is current.
#[derive(Clone, Copy, Debug)]
pub(super) struct GpuTick {
    pub gpu: u32,
    pub epoch: u64,
}

/// What a finished step produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Out {
    /// The request's prefill finished: its first token is out.
    First(u32),
    /// The request's last token is out; its sequence is gone.
    Done(u32),
}

/// A sequence taken off a process before it finished.
#[derive(Clone, Copy, Debug)]
pub(super) struct Preempted {
    pub req: u32,
    pub class: u8,
    /// Output tokens it generated since it was admitted (lost unless persisted).
    pub generated: u32,
    /// Prompt tokens prefilled since it was admitted (its KV cache is gone with it).
    pub prefilled: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for (or partway through) its prefill.
    Pending,
    /// Its prefill completes in the step now running.
    Joining,
    Decoding,
    Free,
}

#[derive(Clone, Debug)]
struct Seq {
    req: u32,
    unit: u32,
    class: u8,
    prefill_left: u32,
    prefill_total: u32,
    decode_needed: u32,
    /// While decoding: tokens generated = the unit's steps − base.
    base: u64,
    kv: u32,
    state: State,
    /// Bumped when the slot is freed, so stale heap entries are recognised.
    epoch: u32,
    /// Index in the unit's member list.
    pos: u32,
}

/// One serving process.
#[derive(Clone, Debug)]
pub(super) struct Unit {
    pub gpu: u32,
    pub max_seqs: u32,
    pub kv_cap: u64,
    kv_used: u64,
    members: Vec<u32>,
    pending: VecDeque<u32>,
    /// (sequence, generation) of the sequences whose prefill completes in the running step.
    joiners: Vec<(u32, u32)>,
    finish: BinaryHeap<Reverse<(u64, u32, u32)>>,
    decoding: u32,
    steps: u64,
    stepping: bool,
    /// Live sequences per class (pending, joining or decoding).
    pub class_live: [u32; 3],
}

#[derive(Clone, Debug)]
struct Gpu {
    /// (unit, solo work left in ns) for every process with a step in progress.
    active: Vec<(u32, f64)>,
    last: SimTime,
    epoch: u64,
    dirty: bool,
    busy: TimeWeighted,
}

/// Every GPU and serving process of a cluster.
pub(super) struct Engine {
    hw: Hardware,
    prefill_budget: u32,
    gpus: Vec<Gpu>,
    pub units: Vec<Unit>,
    seqs: Vec<Seq>,
    free: Vec<u32>,
    dirty: Vec<u32>,
    /// Finished processes of the current tick.
    done_buf: Vec<u32>,
}

/// Solo work below this (ns) counts as done: ticks land on whole nanoseconds.
const DONE_NS: f64 = 0.5;

impl Engine {
    /// `gpus` GPUs with `units_per_gpu` processes each; unit u lives on GPU u / units_per_gpu.
    pub(super) fn new(
        hw: &Hardware,
        gpus: u32,
        units_per_gpu: u32,
        max_seqs: u32,
        kv_cap: u64,
        prefill_budget: u32,
    ) -> Engine {
        let units = (0..gpus * units_per_gpu)
            .map(|u| Unit {
                gpu: u / units_per_gpu,
                max_seqs,
                kv_cap,
                kv_used: 0,
                members: Vec::new(),
                pending: VecDeque::new(),
                joiners: Vec::new(),
                finish: BinaryHeap::new(),
                decoding: 0,
                steps: 0,
                stepping: false,
                class_live: [0; 3],
            })
            .collect();
        Engine {
            hw: hw.clone(),
            prefill_budget,
            gpus: (0..gpus)
                .map(|_| Gpu {
                    active: Vec::with_capacity(units_per_gpu as usize),
                    last: SimTime::ZERO,
                    epoch: 0,
                    dirty: false,
                    busy: TimeWeighted::new(SimTime::ZERO, 0.0),
                })
                .collect(),
            units,
            seqs: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            done_buf: Vec::new(),
        }
    }

    /// Whether unit `u` has a free sequence slot and `kv` tokens of KV cache.
    #[inline]
    pub(super) fn can_admit(&self, u: usize, kv: u32) -> bool {
        let unit = &self.units[u];
        (unit.members.len() as u32) < unit.max_seqs && unit.kv_used + kv as u64 <= unit.kv_cap
    }

    /// Sequences live on unit `u` (pending, joining or decoding).
    #[inline]
    pub(super) fn live(&self, u: usize) -> u32 {
        self.units[u].members.len() as u32
    }

    /// KV tokens free on unit `u`.
    pub(super) fn kv_free(&self, u: usize) -> u64 {
        self.units[u].kv_cap - self.units[u].kv_used
    }

    /// Adds a request to unit `u`: `prefill` prompt tokens to prefill, then `decode` output
    /// tokens; it holds `kv` KV tokens until it leaves. With `by_class` it waits ahead of lower
    /// classes; otherwise behind everything already waiting. Returns the sequence id.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit(
        &mut self,
        u: usize,
        req: u32,
        class: u8,
        prefill: u32,
        decode: u32,
        kv: u32,
        by_class: bool,
    ) -> u32 {
        let pos = self.units[u].members.len() as u32;
        let seq = Seq {
            req,
            unit: u as u32,
            class,
            prefill_left: prefill,
            prefill_total: prefill,
            decode_needed: decode.max(1),
            base: 0,
            kv,
            state: State::Pending,
            epoch: 0,
            pos,
        };
        let id = match self.free.pop() {
            Some(id) => {
                let epoch = self.seqs[id as usize].epoch;
                self.seqs[id as usize] = Seq { epoch, ..seq };
                id
            }
            None => {
                self.seqs.push(seq);
                (self.seqs.len() - 1) as u32
            }
        };
        let unit = &mut self.units[u];
        unit.members.push(id);
        unit.kv_used += kv as u64;
        unit.class_live[class as usize] += 1;
        if by_class {
            let at = unit
                .pending
                .iter()
                .position(|&s| self.seqs[s as usize].class > class)
                .unwrap_or(unit.pending.len());
            unit.pending.insert(at, id);
        } else {
            unit.pending.push_back(id);
        }
        id
    }

    /// Starts unit `u`'s next step if it is idle and has work.
    pub(super) fn start(&mut self, u: usize, now: SimTime) {
        let unit = &mut self.units[u];
        if unit.stepping {
            return;
        }
        unit.joiners.clear();
        let mut budget = self.prefill_budget;
        let mut prefill_tokens: u64 = 0;
        while let Some(&s) = unit.pending.front() {
            let seq = &mut self.seqs[s as usize];
            if seq.prefill_left > 0 {
                if budget == 0 {
                    break;
                }
                let take = seq.prefill_left.min(budget);
                seq.prefill_left -= take;
                budget -= take;
                prefill_tokens += take as u64;
            }
            if seq.prefill_left > 0 {
                break;
            }
            seq.state = State::Joining;
            unit.pending.pop_front();
            unit.joiners.push((s, seq.epoch));
        }
        let batch = unit.decoding + unit.joiners.len() as u32;
        if batch == 0 && prefill_tokens == 0 {
            return;
        }
        unit.stepping = true;
        let work_ms = self.hw.step_ms(batch) + prefill_tokens as f64 * self.hw.prefill_ms_per_token;
        let g = unit.gpu as usize;
        self.advance(g, now);
        self.gpus[g].active.push((u as u32, work_ms * 1e6));
        self.mark(g);
    }

    /// Handles a GPU tick: returns the units whose step finished (empty for a stale tick).
    /// Call [`Engine::finish_step`] for each, refill, [`Engine::start`], then [`Engine::flush`].
    pub(super) fn on_tick(&mut self, tick: GpuTick, now: SimTime) -> Vec<u32> {
        let g = tick.gpu as usize;
        let mut done = std::mem::take(&mut self.done_buf);
        done.clear();
        if self.gpus[g].epoch != tick.epoch {
            return done;
        }
        self.advance(g, now);
        let gpu = &mut self.gpus[g];
        gpu.active.retain(|&(u, rem)| {
            if rem <= DONE_NS {
                done.push(u);
                false
            } else {
                true
            }
        });
        self.mark(g);
        done
    }

    /// Returns the buffer [`Engine::on_tick`] handed out, for reuse.
    pub(super) fn recycle(&mut self, buf: Vec<u32>) {
        self.done_buf = buf;
    }

    /// Completes unit `u`'s step: every sequence in it produced a token.
    pub(super) fn finish_step(&mut self, u: usize, out: &mut Vec<Out>) {
        let unit = &mut self.units[u];
        unit.stepping = false;
        unit.steps += 1;
        let now_step = unit.steps;
        while let Some(&Reverse((f, s, epoch))) = self.units[u].finish.peek() {
            if f > now_step {
                break;
            }
            self.units[u].finish.pop();
            let seq = &self.seqs[s as usize];
            if seq.epoch != epoch || seq.state != State::Decoding {
                continue;
            }
            out.push(Out::Done(seq.req));
            self.release(s);
        }
        let mut joiners = std::mem::take(&mut self.units[u].joiners);
        for &(s, epoch) in &joiners {
            let seq = &mut self.seqs[s as usize];
            if seq.epoch != epoch || seq.state != State::Joining {
                continue; // preempted during the step
            }
            out.push(Out::First(seq.req));
            if seq.decode_needed <= 1 {
                out.push(Out::Done(seq.req));
                self.release(s);
            } else {
                seq.state = State::Decoding;
                seq.base = now_step - 1;
                let entry = Reverse((seq.base + seq.decode_needed as u64, s, seq.epoch));
                let unit = &mut self.units[u];
                unit.decoding += 1;
                unit.finish.push(entry);
            }
        }
        joiners.clear();
        self.units[u].joiners = joiners;
    }

    /// Takes sequence `s` off its unit; its KV cache and slot are freed at once.
    pub(super) fn preempt(&mut self, s: u32) -> Preempted {
        let seq = &self.seqs[s as usize];
        let u = seq.unit as usize;
        let generated = match seq.state {
            State::Decoding => (self.units[u].steps - seq.base) as u32,
            _ => 0,
        };
        let info = Preempted {
            req: seq.req,
            class: seq.class,
            generated,
            prefilled: seq.prefill_total - seq.prefill_left,
        };
        if seq.state == State::Pending {
            let unit = &mut self.units[u];
            if let Some(i) = unit.pending.iter().position(|&x| x == s) {
                unit.pending.remove(i);
            }
        }
        self.release(s);
        info
    }

    /// The live sequences of unit `u` (ids, in admission order up to swaps).
    pub(super) fn members(&self, u: usize) -> &[u32] {
        &self.units[u].members
    }

    /// (class, output tokens generated so far, prompt tokens prefilled so far, KV tokens) of
    /// live sequence `s`.
    pub(super) fn seq_info(&self, s: u32) -> (u8, u32, u32, u32) {
        let seq = &self.seqs[s as usize];
        let generated = match seq.state {
            State::Decoding => (self.units[seq.unit as usize].steps - seq.base) as u32,
            _ => 0,
        };
        (
            seq.class,
            generated,
            seq.prefill_total - seq.prefill_left,
            seq.kv,
        )
    }

    /// The request sequence `s` serves.
    pub(super) fn seq_req(&self, s: u32) -> u32 {
        self.seqs[s as usize].req
    }

    /// Schedules the next tick of every GPU whose set of running steps changed.
    pub(super) fn flush<E: From<GpuTick>>(&mut self, now: SimTime, sched: &mut Scheduler<E>) {
        let overhead = self.hw.overhead;
        for g in self.dirty.drain(..) {
            let gpu = &mut self.gpus[g as usize];
            gpu.dirty = false;
            gpu.epoch += 1;
            if gpu.active.is_empty() {
                gpu.busy.set(now, 0.0);
                continue;
            }
            gpu.busy.set(now, 1.0);
            let rate = rate(gpu.active.len(), overhead);
            let min_rem = gpu.active.iter().map(|a| a.1).fold(f64::INFINITY, f64::min);
            let dt = (min_rem.max(0.0) / rate).ceil();
            sched.schedule_in(
                SimDuration(dt as u64),
                E::from(GpuTick {
                    gpu: g,
                    epoch: gpu.epoch,
                }),
            );
        }
    }

    /// Mean share of time GPU `g` ran a step since the last reset.
    pub(super) fn busy_mean(&self, g: usize, now: SimTime) -> f64 {
        self.gpus[g].busy.mean(now)
    }

    /// Forgets busy-time history (warm-up deletion).
    pub(super) fn reset_stats(&mut self, now: SimTime) {
        for gpu in &mut self.gpus {
            gpu.busy.reset(now);
        }
    }

    /// GPUs in the cluster.
    pub(super) fn gpu_count(&self) -> usize {
        self.gpus.len()
    }

    fn advance(&mut self, g: usize, now: SimTime) {
        let overhead = self.hw.overhead;
        let gpu = &mut self.gpus[g];
        if now > gpu.last && !gpu.active.is_empty() {
            let progress = now.since(gpu.last).0 as f64 * rate(gpu.active.len(), overhead);
            for a in &mut gpu.active {
                a.1 -= progress;
            }
        }
        if now > gpu.last {
            gpu.last = now;
        }
    }

    fn mark(&mut self, g: usize) {
        if !self.gpus[g].dirty {
            self.gpus[g].dirty = true;
            self.dirty.push(g as u32);
        }
    }

    fn release(&mut self, s: u32) {
        let seq = &mut self.seqs[s as usize];
        let u = seq.unit as usize;
        let pos = seq.pos as usize;
        let was_decoding = seq.state == State::Decoding;
        seq.state = State::Free;
        seq.epoch = seq.epoch.wrapping_add(1);
        let (kv, class) = (seq.kv, seq.class);
        let unit = &mut self.units[u];
        unit.members.swap_remove(pos);
        if let Some(&moved) = unit.members.get(pos) {
            self.seqs[moved as usize].pos = pos as u32;
        }
        let unit = &mut self.units[u];
        unit.kv_used -= kv as u64;
        unit.class_live[class as usize] -= 1;
        if was_decoding {
            unit.decoding -= 1;
        }
        self.free.push(s);
    }
}

/// Progress per unit of time of each of `n` processes stepping at once on one GPU.
#[inline]
fn rate(n: usize, overhead: f64) -> f64 {
    if n <= 1 {
        1.0
    } else {
        1.0 / (n as f64 * (1.0 + overhead))
    }
}
