//! The predictors the model runs: the population prior, the n-gram with backoff, and the
//! generator's exact posterior (Bayes). The LSTM lives in the real kernel.

use std::sync::Arc;

use super::data::{Dataset, Split};
use super::generator::{Exact, KeyMap, Screen, key};

/// Something that ranks next screens given a history (oldest first, current last).
pub(crate) trait Predict {
    /// The `k` most likely next screens, best first, into `out` (cleared first).
    fn top(&self, history: &[Screen], k: usize, out: &mut Vec<Screen>);
}

/// Counts of next screens after one context, ranked.
#[derive(Debug, Clone, Default)]
struct Counts {
    total: u32,
    next: Vec<(Screen, u32)>,
}

/// The n-gram: next-screen counts after every context of 0..=order screens in the training
/// sessions. A prediction takes the longest context seen at least `min_count` times, ranks its
/// next screens by count, and fills the remaining slots from shorter contexts (backoff) down
/// to the population prior; it never predicts the current screen.
///
/// The table of order `o` holds the table of every lower order (the same counts of the shorter
/// contexts), so [`NGram::with_order`] gives a lower order without counting again.
#[derive(Debug, Clone)]
pub(crate) struct NGram {
    order: usize,
    min_count: u32,
    contexts: Arc<KeyMap<Counts>>,
    /// Contexts stored, by length.
    by_len: Vec<usize>,
    /// Screens by training frequency as a next screen (the population prior).
    pub(crate) prior: Vec<Screen>,
}

impl NGram {
    /// Trained on `ds`'s training sessions.
    pub(crate) fn train(ds: &Dataset, order: usize, min_count: u32, screens: usize) -> NGram {
        let v = screens;
        // Short contexts are counted in dense arrays (`v^(len + 1)` cells, at most 2^20), the
        // rest in the hash map; the dense counts then join the map, so the table is the same.
        let mut dense_len = 0usize;
        let mut cells = v;
        while dense_len <= order && cells <= 1 << 20 {
            dense_len += 1;
            cells = cells.saturating_mul(v);
        }
        let mut dense: Vec<Vec<u32>> = (0..dense_len)
            .map(|l| vec![0u32; v.pow(l as u32 + 1)])
            .collect();
        let mut contexts: KeyMap<Counts> = KeyMap::default();
        let mut by_len = vec![0; order + 1];
        for s in ds.of(Split::Train) {
            for t in 1..s.len() {
                let x = s[t];
                // The context's index among `v^len` (its newest screen the lowest digit).
                let (mut idx, mut pw) = (0usize, 1usize);
                for len in 0..=order.min(t) {
                    if len > 0 {
                        idx += usize::from(s[t - len]) * pw;
                        pw *= v;
                    }
                    if len < dense_len {
                        dense[len][idx * v + usize::from(x)] += 1;
                        continue;
                    }
                    let c = contexts.entry(key(&s[t - len..t])).or_insert_with(|| {
                        by_len[len] += 1;
                        Counts::default()
                    });
                    c.total += 1;
                    match c.next.iter_mut().find(|e| e.0 == x) {
                        Some(e) => e.1 += 1,
                        None => c.next.push((x, 1)),
                    }
                }
            }
        }
        for (len, counts) in dense.iter().enumerate() {
            for (idx, row) in counts.chunks(v).enumerate() {
                let total: u32 = row.iter().sum();
                if total == 0 {
                    continue;
                }
                let ctx: Vec<Screen> = (0..len)
                    .map(|i| ((idx / v.pow((len - 1 - i) as u32)) % v) as Screen)
                    .collect();
                let next = row
                    .iter()
                    .enumerate()
                    .filter(|e| *e.1 > 0)
                    .map(|(y, &n)| (y as Screen, n))
                    .collect();
                contexts.insert(key(&ctx), Counts { total, next });
                by_len[len] += 1;
            }
        }
        for c in contexts.values_mut() {
            c.next.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        let mut prior: Vec<Screen> = contexts
            .get(&key(&[]))
            .map(|c| c.next.iter().map(|e| e.0).collect())
            .unwrap_or_default();
        for x in 0..screens as Screen {
            if !prior.contains(&x) {
                prior.push(x);
            }
        }
        NGram {
            order,
            min_count,
            contexts: Arc::new(contexts),
            by_len,
            prior,
        }
    }

    /// The same model seeing at most `order` screens (this one's order at most): exactly the
    /// model trained at that order, sharing this one's table.
    pub(crate) fn with_order(&self, order: usize) -> NGram {
        let order = order.min(self.order);
        NGram {
            order,
            min_count: self.min_count,
            contexts: Arc::clone(&self.contexts),
            by_len: self.by_len[..=order].to_vec(),
            prior: self.prior.clone(),
        }
    }

    /// Contexts of its order (its size).
    pub(crate) fn contexts(&self) -> usize {
        self.by_len.iter().sum()
    }
}

fn fill(out: &mut Vec<Screen>, cur: Option<Screen>, k: usize, from: impl Iterator<Item = Screen>) {
    for x in from {
        if out.len() >= k {
            return;
        }
        if Some(x) != cur && !out.contains(&x) {
            out.push(x);
        }
    }
}

impl Predict for NGram {
    fn top(&self, history: &[Screen], k: usize, out: &mut Vec<Screen>) {
        out.clear();
        let cur = history.last().copied();
        let longest = self.order.min(history.len());
        for len in (1..=longest).rev() {
            let ctx = &history[history.len() - len..];
            if let Some(c) = self.contexts.get(&key(ctx)) {
                if c.total >= self.min_count || len == 1 {
                    fill(out, cur, k, c.next.iter().map(|e| e.0));
                }
            }
            if out.len() >= k {
                return;
            }
        }
        fill(out, cur, k, self.prior.iter().copied());
    }
}

/// The population prior: the most frequent next screens, other than the current one.
#[derive(Debug, Clone)]
pub(crate) struct Prior(pub(crate) Vec<Screen>);

impl Predict for Prior {
    fn top(&self, history: &[Screen], k: usize, out: &mut Vec<Screen>) {
        out.clear();
        fill(out, history.last().copied(), k, self.0.iter().copied());
    }
}

/// The generator's exact posterior over the last `window` screens (Bayes-optimal); the prior
/// for shorter histories.
pub(crate) struct Bayes<'a> {
    /// The exact law.
    pub(crate) exact: &'a Exact,
    /// Its window.
    pub(crate) window: usize,
    /// The fallback.
    pub(crate) prior: Prior,
}

impl Predict for Bayes<'_> {
    fn top(&self, history: &[Screen], k: usize, out: &mut Vec<Screen>) {
        if history.len() >= self.window {
            let w = &history[history.len() - self.window..];
            if let Some((_, d)) = self.exact.windows.get(&key(w)) {
                out.clear();
                fill(out, None, k, d.iter().map(|e| e.0));
                fill(out, w.last().copied(), k, self.prior.0.iter().copied());
                return;
            }
        }
        self.prior.top(history, k, out);
    }
}

/// Top-1 and top-3 hits over a split's windows: (top-1 hits, top-3 hits, windows).
pub(crate) fn accuracy(
    p: &dyn Predict,
    ds: &Dataset,
    split: Split,
    window: usize,
) -> (u64, u64, u64) {
    let (mut h1, mut h3, mut n) = (0, 0, 0);
    let mut out = Vec::with_capacity(3);
    for (ctx, next) in ds.windows(split, window) {
        p.top(ctx, 3, &mut out);
        n += 1;
        if out.first() == Some(&next) {
            h1 += 1;
        }
        if out.contains(&next) {
            h3 += 1;
        }
    }
    (h1, h3, n)
}
