//! Numbers for people: one place that decides how a value is printed in the terminal, in
//! reasons, in reports and in compare. Raw scientific notation is for CSV, JSON and Parquet
//! only; here a number gets an SI prefix, a unit people think in (percent for a fraction,
//! minutes for 4,270 s, dollars for `usd`), and as many digits as its uncertainty supports.

/// Formats a bare number: up to 4 significant digits, no trailing zeros, an SI prefix from
/// 10,000 up (`14.37 M`), powers of ten written out below 0.001 (`2.3×10⁻⁵`).
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return infinite(v);
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if a >= 1e4 {
        let (factor, prefix) = si_prefix(a);
        return format!("{} {prefix}", sig(v / factor, 4))
            .trim_end()
            .to_string();
    }
    if a < 1e-3 {
        return tiny(v);
    }
    sig(v, 4)
}

/// Formats a quantity in its unit as a person would write it: `0.0023 %` for a fraction of
/// 2.3e-5, `71.2 min` for 4,270 s, `$1.21/month` for 1.21 `usd/month`, `14.4 M traces/day`.
pub fn fmt_qty(v: f64, unit: &str) -> String {
    let s = Scale::of(unit, v.abs());
    s.show(&sig(v / s.factor, 4))
}

/// [`fmt_qty`] without a unit word (`720 k` for `traces/day`), as beside an estimate that
/// names it; units written as symbols stay (`77 %`, `71.17 min`, `$1.21`).
pub fn fmt_qty_short(v: f64, unit: &str) -> String {
    let s = Scale::of(unit, v.abs());
    s.show_short(&sig(v / s.factor, 4)).trim_end().to_string()
}

/// Formats an estimate with its 95% interval in one scale, with the digits the interval's
/// width supports: `879 k [785 k, 974 k] traces`, `12.3 [11.9, 12.8] %`.
pub fn fmt_est(mean: f64, ci: [f64; 2], unit: &str) -> String {
    if !(mean.is_finite() && ci[0].is_finite() && ci[1].is_finite()) {
        return format!(
            "{} [{}, {}]",
            fmt_qty(mean, unit),
            fmt_qty(ci[0], unit),
            fmt_qty(ci[1], unit)
        );
    }
    let biggest = mean.abs().max(ci[0].abs()).max(ci[1].abs());
    let s = Scale::of(unit, biggest);
    let half = (ci[1] - ci[0]).abs() / 2.0 / s.factor;
    let decimals = if half > 0.0 {
        // Two significant digits of the half-width; never more than 4 of the mean.
        let by_ci = 1 - half.log10().floor() as i32;
        let by_mean = if mean != 0.0 {
            3 - (mean.abs() / s.factor).log10().floor() as i32
        } else {
            by_ci
        };
        by_ci.min(by_mean.max(0)).max(0) as usize
    } else {
        return format!("{} (exact)", fmt_qty(mean, unit));
    };
    // Trailing zeros stay: they say how much the interval supports.
    let f = |x: f64| {
        let t = format!("{:.decimals$}", x / s.factor);
        if t.trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            "0".to_string()
        } else {
            t
        }
    };
    let end = |x: f64| s.show_short(&f(x)).trim_end().to_string();
    format!("{} [{}, {}]", s.show(&f(mean)), end(ci[0]), end(ci[1]))
}

/// Formats an interval in one scale, its unit written once: `[98.73 %, 99.52 %]`,
/// `[785 k, 974 k] traces/day`, `≤ 2 s` when one end is open.
pub fn fmt_interval(lo: f64, hi: f64, unit: &str) -> String {
    match (lo.is_finite(), hi.is_finite()) {
        (false, true) => return format!("≤ {}", fmt_qty(hi, unit)),
        (true, false) => return format!("≥ {}", fmt_qty(lo, unit)),
        (false, false) => return format!("[{}, {}]", infinite(lo), infinite(hi)),
        (true, true) => {}
    }
    let s = Scale::of(unit, lo.abs().max(hi.abs()));
    let end = |x: f64, digits: i32| {
        s.show_short(&sig(x / s.factor, digits))
            .trim_end()
            .to_string()
    };
    // Four significant digits, more when that would print two different ends alike; ends
    // apart by rounding error alone (a deterministic metric's interval) print alike.
    let alike = (hi - lo).abs() <= 1e-6 * lo.abs().max(hi.abs());
    let digits = (4..=9)
        .find(|&d| alike || end(lo, d) != end(hi, d))
        .unwrap_or(9);
    // The unit word the ends leave out (`traces/day`, `/month`), once after the bracket.
    let word = s.show("1");
    let word = word
        .strip_prefix(s.show_short("1").as_str())
        .unwrap_or("")
        .trim();
    let tail = match word {
        "" => String::new(),
        w if w.starts_with('/') => w.to_string(),
        w => format!(" {w}"),
    };
    format!("[{}, {}]{tail}", end(lo, digits), end(hi, digits))
}

/// A p-value to 2 significant digits (`0.032`, `< 0.0001`).
pub fn fmt_p(p: f64) -> String {
    if !p.is_finite() {
        return "-".to_string();
    }
    if p < 1e-4 {
        return "< 0.0001".to_string();
    }
    sig(p, 2)
}

/// How a unit is shown: a factor to divide by, and text before and after the number.
struct Scale {
    factor: f64,
    /// Before the digits: `$` for money.
    prefix_sign: &'static str,
    /// Right after the digits, also on interval ends: an SI prefix, `%`, `min`, `GB`.
    short: String,
    /// After that, on the estimate only: `traces/day`, `/month`.
    unit: String,
}

impl Scale {
    fn of(unit: &str, magnitude: f64) -> Scale {
        let plain = |factor: f64, short: String, unit: &str| Scale {
            factor,
            prefix_sign: "",
            short,
            unit: unit.to_string(),
        };
        let si = |m: f64| if m >= 1e4 { si_prefix(m) } else { (1.0, "") };
        // Below 0.001 a plain unit counts in powers of ten (a multiple of 3): `23.7×10⁻⁶`.
        let small = |m: f64| -> Option<(f64, String)> {
            (m > 0.0 && m < 1e-3).then(|| {
                let e = (m.log10().floor() as i32).div_euclid(3) * 3;
                (10f64.powi(e), power_of_ten(e))
            })
        };
        match unit {
            "fraction" => plain(0.01, "%".into(), ""),
            "%" => plain(1.0, "%".into(), ""),
            "s" => time_scale(magnitude),
            "ms" => {
                let mut t = time_scale(magnitude / 1e3);
                t.factor *= 1e3;
                t
            }
            "MB" | "GB" | "bytes" | "B" => {
                let base = match unit {
                    "MB" => 1e6,
                    "GB" => 1e9,
                    _ => 1.0,
                };
                let (f, p) = byte_prefix(magnitude * base);
                plain(f / base, format!("{p}B"), "")
            }
            u if u == "usd" || u.starts_with("usd/") => {
                let (f, p) = si(magnitude);
                Scale {
                    factor: f,
                    prefix_sign: "$",
                    short: p.to_string(),
                    unit: u.strip_prefix("usd").unwrap_or("").to_string(),
                }
            }
            u => match small(magnitude) {
                Some((f, p)) => Scale {
                    factor: f,
                    prefix_sign: "",
                    short: p,
                    unit: u.to_string(),
                },
                None => {
                    let (f, p) = si(magnitude);
                    plain(f, p.to_string(), u)
                }
            },
        }
    }

    /// The digits with the sign, the prefix and the unit: `14.4 M traces/day`, `$1.2/month`.
    fn show(&self, number: &str) -> String {
        let short = self.show_short(number);
        match self.unit.as_str() {
            "" => short,
            u if u.starts_with('/') => format!("{short}{u}"),
            u if self.short.is_empty() || self.prefix_sign == "$" => format!("{short} {u}"),
            u => format!("{short}{u}"),
        }
    }

    /// The digits with the sign and the prefix only, as an interval's ends are shown.
    fn show_short(&self, number: &str) -> String {
        let (sign, digits) = match number.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("", number),
        };
        let gap = if self.short.is_empty() || self.prefix_sign == "$" || self.short.starts_with('×')
        {
            ""
        } else {
            " "
        };
        let tail = if self.prefix_sign.is_empty() && !self.short.is_empty() && !self.unit.is_empty()
        {
            " "
        } else {
            ""
        };
        format!(
            "{sign}{}{digits}{gap}{}{tail}",
            self.prefix_sign, self.short
        )
    }
}

/// Seconds as µs, ms, s, min, h or days, whichever reads best.
fn time_scale(secs: f64) -> Scale {
    let (factor, unit) = match secs {
        s if s < 1e-3 && s > 0.0 => (1e-6, "µs"),
        s if s < 1.0 && s > 0.0 => (1e-3, "ms"),
        s if s < 120.0 => (1.0, "s"),
        s if s < 7200.0 => (60.0, "min"),
        s if s < 2.0 * 86400.0 => (3600.0, "h"),
        _ => (86400.0, "days"),
    };
    Scale {
        factor,
        prefix_sign: "",
        short: unit.to_string(),
        unit: String::new(),
    }
}

fn si_prefix(a: f64) -> (f64, &'static str) {
    match a {
        a if a >= 1e15 => (1e15, "P"),
        a if a >= 1e12 => (1e12, "T"),
        a if a >= 1e9 => (1e9, "G"),
        a if a >= 1e6 => (1e6, "M"),
        a if a >= 1e3 => (1e3, "k"),
        _ => (1.0, ""),
    }
}

fn byte_prefix(bytes: f64) -> (f64, &'static str) {
    match bytes {
        b if b >= 1e12 => (1e12, "T"),
        b if b >= 1e9 => (1e9, "G"),
        b if b >= 1e6 => (1e6, "M"),
        b if b >= 1e3 => (1e3, "k"),
        _ => (1.0, ""),
    }
}

/// `v` to `digits` significant digits, no trailing zeros, never in exponent form.
fn sig(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { infinite(v) };
    }
    let decimals = (digits - 1 - v.abs().log10().floor() as i32).max(0) as usize;
    trim(format!("{v:.decimals$}"))
}

fn trim(s: String) -> String {
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}

/// A tiny number with its power of ten written out: `2.3×10⁻⁵`.
fn tiny(v: f64) -> String {
    let exp = v.abs().log10().floor() as i32;
    let mantissa = v / 10f64.powi(exp);
    format!("{}{}", sig(mantissa, 3), power_of_ten(exp))
}

/// `×10⁻⁶` for -6.
fn power_of_ten(exp: i32) -> String {
    let sup: String = exp
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => "⁰¹²³⁴⁵⁶⁷⁸⁹"
                .chars()
                .nth(d.to_digit(10).unwrap_or(0) as usize)
                .unwrap_or('⁰'),
        })
        .collect();
    format!("×10{sup}")
}

fn infinite(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v > 0.0 {
        "∞".into()
    } else {
        "-∞".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_never_use_exponents() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.1), "0.1");
        assert_eq!(fmt_num(2.0 / 3.0), "0.6667");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(14_370_000.0), "14.37 M");
        assert_eq!(fmt_num(-52_000.0), "-52 k");
        assert_eq!(fmt_num(2.299e-5), "2.3×10⁻⁵");
        assert_eq!(fmt_num(f64::INFINITY), "∞");
        assert_eq!(fmt_num(f64::NEG_INFINITY), "-∞");
        for v in [1e-12, 3.3e-7, 5.519e8, 1e300, -7.068e-4] {
            assert!(!fmt_num(v).contains('e'), "{v} -> {}", fmt_num(v));
        }
    }

    #[test]
    fn intervals_share_one_scale_and_name_the_unit_once() {
        assert_eq!(
            fmt_interval(0.9873, 0.9952, "fraction"),
            "[98.73 %, 99.52 %]"
        );
        assert_eq!(
            fmt_interval(784_586.0, 973_654.0, "traces/day"),
            "[784.6 k, 973.7 k] traces/day"
        );
        assert_eq!(fmt_interval(3.0, 5.0, "s"), "[3 s, 5 s]");
        assert_eq!(
            fmt_interval(14_399_800.0, 14_400_300.0, "traces/day"),
            "[14.3998 M, 14.4003 M] traces/day"
        );
        assert_eq!(fmt_interval(1.2, 1.5, "usd/month"), "[$1.2, $1.5]/month");
        assert_eq!(fmt_interval(f64::NEG_INFINITY, 0.1, "fraction"), "≤ 10 %");
        assert_eq!(fmt_interval(2.0, f64::INFINITY, "s"), "≥ 2 s");
        assert_eq!(fmt_interval(1.0, 2.0, ""), "[1, 2]");
        // A deterministic metric's interval, its ends apart by rounding only.
        assert_eq!(
            fmt_interval(10.678148512, 10.678148519, "tok/s"),
            "[10.68, 10.68] tok/s"
        );
    }

    #[test]
    fn quantities_read_in_units_people_use() {
        assert_eq!(fmt_qty(2.3e-5, "fraction"), "0.0023 %");
        assert_eq!(fmt_qty(0.77, "fraction"), "77 %");
        assert_eq!(fmt_qty(4270.0, "s"), "71.17 min");
        assert_eq!(fmt_qty(0.0042, "s"), "4.2 ms");
        assert_eq!(fmt_qty(90.0, "s"), "90 s");
        assert_eq!(fmt_qty(1.5e6, "s"), "17.36 days");
        assert_eq!(fmt_qty(850.0, "ms"), "850 ms");
        assert_eq!(fmt_qty(12_000.0, "ms"), "12 s");
        assert_eq!(fmt_qty(1.21, "usd/month"), "$1.21/month");
        assert_eq!(fmt_qty(14_400.0, "usd/month"), "$14.4k/month");
        assert_eq!(fmt_qty(-3.5, "usd"), "-$3.5");
        assert_eq!(
            fmt_est(1.21, [1.1, 1.3], "usd/month"),
            "$1.21/month [$1.10, $1.30]"
        );
        assert_eq!(fmt_qty(14.4e6, "traces/day"), "14.4 M traces/day");
        assert_eq!(fmt_qty(7.8, "tok/s"), "7.8 tok/s");
        assert_eq!(fmt_qty(119_000.0, "MB"), "119 GB");
        assert_eq!(fmt_qty(0.5, "MB"), "500 kB");
        assert_eq!(fmt_qty(12.0, "%"), "12 %");
        assert_eq!(fmt_est(-16.0, [-71.0, 149.0], "%"), "-16 % [-71 %, 149 %]");
        assert_eq!(fmt_qty(3.0, ""), "3");
        assert_eq!(fmt_qty(2.366e-5, "ratio"), "23.66×10⁻⁶ ratio");
        assert_eq!(fmt_qty_short(720e3, "traces/day"), "720 k");
        assert_eq!(fmt_qty_short(0.1, "fraction"), "10 %");
        assert_eq!(fmt_qty_short(1500.0, "usd/month"), "$1500");
        assert_eq!(
            fmt_est(2.366e-5, [2.300e-5, 2.431e-5], "ratio"),
            "23.66×10⁻⁶ ratio [23.00×10⁻⁶, 24.31×10⁻⁶]"
        );
    }

    #[test]
    fn estimates_show_the_digits_their_interval_supports() {
        assert_eq!(
            fmt_est(879_120.0, [784_586.0, 973_654.0], "traces"),
            "879 k traces [785 k, 974 k]"
        );
        assert_eq!(
            fmt_est(0.1234, [0.1190, 0.1280], "fraction"),
            "12.34 % [11.90 %, 12.80 %]"
        );
        assert_eq!(fmt_est(1.004, [0.8904, 1.118], ""), "1.00 [0.89, 1.12]");
        assert_eq!(fmt_est(9.0, [9.0, 9.0], "s"), "9 s (exact)");
        // A narrow interval on a big mean keeps at most 4 significant digits.
        assert_eq!(fmt_est(5000.0, [4999.99, 5000.01], ""), "5000 [5000, 5000]");
    }

    #[test]
    fn p_values_have_two_digits() {
        assert_eq!(fmt_p(0.031_946_123_456_789), "0.032");
        assert_eq!(fmt_p(0.5), "0.5");
        assert_eq!(fmt_p(1e-9), "< 0.0001");
    }
}
