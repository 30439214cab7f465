//! `lab ab`: the A/B calculators people use before and during an experiment. Every argument
//! is validated; the formula used is printed with the answer.

use sims::ab_testing::boundaries::{Design, boundaries, crossing_probs, phi_cdf, z_quantile};
use sims::ab_testing::closed_form::{n_per_arm_mean, n_per_arm_proportions, n_per_arm_t};

use crate::cli::AbCommand;
use crate::error::{LabError, exit_code};
use crate::outln;

fn open_unit(name: &str, v: f64) -> Result<(), LabError> {
    if v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(LabError::bad(format!(
            "--{name} {v}: expected a value strictly between 0 and 1"
        )))
    }
}

fn thousands(n: f64) -> String {
    if n.is_nan() || n >= 1e15 {
        return format!("{n:.3e}");
    }
    let s = format!("{}", n as u64);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `lab ab ...`.
pub fn run(cmd: &AbCommand) -> Result<u8, LabError> {
    match cmd {
        AbCommand::SampleSize {
            cv,
            lift,
            power,
            alpha,
            baseline_rate,
        } => {
            open_unit("power", *power)?;
            open_unit("alpha", *alpha)?;
            if !(lift.is_finite() && *lift != 0.0 && *lift > -1.0) {
                return Err(LabError::bad(format!(
                    "--lift {lift}: expected a non-zero relative lift greater than -1 (0.10 means +10%)"
                )));
            }
            let za = z_quantile(1.0 - alpha / 2.0);
            let zb = z_quantile(*power);
            if let Some(p1) = baseline_rate {
                open_unit("baseline-rate", *p1)?;
                let p2 = p1 * (1.0 + lift);
                if !(p2 > 0.0 && p2 < 1.0) {
                    return Err(LabError::bad(format!(
                        "--baseline-rate {p1} with --lift {lift} gives a rate of {p2}: expected it inside (0, 1)"
                    )));
                }
                let n = n_per_arm_proportions(*p1, p2, *alpha, *power);
                outln!("n per arm: {} (conversion {p1} -> {p2:.6})", thousands(n));
                outln!("formula:   Fleiss, pooled variance under H0, no continuity correction:");
                outln!(
                    "           n = [z(1-a/2) sqrt(2 pbar qbar) + z(power) sqrt(p1 q1 + p2 q2)]^2 / (p2 - p1)^2"
                );
                outln!(
                    "           z(1-a/2) = {za:.4}, z(power) = {zb:.4}, pbar = {:.6}",
                    (p1 + p2) / 2.0
                );
            } else {
                let cv = cv.expect("clap requires --cv without --baseline-rate");
                if !(cv.is_finite() && cv > 0.0) {
                    return Err(LabError::bad(format!(
                        "--cv {cv}: expected a coefficient of variation > 0"
                    )));
                }
                let n_t = n_per_arm_t(cv, *lift, *alpha, *power);
                let n_z = n_per_arm_mean(cv, *lift, *alpha, *power);
                outln!(
                    "n per arm: {} (two-sample t-test, equal SDs)",
                    thousands(n_t)
                );
                outln!(
                    "formula:   n = 2 (z(1-a/2) + z(power))^2 CV^2 / lift^2 = {} (normal approximation);",
                    thousands(n_z)
                );
                outln!(
                    "           t quantiles at df = 2n - 2, iterated, give {}",
                    thousands(n_t)
                );
                outln!(
                    "           z(1-a/2) = {za:.4}, z(power) = {zb:.4}, CV = {cv}, lift = {lift}"
                );
            }
            Ok(exit_code::OK)
        }
        AbCommand::Boundaries {
            looks,
            design,
            alpha,
        } => {
            open_unit("alpha", *alpha)?;
            if *looks == 0 || *looks > 200 {
                return Err(LabError::bad(format!(
                    "--looks {looks}: expected 1 to 200 looks"
                )));
            }
            let d = match design.as_str() {
                "obf" => Design::Obf,
                "pocock" => Design::Pocock,
                "ld-obf" | "ld_obf" => Design::LdObf,
                "peeking" => Design::Peeking,
                "fixed" => Design::Fixed,
                other => {
                    return Err(LabError::bad(format!(
                        "--design {other}: expected obf, pocock, ld-obf, peeking or fixed"
                    )));
                }
            };
            let b = boundaries(d, *looks, *alpha);
            let cross = crossing_probs(&b);
            outln!("design {design}, {looks} equally spaced looks, two-sided alpha {alpha}");
            if d == Design::LdObf {
                outln!(
                    "spending: Lan-DeMets O'Brien-Fleming type, per-side convention: alpha(t) = 2 [2 - 2 Phi(z(1-a/4) / sqrt t)]"
                );
            }
            outln!(
                "{:>5} {:>12} {:>10} {:>14} {:>17}",
                "look",
                "information",
                "|z| bound",
                "nominal p",
                "cumulative alpha"
            );
            let mut cum = 0.0;
            for (i, (bound, c)) in b.iter().zip(&cross).enumerate() {
                cum += c;
                let t = (i + 1) as f64 / *looks as f64;
                if bound.is_finite() {
                    outln!(
                        "{:>5} {:>12.3} {:>10.4} {:>14.6} {:>17.6}",
                        i + 1,
                        t,
                        bound,
                        2.0 * (1.0 - phi_cdf(*bound)),
                        cum
                    );
                } else {
                    outln!(
                        "{:>5} {:>12.3} {:>10} {:>14} {:>17.6}",
                        i + 1,
                        t,
                        "-",
                        "-",
                        cum
                    );
                }
            }
            Ok(exit_code::OK)
        }
    }
}
