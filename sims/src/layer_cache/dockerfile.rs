//! A Dockerfile as BuildKit sees it: stages of steps, each step's cache key formed from its
//! instruction text, its parent's key and, for a `COPY` from the build context, a checksum of
//! the files it selects (research/build-caches.md §2.1). This file knows nothing about time or
//! caches: it says which keys a commit changes (the invalidation cascade), and the simulation
//! and the real kernel both use it.
//!
//! The build context is split into the groups a commit touches: the dependency manifests
//! (`package.json`, `package-lock.json`), the application source, the docs, and the
//! Dockerfile itself. `COPY . .` selects every group `.dockerignore` leaves in.

use serde::{Deserialize, Serialize};

/// A part of the build context that a commit changes as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Dependency manifests and the lockfile.
    Manifest,
    /// Application source.
    Source,
    /// Documentation (README, docs/).
    Docs,
    /// The Dockerfile itself (it is in the context unless `.dockerignore` drops it).
    Dockerfile,
}

/// Every group, in key order.
pub const GROUPS: [Group; 4] = [
    Group::Manifest,
    Group::Source,
    Group::Docs,
    Group::Dockerfile,
];

/// The build phase a step's time counts in (the article's table rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Base image pull.
    Pull,
    /// Dependency install.
    Deps,
    /// Compilation/build.
    Compile,
    /// Final image assembly.
    Assembly,
}

/// Which layer size a step produces (a scenario parameter), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// A metadata-only or tiny layer (WORKDIR, the manifests).
    Tiny,
    /// The installed dependencies (`node_modules`).
    Deps,
    /// The build context copied in (`COPY . .`).
    Context,
    /// What the build step writes (output and build-tool files).
    BuildOutput,
    /// The built artefact the runtime stage copies (`dist`).
    Dist,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `FROM <base image>`: keyed by the image's digest.
    From,
    /// `WORKDIR`, `ENV` and other steps keyed by their text alone.
    Meta,
    /// `COPY <paths> <dest>` from the build context: keyed by a checksum of the selected groups
    /// (`all`: `COPY . .`, every group `.dockerignore` leaves in).
    CopyContext {
        /// The groups named (ignored when `all`).
        groups: Vec<Group>,
        /// `COPY . .`.
        all: bool,
    },
    /// `COPY --from=<stage>`: keyed by the source step's key (the copied files are that step's
    /// output; a rebuilt step is taken to produce different bytes).
    CopyFrom {
        /// The step whose output is copied.
        source: usize,
    },
    /// `RUN`: keyed by its text and its parent only (the world it reads is invisible).
    Run {
        /// Has a `--mount=type=cache` (not part of the key, not exported by any backend).
        cache_mount: bool,
    },
}

/// One step of a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The stage's name.
    pub stage: &'static str,
    /// The instruction as written.
    pub text: &'static str,
    /// The step it builds on (the previous step of its stage, or the stage it starts `FROM`);
    /// `None` for a `FROM` of an image.
    pub parent: Option<usize>,
    /// What it does.
    pub op: Op,
    /// The phase its execution counts in.
    pub phase: Phase,
    /// The layer it produces.
    pub layer: Layer,
}

/// The Dockerfile shapes the room models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// The article's step 3: `deps` (manifests, `npm ci`), `builder` (`FROM deps`, `COPY . .`,
    /// build) and a `runtime` stage copying `dist` and `node_modules` from them.
    MultiStage,
    /// The article's step 1: one stage, manifests copied and installed before `COPY . .`.
    SingleStage,
    /// The gotcha: one stage with `COPY . .` before `npm ci` (dependencies coupled to source).
    Coupled,
}

/// A Dockerfile: its steps in order and the steps that make the final image.
#[derive(Clone, Debug, PartialEq)]
pub struct Dockerfile {
    /// Every step; a step's parent and sources come before it.
    pub steps: Vec<Step>,
    /// The steps whose layers are the final image (the last stage's chain).
    pub image: Vec<usize>,
}

fn step(
    stage: &'static str,
    text: &'static str,
    parent: Option<usize>,
    op: Op,
    phase: Phase,
    layer: Layer,
) -> Step {
    Step {
        stage,
        text,
        parent,
        op,
        phase,
        layer,
    }
}

impl Dockerfile {
    /// The Dockerfile of `shape` (the article's Node.js application).
    pub fn of(shape: Shape) -> Dockerfile {
        use Layer as L;
        use Phase as P;
        let manifests = || Op::CopyContext {
            groups: vec![Group::Manifest],
            all: false,
        };
        let everything = || Op::CopyContext {
            groups: vec![],
            all: true,
        };
        let run = |m| Op::Run { cache_mount: m };
        let steps = match shape {
            Shape::MultiStage => vec![
                step(
                    "deps",
                    "FROM node:20-alpine AS deps",
                    None,
                    Op::From,
                    P::Pull,
                    L::Tiny,
                ),
                step("deps", "WORKDIR /app", Some(0), Op::Meta, P::Deps, L::Tiny),
                step(
                    "deps",
                    "COPY package.json package-lock.json ./",
                    Some(1),
                    manifests(),
                    P::Deps,
                    L::Tiny,
                ),
                step(
                    "deps",
                    "RUN --mount=type=cache,target=/root/.npm npm ci",
                    Some(2),
                    run(true),
                    P::Deps,
                    L::Deps,
                ),
                step(
                    "builder",
                    "COPY . .",
                    Some(3),
                    everything(),
                    P::Compile,
                    L::Context,
                ),
                step(
                    "builder",
                    "RUN npm run build",
                    Some(4),
                    run(false),
                    P::Compile,
                    L::BuildOutput,
                ),
                step(
                    "runtime",
                    "FROM node:20-alpine AS runtime",
                    None,
                    Op::From,
                    P::Pull,
                    L::Tiny,
                ),
                step(
                    "runtime",
                    "WORKDIR /app",
                    Some(6),
                    Op::Meta,
                    P::Assembly,
                    L::Tiny,
                ),
                step(
                    "runtime",
                    "COPY --from=builder /app/dist ./dist",
                    Some(7),
                    Op::CopyFrom { source: 5 },
                    P::Assembly,
                    L::Dist,
                ),
                step(
                    "runtime",
                    "COPY --from=deps /app/node_modules ./node_modules",
                    Some(8),
                    Op::CopyFrom { source: 3 },
                    P::Assembly,
                    L::Deps,
                ),
            ],
            Shape::SingleStage => vec![
                step(
                    "builder",
                    "FROM node:20-alpine AS builder",
                    None,
                    Op::From,
                    P::Pull,
                    L::Tiny,
                ),
                step(
                    "builder",
                    "WORKDIR /app",
                    Some(0),
                    Op::Meta,
                    P::Deps,
                    L::Tiny,
                ),
                step(
                    "builder",
                    "COPY package.json package-lock.json ./",
                    Some(1),
                    manifests(),
                    P::Deps,
                    L::Tiny,
                ),
                step(
                    "builder",
                    "RUN --mount=type=cache,target=/root/.npm npm ci --prefer-offline",
                    Some(2),
                    run(true),
                    P::Deps,
                    L::Deps,
                ),
                step(
                    "builder",
                    "COPY . .",
                    Some(3),
                    everything(),
                    P::Compile,
                    L::Context,
                ),
                step(
                    "builder",
                    "RUN npm run build",
                    Some(4),
                    run(false),
                    P::Compile,
                    L::BuildOutput,
                ),
            ],
            Shape::Coupled => vec![
                step(
                    "app",
                    "FROM node:20-alpine",
                    None,
                    Op::From,
                    P::Pull,
                    L::Tiny,
                ),
                step("app", "WORKDIR /app", Some(0), Op::Meta, P::Deps, L::Tiny),
                step(
                    "app",
                    "COPY . .",
                    Some(1),
                    everything(),
                    P::Compile,
                    L::Context,
                ),
                step(
                    "app",
                    "RUN --mount=type=cache,target=/root/.npm npm ci",
                    Some(2),
                    run(true),
                    P::Deps,
                    L::Deps,
                ),
                step(
                    "app",
                    "RUN npm run build",
                    Some(3),
                    run(false),
                    P::Compile,
                    L::BuildOutput,
                ),
            ],
        };
        let last = steps.len() - 1;
        let mut image = vec![last];
        while let Some(p) = steps[*image.last().expect("non-empty")].parent {
            image.push(p);
        }
        image.reverse();
        Dockerfile { steps, image }
    }

    /// The steps of stage `name` (for reports and tests).
    pub fn stage(&self, name: &str) -> Vec<usize> {
        (0..self.steps.len())
            .filter(|&i| self.steps[i].stage == name)
            .collect()
    }

    /// The steps whose key depends on step `i`'s key, directly or not (its descendants through
    /// parents and `COPY --from` sources), `i` included.
    pub fn descendants(&self, i: usize) -> Vec<usize> {
        let mut hit = vec![false; self.steps.len()];
        hit[i] = true;
        for j in i + 1..self.steps.len() {
            let s = &self.steps[j];
            let via_from = matches!(s.op, Op::CopyFrom { source } if hit[source]);
            if s.parent.is_some_and(|p| hit[p]) || via_from {
                hit[j] = true;
            }
        }
        (0..self.steps.len()).filter(|&j| hit[j]).collect()
    }
}

/// What a build's keys are computed from: the base image's digest, a version per context group,
/// a version per instruction text (a Dockerfile edit bumps one), and what `.dockerignore` drops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    /// The base image's digest (a version number standing for it).
    pub base: u64,
    /// One version per [`GROUPS`] entry.
    pub groups: [u64; 4],
    /// One version per step's instruction text.
    pub texts: Vec<u64>,
    /// Groups `.dockerignore` drops from the context.
    pub ignored: Vec<Group>,
}

impl Inputs {
    /// The inputs of a first build of `df` (every version 0), with `ignored` groups dropped.
    pub fn new(df: &Dockerfile, ignored: Vec<Group>) -> Inputs {
        Inputs {
            base: 0,
            groups: [0; 4],
            texts: vec![0; df.steps.len()],
            ignored,
        }
    }

    fn group(&self, g: Group) -> u64 {
        self.groups[GROUPS.iter().position(|x| *x == g).expect("a group")]
    }

    /// Applies a commit: `edit` changes what it names (a different version).
    pub fn apply(&mut self, edit: Edit, version: u64) {
        let at = |g: Group| GROUPS.iter().position(|x| *x == g).expect("a group");
        match edit {
            Edit::Base => self.base = version,
            Edit::Group(g) => self.groups[at(g)] = version,
            Edit::Instruction(i) => {
                self.texts[i] = version;
                self.groups[at(Group::Dockerfile)] = version;
            }
        }
    }
}

/// One change to the inputs, as a commit makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The base image's digest moved.
    Base,
    /// A file of a context group changed.
    Group(Group),
    /// The text of step `i` changed (and so did the Dockerfile file).
    Instruction(usize),
}

/// A stable 64-bit mix (SplitMix64's finaliser) of a running key and one more value: model keys
/// only need to differ when their inputs differ, never to be cryptographic.
fn fold(h: u64, x: u64) -> u64 {
    let mut z = (h ^ x.rotate_left(17))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every step's cache key for `inputs`, BuildKit's rule: the instruction (with its text
/// version), the parent's key, and for a context `COPY` the selected groups' versions, for a
/// `COPY --from` the source step's key, for a `FROM` the image digest. `salt` separates
/// images of a monorepo (their Dockerfiles differ).
pub fn keys(df: &Dockerfile, inputs: &Inputs, salt: u64) -> Vec<u64> {
    let mut keys: Vec<u64> = Vec::with_capacity(df.steps.len());
    for (i, s) in df.steps.iter().enumerate() {
        let text = s.text.bytes().fold(salt, |h, b| fold(h, u64::from(b)));
        let mut h = fold(text, inputs.texts[i]);
        if let Some(p) = s.parent {
            h = fold(h, keys[p]);
        }
        match &s.op {
            Op::From => h = fold(h, inputs.base),
            Op::Meta | Op::Run { .. } => {}
            Op::CopyContext { groups, all } => {
                for (gi, g) in GROUPS.iter().enumerate() {
                    let selected = if *all {
                        !inputs.ignored.contains(g)
                    } else {
                        groups.contains(g)
                    };
                    if selected {
                        h = fold(fold(h, gi as u64 + 1), inputs.group(*g));
                    }
                }
            }
            Op::CopyFrom { source } => h = fold(h, keys[*source]),
        }
        keys.push(h);
    }
    keys
}

/// The steps whose key `edit` changes, from `before` (the invalidation cascade).
pub fn cascade(df: &Dockerfile, before: &Inputs, edit: Edit) -> Vec<usize> {
    let mut after = before.clone();
    let v = before
        .groups
        .iter()
        .chain(before.texts.iter())
        .chain(std::iter::once(&before.base))
        .max()
        .copied()
        .unwrap_or(0)
        + 1;
    after.apply(edit, v);
    let (a, b) = (keys(df, before, 0), keys(df, &after, 0));
    (0..a.len()).filter(|&i| a[i] != b[i]).collect()
}
