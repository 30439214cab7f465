//! Token choice from logits: argmax, temperature softmax, inverse-CDF sampling and the
//! Leviathan et al. (2023) verification step of speculative sampling. Pure functions of the
//! logits and the uniform draws passed in, so they are tested without llama.cpp.

/// Index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best
}

/// softmax(logits / temperature); temperature must be > 0.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = f64::from(temperature);
    let max = f64::from(logits[argmax(logits)]);
    let mut out: Vec<f64> = logits
        .iter()
        .map(|l| ((f64::from(*l) - max) / t).exp())
        .collect();
    let sum: f64 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= sum);
    out.into_iter().map(|p| p as f32).collect()
}

/// The largest probability of softmax(logits) at temperature 1: the draft's confidence that
/// llama.cpp compares with `p_min`.
pub fn top_probability(logits: &[f32]) -> f32 {
    let max = f64::from(logits[argmax(logits)]);
    let sum: f64 = logits.iter().map(|l| (f64::from(*l) - max).exp()).sum();
    (1.0 / sum) as f32
}

/// The index where the cumulative weight first exceeds `u` × total (weights need not sum to
/// one); `u` in [0, 1).
pub fn sample(weights: &[f32], u: f64) -> usize {
    let total: f64 = weights.iter().map(|w| f64::from(*w)).sum();
    let target = u * total;
    let mut acc = 0.0;
    let mut last_positive = 0;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            acc += f64::from(*w);
            last_positive = i;
            if acc > target {
                return i;
            }
        }
    }
    // Rounding left `target` at the very top: the last token with weight.
    last_positive
}

/// The outcome of verifying one drafted token.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The drafted token is kept.
    Accept,
    /// Rejected; the target's replacement token.
    Reject(usize),
}

/// Probability that speculative sampling accepts a drafted `x`: min(1, p(x) / q(x)).
pub fn acceptance_probability(p: &[f32], q: &[f32], x: usize) -> f64 {
    let (px, qx) = (f64::from(p[x]), f64::from(q[x]));
    if px >= qx { 1.0 } else { px / qx }
}

/// The residual distribution after a rejection, max(0, p - q), unnormalised.
pub fn residual(p: &[f32], q: &[f32]) -> Vec<f32> {
    p.iter().zip(q).map(|(p, q)| (p - q).max(0.0)).collect()
}

/// Leviathan et al.'s step for a token `x` drawn from the draft distribution `q`, with target
/// distribution `p`: accept if `u_accept` < p(x)/q(x), otherwise draw the replacement from
/// norm(max(0, p - q)) with `u_resample`. The output token is then distributed exactly as
/// `p`. A greedy draft is the case where `q` is a point mass on the drafted token.
pub fn verify_stochastic(
    p: &[f32],
    q: &[f32],
    x: usize,
    u_accept: f64,
    u_resample: f64,
) -> Verdict {
    if u_accept < acceptance_probability(p, q, x) {
        return Verdict::Accept;
    }
    let r = residual(p, q);
    if r.iter().any(|w| *w > 0.0) {
        Verdict::Reject(sample(&r, u_resample))
    } else {
        // p == q up to rounding, where rejection has probability ~0: fall back to p.
        Verdict::Reject(sample(p, u_resample))
    }
}

/// A point mass on `x` over `n` tokens.
pub fn point_mass(n: usize, x: usize) -> Vec<f32> {
    let mut q = vec![0.0; n];
    q[x] = 1.0;
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{named_stream, uniform};

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.0, 3.0, -1.0, 3.0]), 1);
        assert_eq!(argmax(&[-5.0]), 0);
    }

    #[test]
    fn softmax_normalises_and_temperature_sharpens() {
        let l = [1.0f32, 2.0, 3.0];
        let p = softmax(&l, 1.0);
        let e: Vec<f64> = l.iter().map(|x| f64::from(*x).exp()).collect();
        let s: f64 = e.iter().sum();
        for (pi, ei) in p.iter().zip(&e) {
            assert!((f64::from(*pi) - ei / s).abs() < 1e-7);
        }
        assert!((top_probability(&l) - p[2]).abs() < 1e-7);
        assert!(softmax(&l, 0.5)[2] > p[2]);
    }

    #[test]
    fn sample_inverts_the_cdf() {
        let w = [0.0f32, 1.0, 0.0, 3.0];
        assert_eq!(sample(&w, 0.0), 1);
        assert_eq!(sample(&w, 0.2499), 1);
        assert_eq!(sample(&w, 0.25), 3);
        assert_eq!(sample(&w, 0.999_999), 3);
    }

    /// Sum over drafts x ~ q of accept-or-resample gives back p exactly.
    #[test]
    fn verification_preserves_the_target_distribution_exactly() {
        let p = [0.5f32, 0.3, 0.2, 0.0];
        let q = [0.1f32, 0.6, 0.1, 0.2];
        let r = residual(&p, &q);
        let r_sum: f32 = r.iter().sum();
        let mut out = [0.0f64; 4];
        for x in 0..4 {
            let a = acceptance_probability(&p, &q, x);
            out[x] += f64::from(q[x]) * a;
            for (y, ry) in r.iter().enumerate() {
                out[y] += f64::from(q[x]) * (1.0 - a) * f64::from(ry / r_sum);
            }
        }
        for (o, pi) in out.iter().zip(p) {
            assert!((o - f64::from(pi)).abs() < 1e-6, "{out:?} vs {p:?}");
        }
        // The acceptance rate is 1 - TV(p, q) = sum min(p, q).
        let rate: f64 = (0..4)
            .map(|x| f64::from(q[x]) * acceptance_probability(&p, &q, x))
            .sum();
        assert!((rate - 0.5).abs() < 1e-6);
    }

    /// The same through `verify_stochastic` with seeded draws: frequencies within 4 standard
    /// errors of p, for a greedy (point-mass) draft.
    #[test]
    fn greedy_draft_rejection_sampling_outputs_the_target_distribution() {
        let p = softmax(&[2.0, 1.0, 0.5, -1.0], 1.0);
        let x = 0; // the draft's argmax
        let q = point_mass(p.len(), x);
        let mut rng = named_stream(7, "verify");
        let n = 200_000;
        let mut counts = [0u32; 4];
        let mut accepted = 0u32;
        for _ in 0..n {
            match verify_stochastic(&p, &q, x, uniform(&mut rng), uniform(&mut rng)) {
                Verdict::Accept => {
                    accepted += 1;
                    counts[x] += 1;
                }
                Verdict::Reject(y) => {
                    assert_ne!(y, x, "a rejected point-mass draft is never resampled");
                    counts[y] += 1;
                }
            }
        }
        for (c, pi) in counts.iter().zip(&p) {
            let pi = f64::from(*pi);
            let se = (pi * (1.0 - pi) / f64::from(n)).sqrt();
            assert!(
                (f64::from(*c) / f64::from(n) - pi).abs() < 4.0 * se,
                "{counts:?} {p:?}"
            );
        }
        let px = f64::from(p[x]);
        let se = (px * (1.0 - px) / f64::from(n)).sqrt();
        assert!((f64::from(accepted) / f64::from(n) - px).abs() < 4.0 * se);
    }
}
