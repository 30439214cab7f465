//! The simulation: a stream of commits per image, each built the way BuildKit's solver does it,
//! against the builder's own store and the remote cache left by earlier builds. No I/O.
//!
//! A build computes every step's key, then asks for the final image's steps. A step whose key
//! is in the builder's store or the remote cache is a hit and costs nothing until something
//! needs its files: then its layer (and its parents') is downloaded and unpacked. A miss needs
//! its parent's files (and a `COPY --from` source's), then runs. After the build the image is
//! pushed (only its new layers) and `--cache-to` exports its records.

use std::collections::{BTreeMap, BTreeSet};

use super::dockerfile::{self, Dockerfile, Edit, Group, Inputs, Layer, Op, Phase};
use super::gha::ActionsCache;
use super::params::{Backend, Builder, LayerCacheParams, Mode};

/// What a commit changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    Source,
    Deps,
    Base,
    Dockerfile,
    Docs,
}

/// Every class, in the order the metrics name them.
pub(super) const CLASSES: [Class; 5] = [
    Class::Source,
    Class::Deps,
    Class::Base,
    Class::Dockerfile,
    Class::Docs,
];

impl Class {
    pub(super) fn name(self) -> &'static str {
        match self {
            Class::Source => "source",
            Class::Deps => "deps",
            Class::Base => "base",
            Class::Dockerfile => "dockerfile",
            Class::Docs => "docs",
        }
    }

    /// The edit a commit of this class makes (`step`: which instruction a Dockerfile edit
    /// changes).
    pub(super) fn edit(self, step: usize) -> Edit {
        match self {
            Class::Source => Edit::Group(Group::Source),
            Class::Deps => Edit::Group(Group::Manifest),
            Class::Base => Edit::Base,
            Class::Dockerfile => Edit::Instruction(step),
            Class::Docs => Edit::Group(Group::Docs),
        }
    }
}

/// One build's cost and what it did.
#[derive(Clone, Debug, Default)]
pub(super) struct Cost {
    /// Seconds per phase: pull, deps, compile, assembly.
    pub(super) phase: [f64; 4],
    pub(super) import_s: f64,
    pub(super) export_s: f64,
    pub(super) lookups: u64,
    pub(super) hits: u64,
    pub(super) evicted_misses: u64,
    /// A step of a stage other than the final image's ran.
    pub(super) intermediate_ran: bool,
    /// The dependency install ran.
    pub(super) deps_ran: bool,
}

impl Cost {
    pub(super) fn total(&self) -> f64 {
        self.phase.iter().sum()
    }
}

fn phase_index(p: Phase) -> usize {
    match p {
        Phase::Pull => 0,
        Phase::Deps => 1,
        Phase::Compile => 2,
        Phase::Assembly => 3,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Unvisited,
    Local,
    Remote,
    Ran,
}

/// The repository's cache state across builds.
pub(super) struct World<'a> {
    p: &'a LayerCacheParams,
    pub(super) df: Dockerfile,
    /// Each image's inputs on the default branch.
    pub(super) main: Vec<Inputs>,
    version: u64,
    /// The persistent builder's store (layer keys) and whether its base image and npm cache
    /// mount are warm.
    store: BTreeSet<u64>,
    base_local: bool,
    mount_warm: bool,
    /// The records each (image, scope) ref's last export holds.
    index: BTreeMap<(u32, u64), BTreeSet<u64>>,
    /// Layers uploaded to a registry (never collected), MB compressed.
    registry_mb: f64,
    uploaded: BTreeSet<u64>,
    pub(super) gha: ActionsCache,
}

/// What a build plan would change, applied by [`World::commit`].
struct Effects {
    image: u32,
    scope: u64,
    records: Option<BTreeSet<u64>>,
    uploads: Vec<(u64, f64)>,
    touched: Vec<u64>,
    stored: Vec<u64>,
    pulled: bool,
    mount_used: bool,
}

struct Solve<'w, 'a> {
    w: &'w World<'a>,
    keys: Vec<u64>,
    image: u32,
    scope: u64,
    status: Vec<Status>,
    materialized: Vec<bool>,
    pulled: bool,
    cost: Cost,
    touched: Vec<u64>,
}

impl<'a> Solve<'_, 'a> {
    fn p(&self) -> &'a LayerCacheParams {
        self.w.p
    }

    /// The identity of step `i`'s layer blob: its key, except for a `COPY --from`, whose bytes
    /// are those of its source step (an unchanged source gives the same blob under a new key).
    fn blob(&self, i: usize) -> u64 {
        match self.w.df.steps[i].op {
            Op::CopyFrom { source } => {
                self.keys[source] ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            }
            _ => self.keys[i],
        }
    }

    fn remote_index(&self) -> Option<&BTreeSet<u64>> {
        let w = self.w;
        match w.p.backend {
            Backend::None => None,
            Backend::Local if w.p.builder == Builder::Ephemeral => None,
            Backend::Gha => w
                .index
                .get(&(self.image, self.scope))
                .or_else(|| w.index.get(&(self.image, 0))),
            Backend::Local | Backend::Registry => w.index.get(&(self.image, 0)),
        }
    }

    /// Looks step `i` up (once) and, on a miss, runs it.
    fn need(&mut self, i: usize) {
        if self.status[i] != Status::Unvisited {
            return;
        }
        let step = &self.w.df.steps[i];
        if step.op == Op::From {
            self.status[i] = Status::Local;
            return;
        }
        let key = self.keys[i];
        self.cost.lookups += 1;
        let persistent = self.p().builder == Builder::Persistent;
        if persistent && self.w.store.contains(&key) {
            self.status[i] = Status::Local;
            self.cost.hits += 1;
            return;
        }
        let listed = self.remote_index().is_some_and(|ix| ix.contains(&key));
        let present = match self.p().backend {
            Backend::Gha => self.w.gha.visible(self.scope, self.blob(i)).is_some(),
            _ => true,
        };
        if listed && present {
            self.status[i] = Status::Remote;
            self.cost.hits += 1;
            self.touched.push(self.blob(i));
            return;
        }
        if listed {
            self.cost.evicted_misses += 1;
        }
        self.run(i);
    }

    fn run(&mut self, i: usize) {
        let step = self.w.df.steps[i].clone();
        if let Some(parent) = step.parent {
            self.materialize(parent);
        }
        if let Op::CopyFrom { source } = step.op {
            self.materialize(source);
        }
        self.status[i] = Status::Ran;
        self.materialized[i] = true;
        if !self.w.df.image.contains(&i) {
            self.cost.intermediate_ran = true;
        }
        if let Op::Run { cache_mount } = step.op {
            let p = self.w.p;
            let s = match step.layer {
                Layer::Deps => {
                    self.cost.deps_ran = true;
                    let warm = cache_mount
                        && p.cache_mounts
                        && p.builder == Builder::Persistent
                        && self.w.mount_warm;
                    p.deps_install_s * if warm { p.deps_warm_fraction } else { 1.0 }
                }
                _ => p.compile_s,
            };
            self.cost.phase[phase_index(step.phase)] += s;
        }
    }

    /// Makes step `i`'s files present on the builder: its layer and its parents'.
    fn materialize(&mut self, i: usize) {
        self.need(i);
        if self.materialized[i] {
            return;
        }
        self.materialized[i] = true;
        let step = self.w.df.steps[i].clone();
        match self.status[i] {
            Status::Local if step.op == Op::From => {
                let local = self.p().builder == Builder::Persistent && self.w.base_local;
                if !local && !self.pulled {
                    self.pulled = true;
                    self.cost.phase[phase_index(Phase::Pull)] += self.p().base_pull_s;
                }
            }
            Status::Remote => {
                let mb = self.w.layer_mb(step.layer);
                let (_, unpack, ratio) = self.p().codec();
                let p = self.p();
                let s = mb / ratio / p.cache_download_mb_per_s + mb / unpack + mb / p.tar_mb_per_s;
                self.cost.import_s += s;
                self.cost.phase[phase_index(step.phase)] += s;
                if let Some(parent) = step.parent {
                    self.materialize(parent);
                }
            }
            _ => {}
        }
    }
}

impl<'a> World<'a> {
    pub(super) fn new(p: &'a LayerCacheParams) -> World<'a> {
        let df = Dockerfile::of(p.shape);
        let mut ignored = Vec::new();
        if p.dockerignore_docs {
            ignored.push(Group::Docs);
        }
        if p.dockerignore_dockerfile {
            ignored.push(Group::Dockerfile);
        }
        let inputs = Inputs::new(&df, ignored);
        World {
            p,
            main: vec![inputs; p.images as usize],
            df,
            version: 0,
            store: BTreeSet::new(),
            base_local: false,
            mount_warm: false,
            index: BTreeMap::new(),
            registry_mb: 0.0,
            uploaded: BTreeSet::new(),
            gha: ActionsCache::default(),
        }
    }

    pub(super) fn layer_mb(&self, l: Layer) -> f64 {
        match l {
            Layer::Tiny => 0.0,
            Layer::Deps => self.p.deps_mb,
            Layer::Context => self.p.context_mb,
            Layer::BuildOutput => self.p.build_output_mb,
            Layer::Dist => self.p.dist_mb,
        }
    }

    /// `inputs` after a commit of `class` (a fresh version number).
    pub(super) fn after(&mut self, inputs: &Inputs, class: Class, step: usize) -> Inputs {
        self.version += 1;
        let mut next = inputs.clone();
        next.apply(class.edit(step), self.version);
        next
    }

    /// Plans a build of `image` from `inputs` on branch `scope` at hour `h`: its cost, and the
    /// effects [`World::commit`] applies when the build really happens.
    fn plan(&self, image: u32, inputs: &Inputs, scope: u64) -> (Cost, Effects) {
        let p = self.p;
        let df = &self.df;
        let n = df.steps.len();
        let mut s = Solve {
            w: self,
            keys: dockerfile::keys(df, inputs, u64::from(image) + 1),
            image,
            scope,
            status: vec![Status::Unvisited; n],
            materialized: vec![false; n],
            pulled: false,
            cost: Cost::default(),
            touched: Vec::new(),
        };
        if matches!(p.backend, Backend::Registry | Backend::Gha) {
            s.cost.import_s += p.cache_manifest_s;
            s.cost.phase[phase_index(Phase::Pull)] += p.cache_manifest_s;
        }
        // The context is sent to the builder and checksummed on every build: that is how a
        // COPY's key is known before anything is looked up.
        for st in &df.steps {
            if let Op::CopyContext { all, .. } = st.op {
                let mb = if all { p.context_mb } else { 0.0 };
                s.cost.phase[phase_index(st.phase)] +=
                    mb / p.checksum_mb_per_s + mb / p.tar_mb_per_s;
            }
        }
        for &i in &df.image {
            s.need(i);
        }
        // The image: new layers are compressed and pushed; the rest is fixed work.
        let (all_mb, new_mb) = df.image.iter().fold((0.0, 0.0), |(a, b), &i| {
            let mb = self.layer_mb(df.steps[i].layer);
            (
                a + mb,
                b + if s.status[i] == Status::Ran { mb } else { 0.0 },
            )
        });
        let share = if all_mb > 0.0 { new_mb / all_mb } else { 0.0 };
        s.cost.phase[phase_index(Phase::Assembly)] +=
            p.assembly_s * (p.assembly_fixed_fraction + (1.0 - p.assembly_fixed_fraction) * share);

        // --cache-to: the records of this build (min: the image's steps only).
        let mut effects = Effects {
            image,
            scope,
            records: None,
            uploads: Vec::new(),
            touched: std::mem::take(&mut s.touched),
            stored: Vec::new(),
            pulled: s.pulled,
            mount_used: false,
        };
        for i in 0..n {
            let local = match s.status[i] {
                Status::Ran | Status::Local => true,
                Status::Remote => s.materialized[i],
                Status::Unvisited => false,
            };
            if local {
                effects.stored.push(s.keys[i]);
            }
            if s.status[i] == Status::Ran && df.steps[i].layer == Layer::Deps {
                effects.mount_used |= matches!(df.steps[i].op, Op::Run { cache_mount: true });
            }
        }
        let exports = match p.backend {
            Backend::None => false,
            Backend::Gha => true,
            Backend::Registry | Backend::Local => scope == 0 || p.pr_registry_export,
        };
        if exports {
            let (pack, _, ratio) = p.codec();
            let old = s.remote_index().cloned().unwrap_or_default();
            let mut records = BTreeSet::new();
            for i in 0..n {
                let st = &df.steps[i];
                if st.op == Op::From || (p.mode == Mode::Min && !df.image.contains(&i)) {
                    continue;
                }
                let key = s.keys[i];
                let known = s.status[i] != Status::Unvisited || old.contains(&key);
                if !known {
                    continue;
                }
                records.insert(key);
                let blob = s.blob(i);
                let have = match p.backend {
                    Backend::Gha => self.gha.visible(scope, blob).is_some(),
                    Backend::Registry => self.uploaded.contains(&blob),
                    _ => false,
                };
                // A layer that ran is compressed to learn its digest; it is uploaded only if
                // the backend lacks that blob.
                if s.status[i] == Status::Ran {
                    let mb = self.layer_mb(st.layer);
                    s.cost.export_s += mb / pack;
                    if !have {
                        if p.backend != Backend::Local {
                            s.cost.export_s += mb / ratio / p.cache_upload_mb_per_s;
                        }
                        effects.uploads.push((blob, mb / ratio));
                    }
                }
            }
            if p.backend != Backend::Local {
                s.cost.export_s += p.cache_manifest_s;
            }
            s.cost.phase[phase_index(Phase::Assembly)] += s.cost.export_s;
            effects.records = Some(records);
        }
        (s.cost, effects)
    }

    /// The cost of building `image` from `inputs` on `scope`, without changing anything.
    pub(super) fn probe(&self, image: u32, inputs: &Inputs, scope: u64) -> Cost {
        self.plan(image, inputs, scope).0
    }

    /// Builds `image` from `inputs` on `scope` at hour `h` and keeps what the build leaves.
    pub(super) fn build(&mut self, image: u32, inputs: &Inputs, scope: u64, h: f64) -> Cost {
        let (cost, e) = self.plan(image, inputs, scope);
        let p = self.p;
        if p.builder == Builder::Persistent {
            self.store.extend(e.stored.iter().copied());
            self.base_local |= e.pulled || self.base_local;
            self.mount_warm |= e.mount_used && p.cache_mounts;
        }
        if p.backend == Backend::Gha {
            for key in &e.touched {
                if let Some(id) = self.gha.visible(e.scope, *key) {
                    self.gha.touch(id, h);
                }
            }
            for (key, mb) in &e.uploads {
                self.gha.save((e.scope, *key), *mb, h);
            }
        } else {
            for (key, mb) in &e.uploads {
                if self.uploaded.insert(*key) {
                    self.registry_mb += mb;
                }
            }
        }
        if let Some(r) = e.records {
            let scope = if p.backend == Backend::Gha {
                e.scope
            } else {
                0
            };
            self.index.insert((e.image, scope), r);
        }
        cost
    }

    /// Stored cache, MB (the Actions cache's entries, or every layer a registry received).
    pub(super) fn stored_mb(&self) -> f64 {
        match self.p.backend {
            Backend::Gha => self.gha.total_mb(),
            _ => self.registry_mb,
        }
    }
}
