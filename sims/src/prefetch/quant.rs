//! Inference copies of the trained LSTM: float32, and int8 with dynamic range quantization
//! (what TFLite's `Optimize.DEFAULT` does): weights stored as int8 with one float32 scale per
//! output row; at run time each input vector is quantized to int8 with its own scale, dot
//! products accumulate in i32 and are scaled back to float. Both serialize to bytes whose
//! length [`super::size`] gives by arithmetic.

use super::generator::Screen;
use super::lstm::{Dims, Lstm};
use super::ngram::Predict;
use super::size::HEADER_BYTES;

/// A matrix, row-major, float32 or int8 with per-row scales.
#[derive(Debug, Clone, PartialEq)]
enum Mat {
    F32(Vec<f32>),
    I8 { q: Vec<i8>, scale: Vec<f32> },
}

/// One matrix with its shape.
#[derive(Debug, Clone, PartialEq)]
struct Matrix {
    rows: usize,
    cols: usize,
    m: Mat,
}

impl Matrix {
    fn new(w: &[f64], rows: usize, cols: usize, int8: bool) -> Matrix {
        let f: Vec<f32> = w.iter().map(|&x| x as f32).collect();
        if !int8 {
            return Matrix {
                rows,
                cols,
                m: Mat::F32(f),
            };
        }
        let mut q = Vec::with_capacity(rows * cols);
        let mut scale = Vec::with_capacity(rows);
        for r in 0..rows {
            let row = &f[r * cols..(r + 1) * cols];
            let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scale.push(s);
            q.extend(
                row.iter()
                    .map(|x| (x / s).round().clamp(-127.0, 127.0) as i8),
            );
        }
        Matrix {
            rows,
            cols,
            m: Mat::I8 { q, scale },
        }
    }

    /// `out[r] = row_r · x + bias[r]`; int8 quantizes `x` on the fly.
    fn matvec(&self, x: &[f32], bias: &[f32], out: &mut [f32], xq: &mut Vec<i8>) {
        match &self.m {
            Mat::F32(w) => {
                for r in 0..self.rows {
                    let row = &w[r * self.cols..(r + 1) * self.cols];
                    out[r] = row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + bias[r];
                }
            }
            Mat::I8 { q, scale } => {
                let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let sx = if max > 0.0 { max / 127.0 } else { 1.0 };
                xq.clear();
                xq.extend(x.iter().map(|v| (v / sx).round() as i8));
                for r in 0..self.rows {
                    let row = &q[r * self.cols..(r + 1) * self.cols];
                    let acc: i32 = row
                        .iter()
                        .zip(xq.iter())
                        .map(|(&a, &b)| i32::from(a) * i32::from(b))
                        .sum();
                    out[r] = acc as f32 * scale[r] * sx + bias[r];
                }
            }
        }
    }

    /// Row `r` as float (the embedding lookup).
    fn row(&self, r: usize, out: &mut [f32]) {
        match &self.m {
            Mat::F32(w) => out.copy_from_slice(&w[r * self.cols..(r + 1) * self.cols]),
            Mat::I8 { q, scale } => {
                for (o, &v) in out.iter_mut().zip(&q[r * self.cols..(r + 1) * self.cols]) {
                    *o = f32::from(v) * scale[r];
                }
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match &self.m {
            Mat::F32(w) => w
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Mat::I8 { q, scale } => {
                out.extend(q.iter().map(|&x| x as u8));
                scale
                    .iter()
                    .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            }
        }
    }
}

/// An inference model (float32 or int8).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Model {
    dims: Dims,
    int8: bool,
    emb: Matrix,
    layers: Vec<(Matrix, Vec<f32>)>,
    dense: Matrix,
    dense_bias: Vec<f32>,
}

fn f32s(w: &[f64]) -> Vec<f32> {
    w.iter().map(|&x| x as f32).collect()
}

impl Model {
    /// The trained weights, as float32 or quantized to int8.
    pub(crate) fn export(m: &Lstm, int8: bool) -> Model {
        let d = m.dims;
        let emb = Matrix::new(&m.w[..d.v * d.e], d.v, d.e, int8);
        let layers = (0..d.layers)
            .map(|l| {
                let at = d.layer_at(l);
                let cols = d.input(l) + d.h;
                let n = 4 * d.h * cols;
                (
                    Matrix::new(&m.w[at..at + n], 4 * d.h, cols, int8),
                    f32s(&m.w[at + n..at + n + 4 * d.h]),
                )
            })
            .collect();
        let at = d.dense_at();
        Model {
            dims: d,
            int8,
            emb,
            layers,
            dense: Matrix::new(&m.w[at..at + d.v * d.h], d.v, d.h, int8),
            dense_bias: f32s(&m.w[at + d.v * d.h..]),
        }
    }

    /// The next-screen logits after `x` into `out` (v wide).
    pub(crate) fn logits(&self, x: &[Screen], out: &mut [f32]) {
        let Dims { e, h, .. } = self.dims;
        let mut xq = Vec::new();
        let mut below: Vec<Vec<f32>> = x
            .iter()
            .map(|&t| {
                let mut r = vec![0.0; e];
                self.emb.row(usize::from(t), &mut r);
                r
            })
            .collect();
        let mut gates = vec![0.0f32; 4 * h];
        let mut z = Vec::with_capacity(e.max(h) + h);
        for (w, b) in &self.layers {
            let (mut hs, mut cs) = (vec![0.0f32; h], vec![0.0f32; h]);
            for inp in below.iter_mut() {
                z.clear();
                z.extend_from_slice(inp);
                z.extend_from_slice(&hs);
                w.matvec(&z, b, &mut gates, &mut xq);
                for j in 0..h {
                    let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
                    let (i, f, g, o) = (
                        sig(gates[j]),
                        sig(gates[h + j]),
                        gates[2 * h + j].tanh(),
                        sig(gates[3 * h + j]),
                    );
                    cs[j] = f * cs[j] + i * g;
                    hs[j] = o * cs[j].tanh();
                }
                inp.clear();
                inp.extend_from_slice(&hs);
            }
        }
        let top = below.last().expect("a non-empty window");
        self.dense.matvec(top, &self.dense_bias, out, &mut xq);
    }

    /// The serialized model: a header, then every matrix (int8 with scales, or float32) and
    /// every bias vector (float32), little-endian.
    pub(crate) fn serialize(&self) -> Vec<u8> {
        let d = self.dims;
        let mut out = Vec::new();
        for x in [
            0x5046_4c4d,
            1,
            d.v,
            d.e,
            d.h,
            d.layers,
            usize::from(self.int8),
        ] {
            out.extend_from_slice(&(x as u32).to_le_bytes());
        }
        debug_assert_eq!(out.len(), HEADER_BYTES);
        self.emb.write(&mut out);
        for (w, b) in &self.layers {
            w.write(&mut out);
            b.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
        self.dense.write(&mut out);
        self.dense_bias
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        out
    }
}

/// Top-k from logits, highest first (ties by screen).
pub(crate) fn top_k(logits: &[f32], k: usize, out: &mut Vec<Screen>) {
    out.clear();
    for _ in 0..k.min(logits.len()) {
        let mut best: Option<usize> = None;
        for (i, &l) in logits.iter().enumerate() {
            if out.contains(&(i as Screen)) {
                continue;
            }
            if best.is_none_or(|b| l > logits[b]) {
                best = Some(i);
            }
        }
        if let Some(b) = best {
            out.push(b as Screen);
        }
    }
}

impl Predict for Model {
    fn top(&self, history: &[Screen], k: usize, out: &mut Vec<Screen>) {
        let mut logits = vec![0.0f32; self.dims.v];
        self.logits(history, &mut logits);
        top_k(&logits, k, out);
    }
}
