//! The generator's exact Bayes rates without the window table.
//!
//! [`super::generator::exact`] builds the law of every (window, next screen) in a map, one
//! intent at a time, and [`super::generator::Exact::truncate`] regroups it for a shorter
//! history: hundreds of thousands of map entries, rebuilt for every probed generator value.
//! The rates need less. Every window of `w` screens is reached exactly once by a walk from its
//! first pair of screens, so one depth-first walk that carries the mass of each intent side by
//! side visits each window once, sums its next-screen law over the intents on the spot, and
//! keeps only its top-1 and top-3 mass: no map, nothing stored.
//!
//! History of `w` screens on the same windows as the full window `W` (their last `w`
//! screens): the walk starts from the occupation of pairs at times `≥ W − w` instead of `≥ 0`
//! (the same windows, times a constant that the normalization removes). One screen of
//! history, none, and the exact population prior come from the occupation of pairs directly.
//! The tests check every figure against the table's.

use super::generator::{Generator, Screen, rank};

/// Exact best accuracies, by screens of history seen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rates {
    /// Best top-1 accuracy seeing the last `w` screens of the window, `w = 0..=window`.
    pub(crate) top1: Vec<f64>,
    /// Best top-3 accuracy, likewise.
    pub(crate) top3: Vec<f64>,
    /// The exact population prior's top-3 accuracy (never predicting the current screen).
    pub(crate) prior_top3: f64,
    /// Windows of the full length visited.
    pub(crate) windows: u64,
}

/// The law of the next screen after (prev, cur) for every intent side by side.
struct Joint {
    z: usize,
    /// `[(prev * n + cur)]`: the union of the intents' next screens, sorted.
    next: Vec<(Vec<Screen>, Vec<f64>)>,
}

impl Joint {
    fn new(nav: &Generator) -> Joint {
        let (n, z) = (nav.screens(), nav.intents());
        let mut next = Vec::with_capacity(n * n);
        for prev in 0..n {
            for cur in 0..n {
                let mut screens: Vec<Screen> = (0..z)
                    .flat_map(|i| nav.next(i, Some(prev as Screen), cur as Screen))
                    .map(|e| e.0)
                    .collect();
                screens.sort_unstable();
                screens.dedup();
                let mut probs = vec![0.0; screens.len() * z];
                for i in 0..z {
                    for &(x, p) in nav.next(i, Some(prev as Screen), cur as Screen) {
                        let at = screens.binary_search(&x).expect("in the union");
                        probs[at * z + i] = p;
                    }
                }
                next.push((screens, probs));
            }
        }
        Joint { z, next }
    }
}

/// Sums of one history length: every window's mass, its best top-1 and top-3 mass.
#[derive(Default, Clone, Copy)]
struct Sums {
    total: f64,
    top1: f64,
    top3: f64,
}

impl Sums {
    fn add(&mut self, d: &[f64]) {
        let (mut a, mut b, mut c) = (0.0f64, 0.0f64, 0.0f64);
        for &x in d {
            self.total += x;
            if x > a {
                (a, b, c) = (x, a, b);
            } else if x > b {
                (b, c) = (x, b);
            } else if x > c {
                c = x;
            }
        }
        self.top1 += a;
        self.top3 += a + b + c;
    }
}

struct Walk<'a> {
    joint: &'a Joint,
    n: usize,
    len: usize,
    sums: Sums,
    leaves: u64,
    /// Scratch: one mass vector (one entry per intent) per depth, and the leaf's law.
    mass: Vec<Vec<f64>>,
    law: Vec<f64>,
}

impl Walk<'_> {
    /// Extends a window whose last two screens are (p, c), `depth` screens long, whose
    /// intents' masses are `mass[depth]`.
    fn go(&mut self, p: usize, c: usize, depth: usize) {
        let joint = self.joint;
        let z = joint.z;
        let (screens, probs) = &joint.next[p * self.n + c];
        if depth == self.len {
            self.law.clear();
            let m = &self.mass[depth];
            for i in 0..screens.len() {
                let q = &probs[i * z..(i + 1) * z];
                self.law.push(m.iter().zip(q).map(|(a, b)| a * b).sum());
            }
            self.sums.add(&self.law);
            self.leaves += 1;
            return;
        }
        for (i, &x) in screens.iter().enumerate() {
            let (lo, hi) = self.mass.split_at_mut(depth + 1);
            let (m, next) = (&lo[depth], &mut hi[0]);
            let mut any = false;
            for ((out, a), b) in next.iter_mut().zip(m).zip(&probs[i * z..(i + 1) * z]) {
                *out = a * b;
                any |= *out > 0.0;
            }
            if any {
                self.go(c, usize::from(x), depth + 1);
            }
        }
    }
}

/// The exact rates of `nav` for windows of `window` screens, and of every shorter history on
/// the same windows.
pub(crate) fn rates(nav: &Generator, window: usize) -> Rates {
    let (n, zs) = (nav.screens(), nav.intents());
    let pz = 1.0 / zs as f64;
    // occ[t][(a * n + b) * zs + z]: the occupation of pair (a, b) at times ≥ t, t < window.
    let mut occ = vec![vec![0.0; n * n * zs]; window.max(1)];
    for z in 0..zs {
        let mut v = vec![0.0; n * n];
        for &(x, p) in nav.next(z, None, 0) {
            v[usize::from(x)] = p;
        }
        let mut s = 0usize;
        loop {
            let mass: f64 = v.iter().sum();
            if mass < 1e-14 {
                break;
            }
            let mut w = vec![0.0; n * n];
            for (i, &m) in v.iter().enumerate() {
                if m == 0.0 {
                    continue;
                }
                for occ_t in occ.iter_mut().take(s + 1) {
                    occ_t[i * zs + z] += pz * m;
                }
                let (a, b) = (i / n, i % n);
                for &(x, p) in nav.next(z, Some(a as Screen), b as Screen) {
                    w[b * n + usize::from(x)] += nav.cont * m * p;
                }
            }
            v = w;
            s += 1;
        }
    }
    // Screen views (after each session's first) and the prior's picks for each current screen.
    let mut views = vec![0.0; n];
    for (i, m) in occ[0].chunks(zs).enumerate() {
        views[i % n] += m.iter().sum::<f64>();
    }
    let mut order: Vec<(Screen, f64)> = views
        .iter()
        .enumerate()
        .map(|(i, &p)| (i as Screen, p))
        .collect();
    rank(&mut order);
    let picks = |cur: usize| {
        order
            .iter()
            .map(|e| usize::from(e.0))
            .filter(move |&x| x != cur)
            .take(3)
    };
    // One screen of history (and none): pairs (current, next) at times ≥ window − 1.
    let mut one = vec![0.0; n * n];
    for (i, m) in occ[window.max(1) - 1].chunks(zs).enumerate() {
        one[i] = m.iter().sum();
    }
    let mut s1 = Sums::default();
    let mut none = vec![0.0; n];
    let mut prior = 0.0;
    for (c, row) in one.chunks(n).enumerate() {
        s1.add(row);
        for (x, &m) in row.iter().enumerate() {
            none[x] += m;
        }
        prior += picks(c).map(|x| row[x]).sum::<f64>();
    }
    let mut s0 = Sums::default();
    s0.add(&none);
    let mut sums = vec![s0, s1];
    let joint = Joint::new(nav);
    let mut windows = 0;
    for len in 2..=window {
        let mut walk = Walk {
            joint: &joint,
            n,
            len,
            sums: Sums::default(),
            leaves: 0,
            mass: vec![vec![0.0; zs]; len + 1],
            law: Vec::with_capacity(n),
        };
        for (i, m) in occ[window - len].chunks(zs).enumerate() {
            if m.iter().all(|&x| x == 0.0) {
                continue;
            }
            walk.mass[2].copy_from_slice(m);
            walk.go(i / n, i % n, 2);
        }
        sums.push(walk.sums);
        windows = walk.leaves;
    }
    if window == 1 {
        windows = one
            .chunks(n)
            .filter(|row| row.iter().any(|&m| m > 0.0))
            .count() as u64;
    }
    Rates {
        top1: sums.iter().map(|s| s.top1 / s.total).collect(),
        top3: sums.iter().map(|s| s.top3 / s.total).collect(),
        prior_top3: prior / s1.total,
        windows,
    }
}
