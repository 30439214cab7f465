//! `decide`'s input as the processor receives it, one JSONL line at a time: lines of one trace
//! id are grouped while the trace waits for its decision, decided in batches by the 1-second
//! tick, with `num_traces` FIFO eviction, the decision caches and late spans handled as the
//! collector handles them (`collector.rs` does the same for the simulation's compressed
//! traces). Memory holds what the processor holds: the traces inside their decision window,
//! at most `num_traces` of them, whatever the file's size.

use std::collections::VecDeque;
use std::io::BufRead;

use super::cache::Lru;
use super::config::TailConfig;
use super::ids::IdMap;
use super::trace::Trace;

/// Reads traces one line at a time; blank lines and `#` comments are skipped.
pub(super) struct TraceLines<R> {
    reader: R,
    buf: String,
    number: usize,
}

impl<R: BufRead> TraceLines<R> {
    pub(super) fn new(reader: R) -> TraceLines<R> {
        TraceLines {
            reader,
            buf: String::new(),
            number: 0,
        }
    }

    /// The next line's trace (or fragment of one), `Ok(None)` at the end, or the line's
    /// 1-based number and what is wrong with it.
    pub(super) fn next_line(&mut self) -> Result<Option<Trace>, (usize, String)> {
        loop {
            self.buf.clear();
            self.number += 1;
            let n = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|e| (self.number, format!("cannot read: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            let text = self.buf.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            return Trace::from_json_line(text)
                .map(Some)
                .map_err(|e| (self.number, e));
        }
    }
}

/// What the window holds for a trace id.
enum Held {
    Pending(Trace),
    Decided,
}

/// What became of a line given to [`Window::add`].
pub(super) enum Added {
    /// A new trace (or a fragment of one the collector no longer holds) now waits.
    Waiting,
    /// Joined its trace, which is still waiting.
    Joined,
    /// Arrived after its trace was decided: it follows that decision.
    Late,
}

/// The processor's pending traces and decision bookkeeping.
pub(super) struct Window {
    num_traces: usize,
    /// Ticks a new trace waits: max(1, whole seconds of `decision_wait`).
    wait_ticks: u64,
    map: IdMap<Held>,
    fifo: VecDeque<u128>,
    /// (decision time in ns, ids), earliest first.
    batches: VecDeque<(u64, Vec<u128>)>,
    sampled: Lru,
    not_sampled: Lru,
    clock_ns: u64,
    /// Traces evicted before their decision because `num_traces` were already held.
    pub(super) evicted_undecided: u64,
}

const SECOND_NS: u64 = 1_000_000_000;

/// The time a line arrives: when its last span ended (a span is exported once it ends).
pub(super) fn arrival_ns(t: &Trace) -> u64 {
    t.spans.iter().map(|s| s.end_ns).max().unwrap_or(0)
}

impl Window {
    pub(super) fn new(cfg: &TailConfig) -> Window {
        Window {
            num_traces: usize::try_from(cfg.num_traces).unwrap_or(usize::MAX).max(1),
            wait_ticks: (cfg.decision_wait_s.floor() as u64).max(1),
            map: IdMap::default(),
            fifo: VecDeque::new(),
            batches: VecDeque::new(),
            sampled: Lru::new(cfg.sampled_cache_size),
            not_sampled: Lru::new(cfg.non_sampled_cache_size),
            clock_ns: 0,
            evicted_undecided: 0,
        }
    }

    /// Moves the clock to `now_ns` (it never goes back) and hands out, in arrival order, the
    /// traces whose decision tick has come, each with that tick's time. Each must be given back through [`Window::decided`].
    pub(super) fn due(&mut self, now_ns: u64) -> Vec<(u64, Trace)> {
        self.clock_ns = self.clock_ns.max(now_ns);
        let mut out = Vec::new();
        while self
            .batches
            .front()
            .is_some_and(|(at, _)| *at <= self.clock_ns)
        {
            let (at, ids) = self.batches.pop_front().expect("checked");
            out.extend(
                ids.into_iter()
                    .filter_map(|id| self.take_pending(id).map(|t| (at, t))),
            );
        }
        out
    }

    /// Every trace still waiting at the end of the input, with its decision time: the
    /// input ends, the ticks go on.
    pub(super) fn drain(&mut self) -> Vec<(u64, Trace)> {
        let batches = std::mem::take(&mut self.batches);
        batches
            .into_iter()
            .flat_map(|(at, ids)| ids.into_iter().map(move |id| (at, id)))
            .filter_map(|(at, id)| self.take_pending(id).map(|t| (at, t)))
            .collect()
    }

    fn take_pending(&mut self, id: u128) -> Option<Trace> {
        match self.map.get_mut(&id) {
            Some(h @ Held::Pending(_)) => match std::mem::replace(h, Held::Decided) {
                Held::Pending(t) => Some(t),
                Held::Decided => unreachable!("matched Pending"),
            },
            _ => None,
        }
    }

    /// Records the decision on a trace [`Window::due`] handed out.
    pub(super) fn decided(&mut self, id: u128, sampled: bool) {
        let cache = if sampled {
            &mut self.sampled
        } else {
            &mut self.not_sampled
        };
        cache.put(id);
        if cache.enabled() {
            self.map.remove(&id);
        } else {
            self.map.insert(id, Held::Decided);
        }
    }

    /// A line arrives (after [`Window::due`] at its arrival time).
    pub(super) fn add(&mut self, t: Trace) -> Added {
        let id = u128::from_be_bytes(t.id);
        if self.sampled.get(id) {
            return Added::Late;
        }
        if self.not_sampled.get(id) {
            return Added::Late;
        }
        match self.map.get_mut(&id) {
            Some(Held::Decided) => return Added::Late,
            Some(Held::Pending(held)) => {
                merge(held, t);
                return Added::Joined;
            }
            None => {}
        }
        if self.map.len() >= self.num_traces {
            self.evict_oldest();
        }
        self.map.insert(id, Held::Pending(t));
        self.fifo.push_back(id);
        // A new trace joins the batch being built; it is decided `wait_ticks` ticks after
        // that batch closes, at the next whole second.
        let at = (self.clock_ns / SECOND_NS + 1 + self.wait_ticks).saturating_mul(SECOND_NS);
        match self.batches.back_mut() {
            Some((last, ids)) if *last == at => ids.push(id),
            _ => self.batches.push_back((at, vec![id])),
        }
        if self.fifo.len() > 2 * self.num_traces + 1024 {
            let map = &self.map;
            self.fifo.retain(|id| map.contains_key(id));
        }
        Added::Waiting
    }

    /// The oldest held trace leaves; one still waiting is lost without a decision.
    fn evict_oldest(&mut self) {
        while let Some(old) = self.fifo.pop_front() {
            if let Some(h) = self.map.remove(&old) {
                if matches!(h, Held::Pending(_)) {
                    self.evicted_undecided += 1;
                }
                return;
            }
        }
    }
}

/// Adds a fragment's spans and the resource attributes its trace did not have yet.
fn merge(held: &mut Trace, t: Trace) {
    for (k, v) in t.resource {
        if !held.resource.iter().any(|(hk, _)| *hk == k) {
            held.resource.push((k, v));
        }
    }
    held.spans.extend(t.spans);
}

/// Fuzzing the traces reader and the window behind it: lines of the sample file, mutated at
/// random, are read, grouped and decided or refused with a message, never a panic. Fixed seed
/// and budget, so every run checks the same cases.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    use super::{TraceLines, Window, arrival_ns};
    use crate::tail_sampling::config;
    use crate::tail_sampling::evaluate::decide;
    use crate::tail_sampling::limits::PolicyState;
    use crate::tail_sampling::params::{parse_version, semantics};

    const SAMPLE: &str = include_str!("../../../datasets/otel/sample-traces.jsonl");
    const CONFIG: &str = include_str!("../../../datasets/otel/article-01.yaml");
    const HOSTILE: &[&str] = &[
        "-1",
        "1e400",
        "18446744073709551616",
        "null",
        "\"\"",
        "[]",
        "{}",
        "\"zz\"",
        "true",
        "\"00000000000000000000000000000001\"",
        "\"ERROR\"",
        "\"\\ud800\"",
        "0.5",
    ];

    fn mutate(text: &str, cuts: &[(usize, usize, usize)]) -> String {
        let mut s = text.to_string();
        for &(at, len, pick) in cuts {
            let mut a = at % (s.len() + 1);
            while !s.is_char_boundary(a) {
                a -= 1;
            }
            let mut b = (a + len).min(s.len());
            while !s.is_char_boundary(b) {
                b -= 1;
            }
            match pick % 3 {
                0 => s.replace_range(a..b, ""),
                1 => s.insert_str(a, HOSTILE[pick % HOSTILE.len()]),
                _ => {
                    let line = s[..a].rfind('\n').map_or(0, |i| i + 1);
                    let end = s[a..].find('\n').map_or(s.len(), |i| a + i + 1);
                    let copy = s[line..end].to_string();
                    s.insert_str(end, &copy);
                }
            }
        }
        s
    }

    #[test]
    fn mutated_trace_files_are_decided_or_refused_never_panic() {
        let cfg = config::parse(CONFIG).expect("the sample config loads");
        let sem = semantics(parse_version("0.150.0").unwrap(), None);
        let runner_config = Config {
            cases: 512,
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let mut runner = TestRunner::new_with_rng(runner_config, rng);
        let cuts = prop::collection::vec((0usize..4096, 0usize..24, 0usize..64), 1..6);
        runner
            .run(&cuts, |cuts| {
                let text = mutate(SAMPLE, &cuts);
                let mut lines = TraceLines::new(text.as_bytes());
                let mut window = Window::new(&cfg);
                let mut st = PolicyState::new(cfg.slots);
                loop {
                    match lines.next_line() {
                        Ok(Some(trace)) => {
                            for (_, t) in window.due(arrival_ns(&trace)) {
                                let f = decide(&cfg.policies, &t, &sem, false, &mut st, None);
                                window.decided(u128::from_be_bytes(t.id), f.sampled);
                            }
                            window.add(trace);
                        }
                        Ok(None) => break,
                        Err((n, e)) => {
                            prop_assert!(n >= 1 && !e.is_empty());
                            break;
                        }
                    }
                }
                for (_, t) in window.drain() {
                    decide(&cfg.policies, &t, &sem, false, &mut st, None);
                }
                Ok(())
            })
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::{Added, TraceLines, Window, arrival_ns};
    use crate::tail_sampling::config;
    use crate::tail_sampling::evaluate::decide;
    use crate::tail_sampling::limits::PolicyState;
    use crate::tail_sampling::params::{parse_version, semantics};

    const ERRORS_ONLY: &str = "decision_wait: 10s\nnum_traces: 2\npolicies:\n  - name: errors\n    type: status_code\n    status_code: {status_codes: [ERROR]}\n";

    fn line(id: u8, end_s: u64, status: &str) -> String {
        format!(
            "{{\"trace_id_hex\": \"{id:032x}\", \"spans\": [{{\"start_ns\": 0, \"end_ns\": {}, \"status\": \"{status}\"}}]}}\n",
            end_s * 1_000_000_000
        )
    }

    /// Runs the window over `text` as `decide` does: (trace id's last byte, sampled, spans) in
    /// decision order, the lines that came late, and the traces evicted undecided.
    fn run(yaml: &str, text: &str) -> (Vec<(u8, bool, usize)>, u64, u64) {
        let cfg = config::parse(yaml).unwrap();
        let sem = semantics(parse_version("0.150.0").unwrap(), None);
        let mut window = Window::new(&cfg);
        let mut lines = TraceLines::new(text.as_bytes());
        let mut out = Vec::new();
        let mut late = 0;
        let mut st = PolicyState::new(cfg.slots);
        let mut decide_all = |ts: Vec<(u64, _)>, window: &mut Window| {
            for (_, t) in ts {
                let t: crate::tail_sampling::trace::Trace = t;
                let f = decide(&cfg.policies, &t, &sem, false, &mut st, None);
                window.decided(u128::from_be_bytes(t.id), f.sampled);
                out.push((t.id[15], f.sampled, t.spans.len()));
            }
        };
        while let Some(t) = lines.next_line().unwrap() {
            let due = window.due(arrival_ns(&t));
            decide_all(due, &mut window);
            if let Added::Late = window.add(t) {
                late += 1;
            }
        }
        let rest = window.drain();
        decide_all(rest, &mut window);
        (out, late, window.evicted_undecided)
    }

    #[test]
    fn lines_of_one_trace_inside_its_wait_are_decided_together() {
        // The ERROR arrives 5 s after the trace's first line: inside the 10 s wait, so the
        // trace is sampled whole.
        let text = line(1, 1, "UNSET") + &line(1, 6, "ERROR");
        assert_eq!(run(ERRORS_ONLY, &text).0, vec![(1, true, 2)]);
    }

    #[test]
    fn a_line_after_the_decision_follows_it_without_a_new_one() {
        // First seen at 1 s: decided at the tick of 12 s (batch closes at 2 s, then 10 ticks).
        // The ERROR at 11.9 s still joins; one at 12 s is late and follows "not sampled".
        let joins = line(1, 1, "UNSET") + "# a comment\n\n" + &line(1, 11, "ERROR");
        assert_eq!(run(ERRORS_ONLY, &joins).0, vec![(1, true, 2)]);
        let late = line(1, 1, "UNSET") + &line(2, 12, "UNSET") + &line(1, 13, "ERROR");
        let (out, late_lines, _) = run(ERRORS_ONLY, &late);
        assert_eq!(out, vec![(1, false, 1), (2, false, 1)]);
        assert_eq!(late_lines, 1);
    }

    #[test]
    fn more_waiting_traces_than_num_traces_loses_the_oldest_undecided() {
        let text = line(1, 0, "ERROR") + &line(2, 0, "ERROR") + &line(3, 0, "ERROR");
        let (out, _, evicted) = run(ERRORS_ONLY, &text);
        assert_eq!(out, vec![(2, true, 1), (3, true, 1)]);
        assert_eq!(evicted, 1);
    }
}
