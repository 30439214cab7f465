//! One run of the commit stream under one configuration: cache keys from declared inputs, the
//! up-to-date check, local then remote lookups, execution with (non)deterministic outputs,
//! pushes, and each build's wall time on `workers` slots.
//!
//! Per commit: the incremental CI build (a persistent agent's workspace at the previous commit,
//! its own local cache; reads the remote, does not push, so that it does not feed the clean
//! build of the same commit), then the clean CI build (fresh workspace and local cache; reads
//! and pushes). Developer builds pull main, keep their workspace and local cache, and push only
//! with `dev_push`.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use rand::Rng;

use super::graph::{Kind, Target};
use super::params::{BuildCacheParams, Sensitivity};
use super::sources::source_fingerprint;
use super::world::{Change, Event, LIBRARIES, World};
use crate::des::{Stream, uniform};
use crate::fingerprint::{ContentHasher, Mix128, PathMode};

/// A task's output: the digest of all its bytes, and of what a compile classpath sees (ABI).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Out {
    full: u128,
    abi: u128,
}

/// Counts of cacheable tasks loaded from a cache and executed (up-to-date ones are neither).
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct Counts {
    pub(super) hits: u64,
    pub(super) misses: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.hits += o.hits;
        self.misses += o.misses;
    }
}

/// What one configuration's run produced.
#[derive(Clone, Debug, Default)]
pub(super) struct Totals {
    pub(super) ci: Counts,
    pub(super) ci_incremental: Counts,
    pub(super) local: Counts,
    pub(super) clean_s: Vec<f64>,
    pub(super) incremental_s: Vec<f64>,
    pub(super) local_s: Vec<f64>,
    /// Per commit class: clean and incremental build times.
    pub(super) by_class: [(Vec<f64>, Vec<f64>); 5],
    /// Bytes pushed to the remote, MB, at the end of each day.
    pub(super) storage_mb_by_day: Vec<f64>,
    pub(super) cold_s: f64,
    pub(super) survives_move: f64,
}

/// The content the build reads at one moment: main's versions, plus a developer's edit.
#[derive(Clone, Debug)]
struct State {
    src: Vec<u64>,
    abi: Vec<u64>,
    logic: Vec<u64>,
    libs: [u64; LIBRARIES],
    toolchain: u64,
}

/// A machine's workspace, local cache, checkout root and flags.
struct Env {
    root: String,
    root_id: u32,
    workspace: Vec<Option<(u128, Out)>>,
    local: HashMap<u128, Out>,
}

impl Env {
    fn new(root: String, root_id: u32, tasks: usize) -> Env {
        Env {
            root,
            root_id,
            workspace: vec![None; tasks],
            local: HashMap::new(),
        }
    }
}

/// How a build runs.
#[derive(Copy, Clone)]
struct Mode {
    clean: bool,
    push: bool,
    ide_flags: bool,
    /// Compute keys only: execute everything deterministically, touch no cache.
    dry: bool,
}

struct Sim<'a> {
    p: &'a BuildCacheParams,
    w: &'a World,
    ide_drift: bool,
    timestamp: bool,
    nondeterminism: bool,
    absolute: bool,
    remote: HashMap<u128, Out>,
    stored_mb: f64,
    fp_memo: HashMap<(usize, u64, u64, u32, bool), u128>,
    rng: Stream,
    build_no: u64,
    /// A reused buffer for key parts.
    parts: Vec<u128>,
}

fn h(parts: &[u128]) -> u128 {
    let mut x = Mix128::new();
    for p in parts {
        x.update(&p.to_le_bytes());
    }
    x.finish_u128()
}

impl Sim<'_> {
    fn src_fp(&mut self, env: &Env, s: &State, m: usize, absolute: bool) -> u128 {
        let root_id = if absolute { env.root_id } else { u32::MAX };
        let memo = (m, s.src[m], s.abi[m], root_id, absolute);
        if let Some(&fp) = self.fp_memo.get(&memo) {
            return fp;
        }
        let mode = if absolute {
            PathMode::Absolute
        } else {
            PathMode::Relative
        };
        let bytes = source_fingerprint::<Mix128>(
            &env.root,
            &self.w.graph.names[m],
            s.src[m],
            s.abi[m],
            mode,
        );
        let fp = u128::from_be_bytes(bytes.try_into().expect("16 bytes"));
        self.fp_memo.insert(memo, fp);
        fp
    }

    /// The task's cache key and the digest of its inputs' contents (the key without the
    /// checkout's location), from the outputs of the tasks before it in this build.
    fn key(
        &mut self,
        t: usize,
        env: &Env,
        s: &State,
        outs: &[Out],
        lib_fps: &[u128],
        mode: Mode,
    ) -> (u128, u128) {
        let g = &self.w.graph;
        let task = &g.tasks[t];
        let m = task.module;
        let absolute = self.absolute
            && task.undeclared
            && self.p.undeclared_path_sensitivity == Sensitivity::Absolute;
        let tag = match task.kind {
            Kind::Gen => 1,
            Kind::Compile(tg) => 10 + tg as u128,
            Kind::Test(tg) => 20 + tg as u128,
            Kind::Link => 30,
            Kind::Package => 31,
        };
        let mut parts = std::mem::take(&mut self.parts);
        parts.clear();
        parts.extend([
            tag,
            m as u128,
            u128::from(s.toolchain),
            u128::from(s.logic[m]),
        ]);
        let lib_fp = lib_fps[m];
        let args = u128::from(mode.ide_flags);
        let tgt = |tg: Target| Target::ALL.iter().position(|&x| x == tg).unwrap_or(0);
        match task.kind {
            Kind::Gen => {
                parts.push(self.src_fp(env, s, m, false));
                if self.timestamp && m == g.buildconfig {
                    parts.push(0x7157 ^ u128::from(self.build_no) << 16);
                }
            }
            Kind::Compile(tg) => {
                parts.extend([args, lib_fp, self.src_fp(env, s, m, false)]);
                if let Some(gt) = g.gen_task[m] {
                    parts.push(outs[gt].full);
                }
                let i = tgt(tg);
                for &d in &g.trans[m] {
                    let o = outs[g.compile_task[d][i]];
                    parts.push(if tg == Target::Ios { o.full } else { o.abi });
                }
            }
            Kind::Test(tg) => {
                parts.extend([lib_fp, self.src_fp(env, s, m, false)]);
                let i = tgt(tg);
                parts.push(outs[g.compile_task[m][i]].full);
                for &d in &g.trans[m] {
                    parts.push(outs[g.compile_task[d][i]].full);
                }
            }
            Kind::Link | Kind::Package => {
                parts.extend(task.after.iter().map(|&a| outs[a].full));
            }
        }
        let content = h(&parts);
        self.parts = parts;
        if !absolute {
            return (content, content);
        }
        // Undeclared sensitivity falls back to ABSOLUTE: the sources' absolute paths, or (a
        // task without sources) the absolute paths of its other files, enter the key.
        let located = match task.kind {
            Kind::Gen | Kind::Compile(_) | Kind::Test(_) => self.src_fp(env, s, m, true),
            Kind::Link | Kind::Package => Mix128::digest(env.root.as_bytes())
                .iter()
                .fold(0u128, |a, &b| (a << 8) | u128::from(b)),
        };
        (h(&[content, located]), content)
    }

    fn output(&mut self, t: usize, s: &State, content: u128, outs: &[Out], mode: Mode) -> Out {
        let g = &self.w.graph;
        let task = &g.tasks[t];
        let m = task.module;
        let full = h(&[content, 0xF011]);
        match task.kind {
            Kind::Gen => {
                let ts = self.timestamp && m == g.buildconfig;
                let abi = if ts { full } else { h(&[content, 0xAB1]) };
                let nd = !mode.dry
                    && self.nondeterminism
                    && g.codegen[m]
                    && uniform(&mut self.rng) < self.p.nondeterminism_prob;
                let full = if nd {
                    (u128::from(self.rng.next_u64()) << 64) | u128::from(self.rng.next_u64())
                } else {
                    full
                };
                Out { full, abi }
            }
            Kind::Compile(tg) => {
                let gen_abi = g.gen_task[m].map_or(0, |gt| outs[gt].abi);
                let abi = h(&[
                    0xAB1,
                    m as u128,
                    tg as u128,
                    u128::from(s.abi[m]),
                    u128::from(s.toolchain),
                    u128::from(mode.ide_flags),
                    gen_abi,
                ]);
                Out { full, abi }
            }
            _ => Out { full, abi: full },
        }
    }

    /// Runs one build; returns its wall time (s) and its hit counts.
    fn build(&mut self, env: &mut Env, s: &State, mode: Mode) -> (f64, Counts) {
        self.build_no += 1;
        let n = self.w.graph.tasks.len();
        if mode.clean {
            env.workspace.iter_mut().for_each(|x| *x = None);
            env.local.clear();
        }
        let mut outs = vec![Out { full: 0, abi: 0 }; n];
        let mut cost = vec![0.0; n];
        let mut counts = Counts::default();
        let p = self.p;
        let snapshot_s = p.input_mb_per_task / p.hash_mb_per_s;
        // The libraries each module uses, at this state's versions.
        let lib_fps: Vec<u128> = self
            .w
            .libs
            .iter()
            .map(|&mask| {
                let mut x = Mix128::new();
                for (l, v) in s.libs.iter().enumerate() {
                    if mask & (1 << l) != 0 {
                        x.update(&v.to_le_bytes());
                    }
                }
                x.finish_u128()
            })
            .collect();
        let lookup_s = (p.remote_rtt_ms + p.http_overhead_ms) / 1000.0;
        for t in 0..n {
            let (key, content) = self.key(t, env, s, &outs, &lib_fps, mode);
            let task = &self.w.graph.tasks[t];
            let (size, duration) = (task.size_mb, task.duration_s);
            if mode.dry {
                outs[t] = self.output(t, s, content, &outs, mode);
                env.workspace[t] = Some((key, outs[t]));
                continue;
            }
            let unpack = size / p.unpack_mb_per_s;
            let (out, c) = if let Some((_, o)) = env.workspace[t].filter(|w| w.0 == key) {
                (o, snapshot_s)
            } else if let Some(&o) = env.local.get(&key) {
                counts.hits += 1;
                (o, snapshot_s + unpack)
            } else if let Some(&o) = p.remote_cache.then(|| self.remote.get(&key)).flatten() {
                counts.hits += 1;
                env.local.insert(key, o);
                let download = lookup_s + size / p.remote_bandwidth_mb_per_s;
                (o, snapshot_s + download + unpack)
            } else {
                counts.misses += 1;
                let o = self.output(t, s, content, &outs, mode);
                env.local.insert(key, o);
                if p.remote_cache && mode.push && self.remote.insert(key, o).is_none() {
                    self.stored_mb += size;
                }
                let miss = if p.remote_cache { lookup_s } else { 0.0 };
                (o, snapshot_s + miss + duration)
            };
            outs[t] = out;
            cost[t] = c;
            env.workspace[t] = Some((key, out));
        }
        (p.overhead_s + self.makespan(&cost), counts)
    }

    /// List scheduling on `workers` slots: a task starts when the tasks it needs are done and
    /// a slot is free, lowest index first (Gradle's order of the task graph).
    fn makespan(&self, cost: &[f64]) -> f64 {
        let tasks = &self.w.graph.tasks;
        let mut waiting: Vec<usize> = tasks.iter().map(|t| t.after.len()).collect();
        let mut ready: BinaryHeap<std::cmp::Reverse<usize>> = (0..tasks.len())
            .filter(|&t| waiting[t] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut running: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = BinaryHeap::new();
        let (mut now, mut free) = (0.0f64, self.p.workers as usize);
        loop {
            while free > 0 {
                let Some(std::cmp::Reverse(t)) = ready.pop() else {
                    break;
                };
                free -= 1;
                running.push(std::cmp::Reverse(((now + cost[t]).to_bits(), t)));
            }
            let Some(std::cmp::Reverse((end, t))) = running.pop() else {
                break;
            };
            now = f64::from_bits(end);
            free += 1;
            for &u in &self.w.users[t] {
                waiting[u] -= 1;
                if waiting[u] == 0 {
                    ready.push(std::cmp::Reverse(u));
                }
            }
        }
        now
    }
}

fn apply(state: &mut State, change: &Change, next: &mut u64) {
    *next += 1;
    match change {
        Change::None => {}
        Change::Edit(edits) => {
            for &(m, abi) in edits {
                *next += 1;
                state.src[m] = *next;
                if abi {
                    state.abi[m] = *next;
                }
            }
        }
        Change::Toolchain => state.toolchain = *next,
        Change::Library(l) => state.libs[*l] = *next,
        Change::Logic(ms) => {
            for &m in ms {
                state.logic[m] = *next;
            }
        }
    }
}

/// Runs the world's commit stream under `p`'s configuration.
pub(super) fn run(p: &BuildCacheParams, w: &World, rng: Stream) -> Totals {
    let n_mod = w.graph.names.len();
    let n = w.graph.tasks.len();
    let mut sim = Sim {
        p,
        w,
        ide_drift: p.killer_active(0),
        timestamp: p.killer_active(1),
        nondeterminism: p.killer_active(2),
        absolute: p.killer_active(3),
        remote: HashMap::new(),
        stored_mb: 0.0,
        fp_memo: HashMap::new(),
        rng,
        build_no: 0,
        parts: Vec::new(),
    };
    let mut main = State {
        src: vec![1; n_mod],
        abi: vec![1; n_mod],
        logic: vec![1; n_mod],
        libs: [1; LIBRARIES],
        toolchain: 1,
    };
    let ci_root = "/home/runner/work/app/app".to_string();
    let mut ci_clean = Env::new(ci_root.clone(), 0, n);
    let mut ci_inc = Env::new(ci_root.clone(), 0, n);
    let mut totals = Totals::default();
    let mut devs: Vec<Env> = (0..p.developers as usize)
        .map(|i| Env::new(format!("/Users/dev{i}/src/app"), 1 + i as u32, n))
        .collect();

    // Relocatability: the keys of main at CI's checkout and at a developer's, same flags.
    let a = keys_at(p, w, &ci_root);
    let b = keys_at(p, w, "/Users/alice/dev/app");
    let same = a.iter().filter(|(t, k)| b.get(t) == Some(k)).count();
    totals.survives_move = same as f64 / n as f64;
    // The first build: empty caches, every lookup misses, every task executes.
    let lookup_s = if p.remote_cache {
        (p.remote_rtt_ms + p.http_overhead_ms) / 1000.0
    } else {
        0.0
    };
    let snapshot_s = p.input_mb_per_task / p.hash_mb_per_s;
    let cold: Vec<f64> = w
        .graph
        .tasks
        .iter()
        .map(|t| t.duration_s + lookup_s + snapshot_s)
        .collect();
    totals.cold_s = p.overhead_s + sim.makespan(&cold);

    let mut next = 1u64;
    let warmup = usize::from(p.days > 1);
    for (day, events) in w.days.iter().enumerate() {
        let record = day >= warmup;
        for e in events {
            match e {
                Event::Commit { class, change } => {
                    apply(&mut main, change, &mut next);
                    let ci = |push| Mode {
                        clean: push,
                        push,
                        ide_flags: false,
                        dry: false,
                    };
                    let (inc_s, inc) = sim.build(&mut ci_inc, &main, ci(false));
                    let (clean_s, clean) = sim.build(&mut ci_clean, &main, ci(true));
                    if record {
                        totals.ci.add(clean);
                        totals.ci_incremental.add(inc);
                        totals.clean_s.push(clean_s);
                        totals.incremental_s.push(inc_s);
                        let c = &mut totals.by_class[*class as usize];
                        c.0.push(clean_s);
                        c.1.push(inc_s);
                    }
                }
                Event::DevBuild { dev, edit, ide } => {
                    let mut view = main.clone();
                    if let Some((m, abi)) = *edit {
                        next += 1;
                        view.src[m] = next;
                        if abi {
                            view.abi[m] = next;
                        }
                    }
                    let mode = Mode {
                        clean: false,
                        push: p.dev_push,
                        ide_flags: sim.ide_drift && *ide,
                        dry: false,
                    };
                    let (s, c) = sim.build(&mut devs[*dev], &view, mode);
                    if record {
                        totals.local.add(c);
                        totals.local_s.push(s);
                    }
                }
            }
        }
        totals.storage_mb_by_day.push(sim.stored_mb);
    }
    totals
}

/// The mean of `xs` (0 when empty).
pub(super) fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Keys of every task at `root` with the build's own flags (tests and the kernel's check).
pub(super) fn keys_at(p: &BuildCacheParams, w: &World, root: &str) -> BTreeMap<usize, u128> {
    let n = w.graph.tasks.len();
    let mut sim = Sim {
        p,
        w,
        ide_drift: false,
        timestamp: false,
        nondeterminism: false,
        absolute: p.killer_active(3),
        remote: HashMap::new(),
        stored_mb: 0.0,
        fp_memo: HashMap::new(),
        rng: crate::des::RngStreams::new(0, 0, 0).stream("unused"),
        build_no: 0,
        parts: Vec::new(),
    };
    let main = State {
        src: vec![1; w.graph.names.len()],
        abi: vec![1; w.graph.names.len()],
        logic: vec![1; w.graph.names.len()],
        libs: [1; LIBRARIES],
        toolchain: 1,
    };
    let mut env = Env::new(root.to_string(), 7, n);
    let dry = Mode {
        clean: true,
        push: false,
        ide_flags: false,
        dry: true,
    };
    sim.build(&mut env, &main, dry);
    (0..n)
        .filter_map(|t| env.workspace[t].map(|x| (t, x.0)))
        .collect()
}
