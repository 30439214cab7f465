//! What a claim expects, as typed: [`Expectation`] (the accepted range and how it reads), and
//! where its value comes from, [`MetricSource`] (the model, or a real kernel's measurement).
//!
//! The scenario file and `summary.json` carry an expectation in its wire form,
//! [`Expected`] (`{ approx = 9, rel_tol = 0.1 }`, `{ lt = 0.2 }`, ...);
//! [`Expectation::from_wire`] checks that shape once, when the plan is built, and everything
//! after works on the enum.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::format::fmt_num;

/// What the article claims a metric should be, in its wire form: a scenario's `expect` and
/// `summary.json`'s `expected` (the contract keeps this shape).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Near this value (with `rel_tol` or `abs_tol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approx: Option<f64>,
    /// Relative tolerance of `approx` / `matches` (`0.1` is ±10%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_tol: Option<f64>,
    /// Absolute tolerance of `approx` / `matches`, in the metric's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_tol: Option<f64>,
    /// Strictly below this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    /// Strictly above this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    /// Within `[low, high]`, ends included.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "low_high"
    )]
    pub between: Option<[f64; 2]>,
    /// A real kernel's measurement (`real.NAME`) the model must reproduce, within `rel_tol`
    /// or `abs_tol`: the model validated against the real run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// A `[low, high]` pair, refused with any other number of values (a plain `[f64; 2]` would
/// take the first two of three and drop the rest).
pub fn low_high<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
    let v: Option<Vec<f64>> = serde::Deserialize::deserialize(d)?;
    match v.as_deref() {
        None => Ok(None),
        Some(&[low, high]) => Ok(Some([low, high])),
        Some(other) => Err(serde::de::Error::invalid_length(
            other.len(),
            &"two numbers, [low, high]",
        )),
    }
}

impl Expected {
    /// The typed expectation this wire form stands for (`None` for a malformed one, which
    /// `lab run` never writes).
    pub fn typed(&self) -> Option<Expectation> {
        Expectation::from_wire(self).ok()
    }

    /// The accepted range `[lo, hi]` (open ends are infinite).
    pub fn range(&self) -> (f64, f64) {
        self.typed()
            .map(|e| e.range())
            .unwrap_or((f64::NEG_INFINITY, f64::INFINITY))
    }

    /// A short human form: `≈ 9 ± 3%`, `< 0.2`, `in [1, 2]`. A judged `matches` shows the
    /// measured value with the measurement's name.
    pub fn describe(&self) -> String {
        self.describe_in("")
    }

    /// [`Expected::describe`] with values in the metric's unit: `≈ 87 % ± 5 pp`, `< 2 s`.
    pub fn describe_in(&self, unit: &str) -> String {
        match (self.approx, &self.matches) {
            (Some(v), Some(m)) => Tolerance {
                rel: self.rel_tol,
                abs: self.abs_tol,
            }
            .describe_in(&format!("{} ({m})", qty(v, unit)), unit),
            _ => self
                .typed()
                .map(|e| e.describe_in(unit))
                .unwrap_or_else(|| "anything".to_string()),
        }
    }
}

/// The tolerance of an `approx` or `matches` expectation: the wider of the two when both are
/// given.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerance {
    /// Relative to the target's magnitude (`0.1` is ±10%).
    pub rel: Option<f64>,
    /// In the metric's unit.
    pub abs: Option<f64>,
}

impl Tolerance {
    /// The half-width around `target`.
    pub fn half_width(&self, target: f64) -> f64 {
        self.abs
            .unwrap_or(0.0)
            .max(self.rel.unwrap_or(0.0) * target.abs())
    }

    /// `≈ target ± 3%`, `≈ target ± 0.5`, or `= target`.
    pub fn describe(&self, target: &str) -> String {
        self.describe_in(target, "")
    }

    /// [`Tolerance::describe`] with an absolute tolerance in `unit` (a fraction's in
    /// percentage points).
    pub fn describe_in(&self, target: &str, unit: &str) -> String {
        match (self.rel, self.abs) {
            (Some(r), _) => format!("≈ {target} ± {}%", fmt_num(r * 100.0)),
            (None, Some(a)) if unit == "fraction" => {
                format!("≈ {target} ± {} pp", fmt_num(a * 100.0))
            }
            (None, Some(a)) => format!("≈ {target} ± {}", qty(a, unit)),
            (None, None) => format!("= {target}"),
        }
    }
}

/// A claim's expected value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Near a value: `{ approx = V, rel_tol = R }` or `abs_tol`; the ends are included.
    Approx {
        /// The claimed value.
        value: f64,
        /// How near.
        tolerance: Tolerance,
    },
    /// Within `[low, high]`, ends included: `{ between = [A, B] }`.
    Between {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// Strictly above: `{ gt = V }`.
    Above(f64),
    /// Strictly below: `{ lt = V }`.
    Below(f64),
    /// Strictly between: `{ gt = A, lt = B }`.
    Inside {
        /// Exclusive lower end.
        above: f64,
        /// Exclusive upper end.
        below: f64,
    },
    /// Near a real kernel's measurement of the same quantity: `{ matches = "real.NAME" }` (the
    /// model validated against the real run). Judged as [`Expectation::Approx`] around the
    /// measured value.
    Matches {
        /// The measurement's name, without `real.`.
        measurement: String,
        /// How near.
        tolerance: Tolerance,
    },
}

/// Why an expectation's wire form is not one: the field to point at (if one) and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    /// The offending key inside `expect`, if the problem is one key's.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

fn shape(field: Option<&'static str>, message: impl Into<String>) -> ShapeError {
    ShapeError {
        field,
        message: message.into(),
    }
}

impl Expectation {
    /// Checks the wire form: exactly one of approx (or matches), between, or lt/gt; finite
    /// numbers; tolerances ≥ 0; non-empty ranges.
    pub fn from_wire(e: &Expected) -> Result<Expectation, ShapeError> {
        let kinds = [
            e.approx.is_some() || e.matches.is_some(),
            e.between.is_some(),
            e.lt.is_some() || e.gt.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(shape(None, "give exactly one of approx, between, or lt/gt"));
        }
        if e.approx.is_some() && e.matches.is_some() {
            return Err(shape(None, "give approx or matches, not both"));
        }
        if e.approx.is_none() && e.matches.is_none() && (e.rel_tol.is_some() || e.abs_tol.is_some())
        {
            return Err(shape(None, "rel_tol and abs_tol go with approx or matches"));
        }
        for (name, v) in [("approx", e.approx), ("lt", e.lt), ("gt", e.gt)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                return Err(shape(Some(name), format!("{v} is not a finite number")));
            }
        }
        if e.between
            .is_some_and(|[a, b]| !a.is_finite() || !b.is_finite())
        {
            return Err(shape(Some("between"), "the range must have finite ends"));
        }
        for (name, v) in [("rel_tol", e.rel_tol), ("abs_tol", e.abs_tol)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(shape(
                    Some(name),
                    format!("{v} is out of range: expected a tolerance ≥ 0"),
                ));
            }
        }
        let tolerance = Tolerance {
            rel: e.rel_tol,
            abs: e.abs_tol,
        };
        if let Some(m) = &e.matches {
            let MetricSource::Real(measurement) = MetricSource::parse(m) else {
                return Err(shape(
                    Some("matches"),
                    format!(
                        "`matches = \"{m}\"` needs a real kernel's measurement `real.NAME` and a [real] table"
                    ),
                ));
            };
            return Ok(Expectation::Matches {
                measurement,
                tolerance,
            });
        }
        if let Some(value) = e.approx {
            return Ok(Expectation::Approx { value, tolerance });
        }
        if let Some([low, high]) = e.between {
            if low > high {
                return Err(shape(
                    Some("between"),
                    format!("[{low}, {high}] is empty: expected low ≤ high"),
                ));
            }
            return Ok(Expectation::Between { low, high });
        }
        match (e.gt, e.lt) {
            (Some(g), Some(l)) if g >= l => Err(shape(
                None,
                format!("gt = {g} and lt = {l} leave nothing in between"),
            )),
            (Some(above), Some(below)) => Ok(Expectation::Inside { above, below }),
            (Some(g), None) => Ok(Expectation::Above(g)),
            (None, Some(l)) => Ok(Expectation::Below(l)),
            (None, None) => Err(shape(None, "give exactly one of approx, between, or lt/gt")),
        }
    }

    /// The wire form, as `summary.json` records it.
    pub fn to_wire(&self) -> Expected {
        let mut e = Expected::default();
        match self {
            Expectation::Approx { value, tolerance } => {
                e.approx = Some(*value);
                e.rel_tol = tolerance.rel;
                e.abs_tol = tolerance.abs;
            }
            Expectation::Between { low, high } => e.between = Some([*low, *high]),
            Expectation::Above(g) => e.gt = Some(*g),
            Expectation::Below(l) => e.lt = Some(*l),
            Expectation::Inside { above, below } => {
                e.gt = Some(*above);
                e.lt = Some(*below);
            }
            Expectation::Matches {
                measurement,
                tolerance,
            } => {
                e.matches = Some(MetricSource::real(measurement).to_string());
                e.rel_tol = tolerance.rel;
                e.abs_tol = tolerance.abs;
            }
        }
        e
    }

    /// The accepted range `[lo, hi]` (open ends are infinite). A `Matches` not yet resolved
    /// to a measured value accepts everything.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Expectation::Approx { value, tolerance } => {
                let t = tolerance.half_width(*value);
                (value - t, value + t)
            }
            Expectation::Between { low, high } => (*low, *high),
            Expectation::Above(g) => (*g, f64::INFINITY),
            Expectation::Below(l) => (f64::NEG_INFINITY, *l),
            Expectation::Inside { above, below } => (*above, *below),
            Expectation::Matches { .. } => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// Whether one value is acceptable: `gt` and `lt` are strict, `between` and tolerances
    /// include their ends.
    pub fn accepts(&self, x: f64) -> bool {
        let (lo, hi) = self.range();
        match self {
            Expectation::Approx { .. }
            | Expectation::Between { .. }
            | Expectation::Matches { .. } => lo <= x && x <= hi,
            Expectation::Above(_) | Expectation::Below(_) | Expectation::Inside { .. } => {
                lo < x && x < hi
            }
        }
    }
}

impl fmt::Display for Expectation {
    /// A short human form: `≈ 9 ± 3%`, `< 0.2`, `in [1, 2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe_in(""))
    }
}

impl Expectation {
    /// The short human form with values in the metric's unit: `≈ 87 % ± 5 pp`, `< 2 s`.
    pub fn describe_in(&self, unit: &str) -> String {
        let q = |v: f64| qty(v, unit);
        match self {
            Expectation::Approx { value, tolerance } => tolerance.describe_in(&q(*value), unit),
            Expectation::Matches {
                measurement,
                tolerance,
            } => tolerance.describe_in(&MetricSource::real(measurement).to_string(), unit),
            Expectation::Between { low, high } => format!("in [{}, {}]", q(*low), q(*high)),
            Expectation::Inside { above, below } => format!("in ({}, {})", q(*above), q(*below)),
            Expectation::Above(g) => format!("> {}", q(*g)),
            Expectation::Below(l) => format!("< {}", q(*l)),
        }
    }
}

/// A value in its unit's scale, without a unit word (the estimate beside it names the unit);
/// a bare number as [`fmt_num`] writes it.
fn qty(v: f64, unit: &str) -> String {
    if unit.is_empty() {
        fmt_num(v)
    } else {
        crate::format::fmt_qty_short(v, unit)
    }
}

/// The wire prefix that marks a real kernel's measurement in `metric` and `matches`.
const REAL_PREFIX: &str = "real.";

/// Where a claim's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricSource {
    /// A metric the room's model emits, estimated across replications at a point.
    Model(String),
    /// A measurement of the scenario's real kernel (`real.NAME` in the file).
    Real(String),
}

impl MetricSource {
    /// Reads the wire form: `real.NAME` is a measurement, anything else a model metric. The
    /// one place the prefix is interpreted.
    pub fn parse(s: &str) -> MetricSource {
        match s.strip_prefix(REAL_PREFIX) {
            Some(name) => MetricSource::Real(name.to_string()),
            None => MetricSource::Model(s.to_string()),
        }
    }

    /// A real measurement by name.
    pub fn real(name: &str) -> MetricSource {
        MetricSource::Real(name.to_string())
    }

    /// The measurement's name, for a real source.
    pub fn real_name(&self) -> Option<&str> {
        match self {
            MetricSource::Real(n) => Some(n),
            MetricSource::Model(_) => None,
        }
    }

    /// Whether a real kernel measures it.
    pub fn is_real(&self) -> bool {
        matches!(self, MetricSource::Real(_))
    }
}

impl fmt::Display for MetricSource {
    /// The wire form (`sojourn_p99`, `real.db_ms`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricSource::Model(n) => f.write_str(n),
            MetricSource::Real(n) => write!(f, "{REAL_PREFIX}{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(src: &str) -> Expected {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn every_wire_shape_round_trips() {
        for src in [
            "approx = 9.0\nrel_tol = 0.1",
            "approx = 9.0\nabs_tol = 0.5",
            "approx = 9.0",
            "between = [1.0, 2.0]",
            "gt = 0.0",
            "lt = 0.2",
            "gt = 1.0\nlt = 3.0",
            "matches = \"real.db_ms\"\nrel_tol = 0.2",
        ] {
            let w = wire(src);
            let e = Expectation::from_wire(&w).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            assert_eq!(e.to_wire(), w, "{src}");
        }
    }

    #[test]
    fn bad_shapes_are_refused_with_the_field() {
        for (src, field) in [
            ("approx = 1.0\nlt = 2.0", None),
            ("between = [2.0, 1.0]", Some("between")),
            ("gt = 2.0\nlt = 1.0", None),
            ("approx = 1.0\nrel_tol = -0.1", Some("rel_tol")),
            ("rel_tol = 0.1\nlt = 1.0", None),
            ("matches = \"db_ms\"", Some("matches")),
        ] {
            let e = Expectation::from_wire(&wire(src)).expect_err(src);
            assert_eq!(e.field, field, "{src}: {}", e.message);
        }
    }

    #[test]
    fn strict_and_inclusive_ends() {
        let gt = Expectation::Above(0.0);
        assert!(!gt.accepts(0.0) && gt.accepts(1.0));
        let within = Expectation::Between {
            low: 1.0,
            high: 2.0,
        };
        assert!(within.accepts(1.0) && within.accepts(2.0) && !within.accepts(2.5));
        let near = Expectation::Approx {
            value: 0.0,
            tolerance: Tolerance {
                rel: None,
                abs: Some(0.5),
            },
        };
        assert!(near.accepts(0.5) && !near.accepts(-0.6));
        assert_eq!(near.to_string(), "≈ 0 ± 0.5");
        assert_eq!(Expectation::Below(0.2).to_string(), "< 0.2");
    }

    #[test]
    fn metric_sources_read_and_print_their_wire_form() {
        assert_eq!(
            MetricSource::parse("real.db_ms"),
            MetricSource::real("db_ms")
        );
        assert_eq!(
            MetricSource::parse("sojourn_p99"),
            MetricSource::Model("sojourn_p99".into())
        );
        assert_eq!(MetricSource::real("db_ms").to_string(), "real.db_ms");
    }
}
