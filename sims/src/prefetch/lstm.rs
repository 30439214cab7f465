//! The article's model, hand-written: embedding(e) → layers × LSTM(h) → dense(v) → softmax,
//! trained with backpropagation through time and Adam on the cross-entropy of the next
//! screen. Float64 for training (the gradient check's finite differences need it); the kernel
//! exports float32 and int8 copies ([`super::quant`]) and times those.
//!
//! Parameters live in one flat vector (embedding, then each layer's gate matrix and biases,
//! then the dense layer), so Adam and the gradient check walk one slice. Gates are ordered
//! input, forget, cell, output, as Keras's; the forget bias starts at 1 (`unit_forget_bias`).

use rand::Rng;

use super::generator::Screen;
use crate::des::uniform;

/// The model's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Vocabulary (screens).
    pub(crate) v: usize,
    /// Embedding width.
    pub(crate) e: usize,
    /// Hidden units per layer.
    pub(crate) h: usize,
    /// Layers.
    pub(crate) layers: usize,
}

impl Dims {
    /// Input width of layer `l`.
    pub(crate) fn input(&self, l: usize) -> usize {
        if l == 0 { self.e } else { self.h }
    }
    /// Offset of layer `l`'s gate matrix (4h × (input + h)), its biases following it.
    pub(crate) fn layer_at(&self, l: usize) -> usize {
        let mut at = self.v * self.e;
        for k in 0..l {
            at += 4 * self.h * (self.input(k) + self.h) + 4 * self.h;
        }
        at
    }
    /// Offset of the dense layer (v × h, then v biases).
    pub(crate) fn dense_at(&self) -> usize {
        self.layer_at(self.layers)
    }
    /// Parameters in all.
    pub(crate) fn params(&self) -> usize {
        self.dense_at() + self.v * self.h + self.v
    }
}

/// The trained (or training) model.
#[derive(Debug, Clone)]
pub(crate) struct Lstm {
    pub(crate) dims: Dims,
    pub(crate) w: Vec<f64>,
}

/// One layer's values at one step, kept for the backward pass.
#[derive(Clone, Default)]
struct Step {
    z: Vec<f64>,
    gates: Vec<f64>,
    c_prev: Vec<f64>,
    c: Vec<f64>,
    h: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Lstm {
    /// Random initial weights (uniform ±1/√fan-in, forget biases 1).
    pub(crate) fn new<R: Rng>(dims: Dims, rng: &mut R) -> Lstm {
        let mut w = vec![0.0; dims.params()];
        let mut fill = |w: &mut [f64], scale: f64| {
            for x in w {
                *x = (2.0 * uniform(rng) - 1.0) * scale;
            }
        };
        fill(&mut w[..dims.v * dims.e], 0.1);
        for l in 0..dims.layers {
            let at = dims.layer_at(l);
            let cols = dims.input(l) + dims.h;
            fill(
                &mut w[at..at + 4 * dims.h * cols],
                1.0 / (cols as f64).sqrt(),
            );
            let b = at + 4 * dims.h * cols;
            for x in &mut w[b + dims.h..b + 2 * dims.h] {
                *x = 1.0;
            }
        }
        let d = dims.dense_at();
        fill(&mut w[d..d + dims.v * dims.h], 1.0 / (dims.h as f64).sqrt());
        Lstm { dims, w }
    }

    fn forward(&self, x: &[Screen]) -> (Vec<Vec<Step>>, Vec<f64>) {
        let Dims { v, e, h, layers } = self.dims;
        let mut steps: Vec<Vec<Step>> = Vec::with_capacity(layers);
        for l in 0..layers {
            let input = self.dims.input(l);
            let cols = input + h;
            let at = self.dims.layer_at(l);
            let (wm, b) = (&self.w[at..at + 4 * h * cols], &self.w[at + 4 * h * cols..]);
            let mut hs = vec![0.0; h];
            let mut cs = vec![0.0; h];
            let mut out = Vec::with_capacity(x.len());
            for (t, &tok) in x.iter().enumerate() {
                let mut z = Vec::with_capacity(cols);
                if l == 0 {
                    let r = usize::from(tok) * e;
                    z.extend_from_slice(&self.w[r..r + e]);
                } else {
                    z.extend_from_slice(&steps[l - 1][t].h);
                }
                z.extend_from_slice(&hs);
                let mut gates = vec![0.0; 4 * h];
                for (r, g) in gates.iter_mut().enumerate() {
                    let row = &wm[r * cols..(r + 1) * cols];
                    let s: f64 = row.iter().zip(&z).map(|(a, b)| a * b).sum();
                    *g = s + b[r];
                }
                for j in 0..h {
                    gates[j] = sigmoid(gates[j]);
                    gates[h + j] = sigmoid(gates[h + j]);
                    gates[2 * h + j] = gates[2 * h + j].tanh();
                    gates[3 * h + j] = sigmoid(gates[3 * h + j]);
                }
                let c_prev = cs.clone();
                for j in 0..h {
                    cs[j] = gates[h + j] * c_prev[j] + gates[j] * gates[2 * h + j];
                    hs[j] = gates[3 * h + j] * cs[j].tanh();
                }
                out.push(Step {
                    z,
                    gates,
                    c_prev,
                    c: cs.clone(),
                    h: hs.clone(),
                });
            }
            steps.push(out);
        }
        let top = &steps[layers - 1][x.len() - 1].h;
        let d = self.dims.dense_at();
        let logits = (0..v)
            .map(|r| {
                let row = &self.w[d + r * h..d + (r + 1) * h];
                row.iter().zip(top).map(|(a, b)| a * b).sum::<f64>() + self.w[d + v * h + r]
            })
            .collect();
        (steps, logits)
    }

    /// The next-screen logits after `x`.
    #[cfg(test)]
    pub(crate) fn logits(&self, x: &[Screen]) -> Vec<f64> {
        self.forward(x).1
    }

    /// Cross-entropy of `target` after `x`, adding its gradient into `grad`.
    pub(crate) fn backward(&self, x: &[Screen], target: Screen, grad: &mut [f64]) -> f64 {
        let Dims { v, e, h, layers } = self.dims;
        let (steps, logits) = self.forward(x);
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        let loss = sum.ln() + max - logits[usize::from(target)];
        let mut dlog: Vec<f64> = logits.iter().map(|l| (l - max).exp() / sum).collect();
        dlog[usize::from(target)] -= 1.0;
        let t_last = x.len() - 1;
        let d = self.dims.dense_at();
        let top = &steps[layers - 1][t_last].h;
        let mut dh_above: Vec<Vec<f64>> = vec![vec![0.0; h]; x.len()];
        for r in 0..v {
            for j in 0..h {
                grad[d + r * h + j] += dlog[r] * top[j];
                dh_above[t_last][j] += self.w[d + r * h + j] * dlog[r];
            }
            grad[d + v * h + r] += dlog[r];
        }
        for l in (0..layers).rev() {
            let input = self.dims.input(l);
            let cols = input + h;
            let at = self.dims.layer_at(l);
            let mut dh_next = vec![0.0; h];
            let mut dc_next = vec![0.0; h];
            let mut below: Vec<Vec<f64>> = vec![vec![0.0; input]; x.len()];
            for t in (0..x.len()).rev() {
                let s = &steps[l][t];
                let mut dpre = vec![0.0; 4 * h];
                for j in 0..h {
                    let dh = dh_above[t][j] + dh_next[j];
                    let (i, f, g, o) = (
                        s.gates[j],
                        s.gates[h + j],
                        s.gates[2 * h + j],
                        s.gates[3 * h + j],
                    );
                    let tc = s.c[j].tanh();
                    let dc = dh * o * (1.0 - tc * tc) + dc_next[j];
                    dpre[j] = dc * g * i * (1.0 - i);
                    dpre[h + j] = dc * s.c_prev[j] * f * (1.0 - f);
                    dpre[2 * h + j] = dc * i * (1.0 - g * g);
                    dpre[3 * h + j] = dh * tc * o * (1.0 - o);
                    dc_next[j] = dc * f;
                }
                let mut dz = vec![0.0; cols];
                for (r, &dp) in dpre.iter().enumerate() {
                    if dp == 0.0 {
                        continue;
                    }
                    let row = at + r * cols;
                    for c in 0..cols {
                        grad[row + c] += dp * s.z[c];
                        dz[c] += self.w[row + c] * dp;
                    }
                    grad[at + 4 * h * cols + r] += dp;
                }
                below[t].copy_from_slice(&dz[..input]);
                dh_next.copy_from_slice(&dz[input..]);
            }
            if l == 0 {
                for (t, &tok) in x.iter().enumerate() {
                    let r = usize::from(tok) * e;
                    for c in 0..e {
                        grad[r + c] += below[t][c];
                    }
                }
            } else {
                dh_above = below;
            }
        }
        loss
    }
}

/// Adam (β1 0.9, β2 0.999, ε 1e-8).
pub(crate) struct Adam {
    lr: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// For `n` parameters at learning rate `lr`.
    pub(crate) fn new(n: usize, lr: f64) -> Adam {
        Adam {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One step along `grad` (already averaged over the batch).
    pub(crate) fn step(&mut self, w: &mut [f64], grad: &[f64]) {
        self.t += 1;
        let (b1, b2) = (0.9f64, 0.999f64);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        for i in 0..w.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad[i] * grad[i];
            w[i] -= self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

/// Trains `model` on `(window, next)` samples for `epochs` passes in minibatches of `batch`,
/// shuffled by `rng`; returns the mean loss of each epoch.
#[cfg(test)]
pub(crate) fn train<R: Rng>(
    model: &mut Lstm,
    samples: &[(Vec<Screen>, Screen)],
    epochs: usize,
    batch: usize,
    lr: f64,
    rng: &mut R,
) -> Vec<f64> {
    train_with(model, samples, epochs, batch, lr, rng, |_, _| {})
}

/// [`train`], calling `after_epoch(epoch, model)` after each epoch (for a learning curve).
pub(crate) fn train_with<R: Rng>(
    model: &mut Lstm,
    samples: &[(Vec<Screen>, Screen)],
    epochs: usize,
    batch: usize,
    lr: f64,
    rng: &mut R,
    mut after_epoch: impl FnMut(usize, &Lstm),
) -> Vec<f64> {
    let mut opt = Adam::new(model.w.len(), lr);
    let mut grad = vec![0.0; model.w.len()];
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut losses = Vec::new();
    for epoch in 0..epochs {
        for i in (1..order.len()).rev() {
            let j = (uniform(rng) * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for &i in chunk {
                let (x, y) = &samples[i];
                total += model.backward(x, *y, &mut grad);
            }
            let n = chunk.len() as f64;
            grad.iter_mut().for_each(|g| *g /= n);
            opt.step(&mut model.w, &grad);
        }
        losses.push(total / samples.len().max(1) as f64);
        after_epoch(epoch, model);
    }
    losses
}
