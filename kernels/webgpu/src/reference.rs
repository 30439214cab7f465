//! Random INT4-packed weights, scales and activations, and the CPU reference product.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A packed `N x K` weight matrix with its scales.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Rows (output features).
    pub n: u32,
    /// Columns (inputs), a multiple of 32.
    pub k: u32,
    /// `N · K / 8` words, 8 nibbles each (nibble `j` of word `k8` = element `8·k8 + j`).
    pub packed: Vec<u32>,
    /// `N · K / 32` scales.
    pub scales: Vec<f32>,
}

impl Weights {
    /// Random nibbles; scales around `gain / sqrt(21.25 · K)` so a layer keeps its input's size
    /// (a nibble minus 8 has variance 21.25).
    pub fn random(n: u32, k: u32, seed: u64, gain: f32) -> Weights {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let words = (n as usize) * (k as usize) / 8;
        let packed = (0..words).map(|_| rng.next_u32()).collect();
        let base = gain / (21.25 * k as f32).sqrt();
        let scales = (0..(n as usize) * (k as usize) / 32)
            .map(|_| base * (0.5 + ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)))
            .collect();
        Weights {
            n,
            k,
            packed,
            scales,
        }
    }

    /// Element `(row, col)` as the kernel dequantises it: `(q - 8) · scale`.
    pub fn get(&self, row: u32, col: u32) -> f32 {
        let (row, col) = (row as usize, col as usize);
        let k = self.k as usize;
        let word = self.packed[row * k / 8 + col / 8];
        let q = ((word >> (4 * (col % 8))) & 15) as f32 - 8.0;
        q * self.scales[row * k / 32 + col / 32]
    }

    /// Bytes of packed weights and scales.
    pub fn bytes(&self) -> f64 {
        (self.packed.len() * 4 + self.scales.len() * 4) as f64
    }
}

/// Random activations in [-1, 1] on a grid of 1/512, exactly representable as f16.
pub fn activations(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..len)
        .map(|_| ((rng.next_u64() % 1025) as f32 - 512.0) / 512.0)
        .collect()
}

/// IEEE half-precision bits of `x`, for values that are exact in f16 (zero or a normal half):
/// the activations from [`activations`].
pub fn f16_bits(x: f32) -> u16 {
    if x == 0.0 {
        return 0;
    }
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    assert!((1..31).contains(&exp), "{x} is not a normal f16");
    let mant = ((b >> 13) & 0x3ff) as u16;
    sign | ((exp as u16) << 10) | mant
}

/// Output `(token m, feature row)` in f64, and the scale it is judged against:
/// `sum_k |w_k x_k|` (so the error is relative to the terms, not to a cancelling sum).
pub fn output(w: &Weights, act: &[f32], m: u32, row: u32) -> (f64, f64) {
    let k = w.k as usize;
    let a = &act[m as usize * k..(m as usize + 1) * k];
    let (mut s, mut abs) = (0.0f64, 0.0f64);
    for (c, &x) in a.iter().enumerate() {
        let t = f64::from(w.get(row, c as u32)) * f64::from(x);
        s += t;
        abs += t.abs();
    }
    (s, abs)
}

/// The outputs `(m, row)` to check: corners, then an even spread, `count` in all.
pub fn sample_outputs(m: u32, n: u32, count: u32, seed: u64) -> Vec<(u32, u32)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed);
    let mut v = vec![(0, 0), (m - 1, n - 1), (0, n - 1), (m - 1, 0)];
    while (v.len() as u32) < count {
        v.push((
            (rng.next_u64() % u64::from(m)) as u32,
            (rng.next_u64() % u64::from(n)) as u32,
        ));
    }
    v
}

/// Largest relative error of `got` (`M x N`, row-major by token) over the sampled outputs.
pub fn max_rel_error(w: &Weights, act: &[f32], got: &[f32], m: u32, picks: &[(u32, u32)]) -> f64 {
    let _ = m;
    picks
        .iter()
        .map(|&(t, row)| {
            let (want, scale) = output(w, act, t, row);
            let g = f64::from(got[(t * w.n + row) as usize]);
            (g - want).abs() / scale.max(1e-30)
        })
        .fold(0.0, f64::max)
}
