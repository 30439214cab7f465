//! Turning a room's parameter table into its typed params, with errors that name the field.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A parameter problem, with the dotted path of the offending field inside `[params]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// Wrong type, unknown field, missing field, unknown variant (from deserialisation).
    #[error("{message}")]
    Invalid {
        /// Dotted path, e.g. `service.mean`; empty for the table itself.
        path: String,
        /// What serde said.
        message: String,
    },
    /// The value has the right type but is outside its domain.
    #[error("{value} is out of range: expected {expected}")]
    OutOfRange {
        /// Dotted path of the field.
        path: String,
        /// The value as given.
        value: String,
        /// The accepted domain, in words (`> 0`, `0 ≤ x ≤ 1`).
        expected: String,
    },
}

impl ParamsError {
    /// The dotted path of the offending field.
    pub fn path(&self) -> &str {
        match self {
            ParamsError::Invalid { path, .. } | ParamsError::OutOfRange { path, .. } => path,
        }
    }

    /// A range error for `path`.
    pub fn out_of_range(path: &str, value: impl ToString, expected: &str) -> ParamsError {
        ParamsError::OutOfRange {
            path: path.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// Deserialises `table` into `T`, reporting the dotted path of the first bad field.
pub fn parse<T: DeserializeOwned>(table: &toml::Table) -> Result<T, ParamsError> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        ParamsError::Invalid {
            path: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string().trim().to_string(),
        }
    })
}

/// A number as a message shows it: as written for everyday sizes, in scientific notation for
/// huge or tiny ones (Rust's `Display` would print 1e308 with 309 digits).
pub fn display_number(x: f64) -> String {
    if x.is_finite() && x != 0.0 && (x.abs() >= 1e9 || x.abs() < 1e-4) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Checks `lo < x` (or `lo ≤ x` when `inclusive`) and finiteness.
pub fn require_positive(path: &str, x: f64) -> Result<(), ParamsError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(ParamsError::out_of_range(
            path,
            display_number(x),
            "a finite number > 0",
        ))
    }
}

/// Checks a count against its accepted range, e.g. `1 to 1000 repetitions`.
pub fn require_count(
    path: &str,
    x: u32,
    range: std::ops::RangeInclusive<u32>,
    unit: &str,
) -> Result<(), ParamsError> {
    if range.contains(&x) {
        Ok(())
    } else {
        Err(ParamsError::out_of_range(
            path,
            x,
            &format!("{} to {} {unit}", range.start(), range.end()),
        ))
    }
}

/// Checks `0 ≤ x ≤ 1`.
pub fn require_probability(path: &str, x: f64) -> Result<(), ParamsError> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(ParamsError::out_of_range(
            path,
            x,
            "a probability, 0 ≤ x ≤ 1",
        ))
    }
}

/// Checks `x ≥ 0` and finiteness.
pub fn require_non_negative(path: &str, x: f64) -> Result<(), ParamsError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(ParamsError::out_of_range(
            path,
            display_number(x),
            "a finite number ≥ 0",
        ))
    }
}

/// Serialises typed params back into a table (defaults filled in). `None` fields are omitted.
pub fn to_table<T: Serialize>(params: &T) -> toml::Table {
    toml::Table::try_from(params).expect("room params serialise to a TOML table")
}
