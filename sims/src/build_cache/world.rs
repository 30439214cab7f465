//! What every configuration of one replication shares (common random numbers): the graph, which
//! libraries each module uses, and the stream of commits and developer builds over the days.

use rand_distr::{Distribution, Poisson};

use super::graph::{self, Graph};
use super::params::BuildCacheParams;
use crate::des::{RngStreams, Stream, uniform};

/// Libraries in the version catalog (one bit each in a module's usage mask).
pub(crate) const LIBRARIES: usize = 64;

/// The kind of a commit, for per-class build times.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Source edits, no ABI change.
    ImplEdit = 0,
    /// Source edits, at least one changing a module's ABI.
    AbiEdit = 1,
    /// A version-catalog bump (a library or the toolchain).
    DepBump = 2,
    /// Convention plugins, root build files.
    BuildLogic = 3,
    /// Nothing the build reads (docs, CI config).
    Docs = 4,
}

/// Class names, in `Class` order (metric suffixes).
pub(crate) const CLASS_NAMES: [&str; 5] =
    ["impl_edit", "abi_edit", "dep_bump", "build_logic", "docs"];

/// What a commit changes.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// Nothing the build reads.
    None,
    /// Modules edited, each with whether its ABI changed.
    Edit(Vec<(usize, bool)>),
    /// Kotlin, AGP or Gradle: every task's implementation.
    Toolchain,
    /// One library's version.
    Library(usize),
    /// Build logic applied by these modules.
    Logic(Vec<usize>),
}

/// Something that happens in the day.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A commit to main, built by CI.
    Commit {
        /// Its class.
        class: Class,
        /// What it changes.
        change: Change,
    },
    /// A developer pulls main and builds.
    DevBuild {
        /// Which developer.
        dev: usize,
        /// An uncommitted edit of one module (and whether it changes the ABI).
        edit: Option<(usize, bool)>,
        /// Run through the IDE (its flags drift, when that killer is present).
        ide: bool,
    },
}

/// The replication's shared world.
#[derive(Clone, Debug)]
pub(crate) struct World {
    /// Modules and tasks.
    pub(crate) graph: Graph,
    /// Per module: the libraries it uses (bit mask).
    pub(crate) libs: Vec<u64>,
    /// Per day: its events in order.
    pub(crate) days: Vec<Vec<Event>>,
    /// Per task: the tasks that wait for it.
    pub(crate) users: Vec<Vec<usize>>,
}

fn pick_count(p: &BuildCacheParams, rng: &mut Stream, n: usize) -> usize {
    let u = uniform(rng);
    let s = p.modules_touched;
    let k = if u < s[0] {
        1
    } else if u < s[0] + s[1] {
        2
    } else if u < s[0] + s[1] + s[2] {
        3 + (uniform(rng) * 3.0) as usize
    } else {
        6 + (uniform(rng) * 7.0) as usize
    };
    k.min(n)
}

fn distinct(rng: &mut Stream, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..k.min(n) {
        let j = i + (uniform(rng) * (n - i) as f64) as usize;
        all.swap(i, j.min(n - 1));
    }
    all.truncate(k.min(n));
    all
}

fn poisson(rng: &mut Stream, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean)
        .map(|d| d.sample(rng) as usize)
        .unwrap_or(0)
}

impl World {
    /// Draws the world from the replication's streams.
    pub(crate) fn new(
        p: &BuildCacheParams,
        edges: Option<(Vec<String>, Vec<Vec<usize>>)>,
        streams: &RngStreams,
    ) -> World {
        let mut g_rng = streams.stream("graph");
        let graph = graph::build(p, edges, &mut g_rng);
        let n = graph.names.len();
        let mut l_rng = streams.stream("libraries");
        let usage: Vec<f64> = (0..LIBRARIES)
            .map(|_| (2.0 * p.library_usage_mean * uniform(&mut l_rng)).min(1.0))
            .collect();
        let libs = (0..n)
            .map(|_| {
                (0..LIBRARIES).fold(0u64, |mask, l| {
                    if uniform(&mut l_rng) < usage[l] {
                        mask | (1 << l)
                    } else {
                        mask
                    }
                })
            })
            .collect();
        let mut users = vec![Vec::new(); graph.tasks.len()];
        for (t, task) in graph.tasks.iter().enumerate() {
            for &a in &task.after {
                users[a].push(t);
            }
        }
        let mut rng = streams.stream("events");
        let mut days = Vec::with_capacity(p.days as usize);
        for _ in 0..p.days {
            let mut timed: Vec<(f64, Event)> = Vec::new();
            for _ in 0..poisson(&mut rng, p.commits_per_day) {
                let u = uniform(&mut rng);
                let (class, change) = if u < p.mix_source {
                    let k = pick_count(p, &mut rng, n);
                    let edits: Vec<(usize, bool)> = distinct(&mut rng, n, k)
                        .into_iter()
                        .map(|m| (m, uniform(&mut rng) < p.abi_edit_prob))
                        .collect();
                    let class = if edits.iter().any(|e| e.1) {
                        Class::AbiEdit
                    } else {
                        Class::ImplEdit
                    };
                    (class, Change::Edit(edits))
                } else if u < p.mix_source + p.mix_dep_bump {
                    if uniform(&mut rng) < p.toolchain_bump_fraction {
                        (Class::DepBump, Change::Toolchain)
                    } else {
                        let l = (uniform(&mut rng) * LIBRARIES as f64) as usize;
                        (Class::DepBump, Change::Library(l.min(LIBRARIES - 1)))
                    }
                } else if u < p.mix_source + p.mix_dep_bump + p.mix_build_logic {
                    // A convention plugin: the modules that apply it.
                    let ms = (0..n)
                        .filter(|_| uniform(&mut rng) < p.build_logic_scope)
                        .collect();
                    (Class::BuildLogic, Change::Logic(ms))
                } else {
                    (Class::Docs, Change::None)
                };
                timed.push((uniform(&mut rng), Event::Commit { class, change }));
            }
            for dev in 0..p.developers as usize {
                for _ in 0..poisson(&mut rng, p.dev_builds_per_day) {
                    let edit = (uniform(&mut rng) < p.dev_edit_prob).then(|| {
                        let m = ((uniform(&mut rng) * n as f64) as usize).min(n - 1);
                        (m, uniform(&mut rng) < p.abi_edit_prob)
                    });
                    let ide = uniform(&mut rng) < p.ide_build_fraction;
                    timed.push((uniform(&mut rng), Event::DevBuild { dev, edit, ide }));
                }
            }
            timed.sort_by(|a, b| a.0.total_cmp(&b.0));
            days.push(timed.into_iter().map(|(_, e)| e).collect());
        }
        World {
            graph,
            libs,
            days,
            users,
        }
    }
}
