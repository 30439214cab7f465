//! The navigation generator (research §3.1) and its exact Bayes rate.
//!
//! Screen 0 is Home, the hub. From Home a session goes to leaf `j` with weight `j^-hub_zipf_s`;
//! from a leaf `c` entered from `p` it goes back to `p` with probability `back_prob`, Home with
//! `home_prob`, otherwise to one of `c`'s children (out-degree `min(max, ⌊U^(-1/α)⌋)`, children
//! drawn by popularity, weights `rank^-child_zipf_s`). A session's latent intent (uniform over
//! `intents`) multiplies the weight of the screens in its group (`(j - 1) mod intents`) by
//! `intent_boost`, at Home and among children, so a longer history says more about the next
//! screen than the last two screens do. Sessions start at Home and continue after each screen
//! with a fixed probability (geometric lengths, at least two screens).
//!
//! Given the intent the process is second order, so the joint law of a window and its next
//! screen is the discounted occupation of (previous, current) pairs times the transitions
//! inside the window, summed over intents: [`exact`] enumerates every reachable window into a
//! table (the Bayes posterior predicts from it). The rates alone come from
//! [`super::rates::rates`], which walks the same windows without storing them.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::params::{DataParams, GeneratorParams};
use crate::des::uniform;

/// A screen id.
pub(crate) type Screen = u16;

/// The app's screen graph and transition law.
#[derive(Debug, Clone)]
pub(crate) struct Generator {
    n: usize,
    intents: usize,
    /// Probability a session continues after each screen (beyond its second).
    pub(crate) cont: f64,
    /// Next-screen law, `[(z * (n + 1) + prev) * n + cur]` (prev = n: none), sorted by screen.
    table: Vec<Vec<(Screen, f64)>>,
}

fn push(dist: &mut Vec<(Screen, f64)>, s: usize, w: f64) {
    if w <= 0.0 {
        return;
    }
    match dist.iter_mut().find(|(x, _)| usize::from(*x) == s) {
        Some(e) => e.1 += w,
        None => dist.push((s as Screen, w)),
    }
}

impl Generator {
    /// The generator of `data.screens` screens with `g`'s shape.
    pub(crate) fn new(data: &DataParams, g: &GeneratorParams) -> Generator {
        let n = data.screens as usize;
        let intents = g.intents as usize;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(g.graph_seed);
        let popularity = |j: usize| 1.0 / j as f64;
        // Children of each leaf, in rank order.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (c, kids) in children.iter_mut().enumerate().skip(1) {
            let u = uniform(&mut rng).max(1e-12);
            let k = (u.powf(-1.0 / g.out_degree_alpha).floor() as usize)
                .clamp(1, g.max_out_degree as usize)
                .min(n - 2);
            let mut pool: Vec<usize> = (1..n).filter(|&j| j != c).collect();
            for _ in 0..k {
                let total: f64 = pool.iter().map(|&j| popularity(j)).sum();
                let mut x = uniform(&mut rng) * total;
                let mut pick = pool.len() - 1;
                for (i, &j) in pool.iter().enumerate() {
                    x -= popularity(j);
                    if x < 0.0 {
                        pick = i;
                        break;
                    }
                }
                kids.push(pool.remove(pick));
            }
        }
        let boost = |j: usize, z: usize| {
            if j > 0 && (j - 1) % intents == z {
                g.intent_boost
            } else {
                1.0
            }
        };
        let mut table = Vec::with_capacity(intents * (n + 1) * n);
        for z in 0..intents {
            for prev in 0..=n {
                #[allow(clippy::needless_range_loop)] // `cur` is also a screen id
                for cur in 0..n {
                    let mut dist = Vec::new();
                    if cur == 0 {
                        for j in 1..n {
                            push(&mut dist, j, (j as f64).powf(-g.hub_zipf_s) * boost(j, z));
                        }
                    } else {
                        let has_prev = prev < n && prev != cur;
                        let back = if has_prev { g.back_prob } else { 0.0 };
                        let rest = 1.0 - back - g.home_prob;
                        let kids = &children[cur];
                        let w: Vec<f64> = kids
                            .iter()
                            .enumerate()
                            .map(|(r, &j)| ((r + 1) as f64).powf(-g.child_zipf_s) * boost(j, z))
                            .collect();
                        let total: f64 = w.iter().sum();
                        if has_prev {
                            push(&mut dist, prev, back);
                        }
                        push(&mut dist, 0, g.home_prob);
                        for (&j, wj) in kids.iter().zip(&w) {
                            push(&mut dist, j, rest * wj / total);
                        }
                    }
                    let total: f64 = dist.iter().map(|e| e.1).sum();
                    for e in &mut dist {
                        e.1 /= total;
                    }
                    dist.sort_by_key(|e| e.0);
                    table.push(dist);
                }
            }
        }
        let m = g.mean_session_screens;
        Generator {
            n,
            intents,
            cont: (m - 2.0) / (m - 1.0),
            table,
        }
    }

    /// Screens.
    pub(crate) fn screens(&self) -> usize {
        self.n
    }

    /// Latent intents.
    pub(crate) fn intents(&self) -> usize {
        self.intents
    }

    /// The law of the next screen for intent `z`, previous screen `prev`, current `cur`.
    pub(crate) fn next(&self, z: usize, prev: Option<Screen>, cur: Screen) -> &[(Screen, f64)] {
        let p = prev.map_or(self.n, usize::from);
        &self.table[(z * (self.n + 1) + p) * self.n + usize::from(cur)]
    }

    /// One session: Home, then at least one more screen.
    pub(crate) fn session<R: rand::Rng>(&self, rng: &mut R) -> Vec<Screen> {
        let z = ((uniform(rng) * self.intents as f64) as usize).min(self.intents - 1);
        let mut s: Vec<Screen> = vec![0];
        loop {
            let cur = *s.last().expect("non-empty");
            let prev = (s.len() >= 2).then(|| s[s.len() - 2]);
            let dist = self.next(z, prev, cur);
            let mut x = uniform(rng);
            let mut pick = dist[dist.len() - 1].0;
            for &(j, p) in dist {
                x -= p;
                if x < 0.0 {
                    pick = j;
                    break;
                }
            }
            s.push(pick);
            if uniform(rng) >= self.cont {
                return s;
            }
        }
    }
}

/// A fast hash for window keys (a multiply-xorshift of the 128-bit key; the keys are not
/// adversarial). Map iteration order never reaches a result: sums go through sorted maps.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u128(&mut self, k: u128) {
        let x = (k as u64) ^ ((k >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let x = (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        self.0 = x ^ (x >> 32);
    }
}

/// A hash map keyed by windows.
pub(crate) type KeyMap<V> = HashMap<u128, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// A window of screens as a map key (10 bits a screen).
pub(crate) fn key(screens: &[Screen]) -> u128 {
    screens
        .iter()
        .fold(screens.len() as u128, |k, &s| (k << 10) | u128::from(s))
}

/// The exact joint law of (window, next screen) under the generator.
#[derive(Debug, Clone)]
pub(crate) struct Exact {
    /// Window → (its probability, next screens by conditional probability, highest first).
    pub(crate) windows: BTreeMap<u128, (f64, Vec<(Screen, f64)>)>,
    /// The law of a screen view (every view after a session's first): the population prior.
    #[cfg_attr(not(test), allow(dead_code))] // the tests' reference for `rates`
    pub(crate) next_marginal: Vec<f64>,
    /// Last screen of each window, by key (for the prior, which never predicts it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) last: KeyMap<Screen>,
}

/// Sorts a law highest first, ties by screen.
pub(crate) fn rank(dist: &mut [(Screen, f64)]) {
    dist.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// Enumerates every window of `window` screens the generator can produce, weighted as the
/// dataset samples them (every window start in every session long enough to have a next screen).
pub(crate) fn exact(nav: &Generator, window: usize) -> Exact {
    let n = nav.n;
    let mut acc: KeyMap<Vec<(Screen, f64)>> = KeyMap::default();
    let mut last = KeyMap::default();
    // Screen views after the first of each session (what the population prior counts).
    let mut views = vec![0.0; n];
    for z in 0..nav.intents {
        let pz = 1.0 / nav.intents as f64;
        // Discounted occupation of (X_s, X_{s+1}) pairs, s = 0, 1, ...
        let mut occ = vec![0.0; n * n];
        let mut v = vec![0.0; n * n];
        for &(x, p) in nav.next(z, None, 0) {
            v[usize::from(x)] = p;
        }
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
                occ[i] += m;
                let (a, b) = ((i / n) as Screen, (i % n) as Screen);
                for &(x, p) in nav.next(z, Some(a), b) {
                    w[usize::from(b) * n + usize::from(x)] += nav.cont * m * p;
                }
            }
            v = w;
        }
        for (i, &m) in occ.iter().enumerate() {
            views[i % n] += pz * m;
        }
        for (i, &m) in occ.iter().enumerate() {
            if m == 0.0 {
                continue;
            }
            let (a, b) = ((i / n) as Screen, (i % n) as Screen);
            if window == 1 {
                let k = key(&[a]);
                let e = acc.entry(k).or_default();
                match e.iter_mut().find(|(y, _)| *y == b) {
                    Some(slot) => slot.1 += pz * m,
                    None => e.push((b, pz * m)),
                }
                last.insert(k, a);
                continue;
            }
            let mut w = [0 as Screen; 8];
            w[0] = a;
            w[1] = b;
            let mut stack = vec![(w, 2usize, pz * m)];
            while let Some((w, len, m)) = stack.pop() {
                let (p, c) = (w[len - 2], w[len - 1]);
                if len == window {
                    let k = key(&w[..len]);
                    let e = acc.entry(k).or_default();
                    for &(x, q) in nav.next(z, Some(p), c) {
                        match e.iter_mut().find(|(y, _)| *y == x) {
                            Some(slot) => slot.1 += m * q,
                            None => e.push((x, m * q)),
                        }
                    }
                    last.insert(k, c);
                    continue;
                }
                for &(x, q) in nav.next(z, Some(p), c) {
                    let mut w2 = w;
                    w2[len] = x;
                    stack.push((w2, len + 1, m * q));
                }
            }
        }
    }
    // Sorted by key before any sum, so the result never depends on the map's order.
    let acc: BTreeMap<u128, Vec<(Screen, f64)>> = acc.into_iter().collect();
    let total: f64 = acc.values().flat_map(|e| e.iter().map(|x| x.1)).sum();
    let all: f64 = views.iter().sum();
    let next_marginal = views.iter().map(|v| v / all).collect();
    let windows = acc
        .into_iter()
        .map(|(k, e)| {
            let pw: f64 = e.iter().map(|x| x.1).sum();
            let mut d: Vec<(Screen, f64)> = e.into_iter().map(|(x, p)| (x, p / pw)).collect();
            rank(&mut d);
            (k, (pw / total, d))
        })
        .collect();
    Exact {
        windows,
        next_marginal,
        last,
    }
}

/// The rates from the table: the reference the tests hold [`super::rates::rates`] to (the run
/// computes them without the table).
#[cfg(test)]
impl Exact {
    /// The same law seen through only the last `w` screens of each window (the same windows
    /// and targets, a shorter history): what a predictor of order `w` can reach at best.
    pub(crate) fn truncate(&self, w: usize) -> Exact {
        let mut acc: BTreeMap<u128, BTreeMap<Screen, f64>> = BTreeMap::new();
        let mut last = KeyMap::default();
        for (k, (pw, d)) in &self.windows {
            let cur = self.last[k];
            let mask = (1u128 << (10 * w)) - 1;
            let short = ((w as u128) << (10 * w)) | (k & mask);
            let e = acc.entry(short).or_default();
            for &(x, p) in d {
                *e.entry(x).or_default() += pw * p;
            }
            last.insert(short, cur);
        }
        let windows = acc
            .into_iter()
            .map(|(k, e)| {
                let pw: f64 = e.values().sum();
                let mut d: Vec<(Screen, f64)> = e.into_iter().map(|(x, p)| (x, p / pw)).collect();
                rank(&mut d);
                (k, (pw, d))
            })
            .collect();
        Exact {
            windows,
            next_marginal: self.next_marginal.clone(),
            last,
        }
    }

    /// The Bayes-optimal top-k accuracy: each window's k most likely next screens.
    pub(crate) fn bayes_top(&self, k: usize) -> f64 {
        self.windows
            .values()
            .map(|(pw, d)| pw * d.iter().take(k).map(|e| e.1).sum::<f64>())
            .sum()
    }

    /// The accuracy of the exact population prior: the k most frequent next screens other
    /// than the current one.
    pub(crate) fn prior_top(&self, k: usize) -> f64 {
        let mut order: Vec<(Screen, f64)> = self
            .next_marginal
            .iter()
            .enumerate()
            .map(|(i, &p)| (i as Screen, p))
            .collect();
        rank(&mut order);
        self.windows
            .iter()
            .map(|(key, (pw, d))| {
                let cur = self.last[key];
                let picks: Vec<Screen> = order
                    .iter()
                    .map(|e| e.0)
                    .filter(|&x| x != cur)
                    .take(k)
                    .collect();
                pw * d
                    .iter()
                    .filter(|e| picks.contains(&e.0))
                    .map(|e| e.1)
                    .sum::<f64>()
            })
            .sum()
    }
}
