//! `lab ab`: the calculators people use before and during an experiment. Every argument is
//! validated; the formula used is printed with the answer.

use std::io::Write;

use super::boundaries::{Design, boundaries, crossing_probs, phi_cdf, z_quantile};
use super::closed_form::{n_per_arm_mean, n_per_arm_proportions, n_per_arm_t};
use crate::tool::{ArgValue, Choice, Tool, ToolArg, ToolArgs, ToolCommand, ToolError};

/// The room's tools: `lab ab sample-size` and `lab ab boundaries`.
pub(super) const TOOLS: &[Tool] = &[Tool {
    name: "ab",
    about: "A/B test calculators: sample size and group-sequential boundaries",
    commands: &[
        ToolCommand {
            name: "sample-size",
            about: "Users per arm to detect a relative lift (on a metric with a CV, or on a conversion rate)",
            long_about: "",
            args: &[
                ToolArg::new(
                    "cv",
                    ArgValue::Number,
                    "Coefficient of variation of the metric (SD / mean), e.g. 3 for revenue per user.",
                )
                .required_unless("baseline-rate"),
                ToolArg::new(
                    "lift",
                    ArgValue::Number,
                    "Relative lift to detect, e.g. 0.10 for +10%.",
                )
                .required(),
                ToolArg::new("power", ArgValue::Number, "Power, in (0, 1).").default("0.8"),
                ToolArg::new(
                    "alpha",
                    ArgValue::Number,
                    "Two-sided significance level, in (0, 1).",
                )
                .default("0.05"),
                ToolArg::new(
                    "baseline-rate",
                    ArgValue::Number,
                    "Baseline conversion rate: size a test on conversion instead (Fleiss formula).",
                )
                .conflicts_with("cv"),
            ],
            run: sample_size,
        },
        ToolCommand {
            name: "boundaries",
            about: "Critical values of a group-sequential design with equally spaced looks",
            long_about: "",
            args: &[
                ToolArg::new("looks", ArgValue::Count, "Number of looks (1 to 200).").required(),
                ToolArg::new("design", ArgValue::Choice(DESIGNS), "The design.").default("obf"),
                ToolArg::new(
                    "alpha",
                    ArgValue::Number,
                    "Two-sided significance level, in (0, 1).",
                )
                .default("0.05"),
            ],
            run: run_boundaries,
        },
    ],
}];

const DESIGNS: &[Choice] = &[
    Choice::new("obf", "O'Brien-Fleming"),
    Choice::new("pocock", "Pocock"),
    Choice::new(
        "ld-obf",
        "Lan-DeMets O'Brien-Fleming type spending, per side",
    )
    .aliases(&["ld_obf"]),
    Choice::new("peeking", "an unadjusted test at every look"),
    Choice::new("fixed", "one test at the end"),
];

fn open_unit(name: &str, v: f64) -> Result<(), ToolError> {
    if v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(ToolError::BadInput(format!(
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

fn sample_size(args: &ToolArgs, out: &mut dyn Write) -> Result<(), ToolError> {
    let lift = ToolArgs::require(args.number("lift")?, "lift")?;
    let power = ToolArgs::require(args.number("power")?, "power")?;
    let alpha = ToolArgs::require(args.number("alpha")?, "alpha")?;
    open_unit("power", power)?;
    open_unit("alpha", alpha)?;
    if !(lift.is_finite() && lift != 0.0 && lift > -1.0) {
        return Err(ToolError::BadInput(format!(
            "--lift {lift}: expected a non-zero relative lift greater than -1 (0.10 means +10%)"
        )));
    }
    let za = z_quantile(1.0 - alpha / 2.0);
    let zb = z_quantile(power);
    if let Some(p1) = args.number("baseline-rate")? {
        open_unit("baseline-rate", p1)?;
        let p2 = p1 * (1.0 + lift);
        if !(p2 > 0.0 && p2 < 1.0) {
            return Err(ToolError::BadInput(format!(
                "--baseline-rate {p1} with --lift {lift} gives a rate of {p2}: expected it inside (0, 1)"
            )));
        }
        let n = n_per_arm_proportions(p1, p2, alpha, power);
        writeln!(
            out,
            "n per arm: {} (conversion {p1} -> {p2:.6})",
            thousands(n)
        )?;
        writeln!(
            out,
            "formula:   Fleiss, pooled variance under H0, no continuity correction:"
        )?;
        writeln!(
            out,
            "           n = [z(1-a/2) sqrt(2 pbar qbar) + z(power) sqrt(p1 q1 + p2 q2)]^2 / (p2 - p1)^2"
        )?;
        writeln!(
            out,
            "           z(1-a/2) = {za:.4}, z(power) = {zb:.4}, pbar = {:.6}",
            (p1 + p2) / 2.0
        )?;
    } else {
        let cv = ToolArgs::require(args.number("cv")?, "cv")?;
        if !(cv.is_finite() && cv > 0.0) {
            return Err(ToolError::BadInput(format!(
                "--cv {cv}: expected a coefficient of variation > 0"
            )));
        }
        let n_t = n_per_arm_t(cv, lift, alpha, power);
        let n_z = n_per_arm_mean(cv, lift, alpha, power);
        writeln!(
            out,
            "n per arm: {} (two-sample t-test, equal SDs)",
            thousands(n_t)
        )?;
        writeln!(
            out,
            "formula:   n = 2 (z(1-a/2) + z(power))^2 CV^2 / lift^2 = {} (normal approximation);",
            thousands(n_z)
        )?;
        writeln!(
            out,
            "           t quantiles at df = 2n - 2, iterated, give {}",
            thousands(n_t)
        )?;
        writeln!(
            out,
            "           z(1-a/2) = {za:.4}, z(power) = {zb:.4}, CV = {cv}, lift = {lift}"
        )?;
    }
    Ok(())
}

fn run_boundaries(args: &ToolArgs, out: &mut dyn Write) -> Result<(), ToolError> {
    let looks = ToolArgs::require(args.count("looks")?, "looks")?;
    let alpha = ToolArgs::require(args.number("alpha")?, "alpha")?;
    let design = ToolArgs::require(args.text("design"), "design")?;
    open_unit("alpha", alpha)?;
    if looks == 0 || looks > 200 {
        return Err(ToolError::BadInput(format!(
            "--looks {looks}: expected 1 to 200 looks"
        )));
    }
    let d = match design {
        "obf" => Design::Obf,
        "pocock" => Design::Pocock,
        "ld-obf" | "ld_obf" => Design::LdObf,
        "peeking" => Design::Peeking,
        "fixed" => Design::Fixed,
        other => {
            return Err(ToolError::BadInput(format!(
                "--design {other}: expected obf, pocock, ld-obf, peeking or fixed"
            )));
        }
    };
    let b = boundaries(d, looks, alpha);
    let cross = crossing_probs(&b);
    writeln!(
        out,
        "design {design}, {looks} equally spaced looks, two-sided alpha {alpha}"
    )?;
    if d == Design::LdObf {
        writeln!(
            out,
            "spending: Lan-DeMets O'Brien-Fleming type, per-side convention: alpha(t) = 2 [2 - 2 Phi(z(1-a/4) / sqrt t)]"
        )?;
    }
    writeln!(
        out,
        "{:>5} {:>12} {:>10} {:>14} {:>17}",
        "look", "information", "|z| bound", "nominal p", "cumulative alpha"
    )?;
    let mut cum = 0.0;
    for (i, (bound, c)) in b.iter().zip(&cross).enumerate() {
        cum += c;
        let t = (i + 1) as f64 / looks as f64;
        if bound.is_finite() {
            writeln!(
                out,
                "{:>5} {:>12.3} {:>10.4} {:>14.6} {:>17.6}",
                i + 1,
                t,
                bound,
                2.0 * (1.0 - phi_cdf(*bound)),
                cum
            )?;
        } else {
            writeln!(
                out,
                "{:>5} {:>12.3} {:>10} {:>14} {:>17.6}",
                i + 1,
                t,
                "-",
                "-",
                cum
            )?;
        }
    }
    Ok(())
}
