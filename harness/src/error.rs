//! Errors at the edge: bad input (exit 1) rendered with file, line, column, field and a
//! snippet; internal errors (exit 2). A `fails` verdict is a result, never an error.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Exit statuses of `lab` (part of the CLI contract).
pub mod exit_code {
    /// The command completed (whatever the verdicts).
    pub const OK: u8 = 0;
    /// Bad input: a scenario, a flag, a missing file.
    pub const BAD_INPUT: u8 = 1;
    /// A bug or an environment failure (disk full, a model that broke).
    pub const INTERNAL: u8 = 2;
    /// `lab compare --fail-on-regression` found a regression or a flipped verdict.
    pub const REGRESSION: u8 = 3;
}

/// One problem in one input, located as precisely as we can.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The file, or `None` for command-line input.
    pub file: Option<PathBuf>,
    /// Byte range in the file's text.
    pub span: Option<Range<usize>>,
    /// The dotted field path (`params.arrival_rate`, `claims[2].metric`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What was expected, or a suggestion.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem with no location beyond its message.
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: None,
            span: None,
            field: None,
            message: message.into(),
            help: None,
        }
    }

    /// Sets the file.
    pub fn in_file(mut self, file: &Path) -> Diagnostic {
        self.file = Some(file.to_path_buf());
        self
    }

    /// Sets the span.
    pub fn at(mut self, span: Option<Range<usize>>) -> Diagnostic {
        self.span = span;
        self
    }

    /// Sets the field path.
    pub fn field(mut self, field: impl Into<String>) -> Diagnostic {
        let f = field.into();
        self.field = (!f.is_empty()).then_some(f);
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Renders `error: file:line:col: field: message`, the source line with a caret
    /// underline, and the help line.
    pub fn render(&self, source: Option<&str>) -> String {
        self.render_as("error", source)
    }

    /// Renders as [`Diagnostic::render`] with another level (`warning`).
    pub fn render_as(&self, level: &str, source: Option<&str>) -> String {
        let mut out = format!("{level}: ");
        let mut snippet = String::new();
        if let Some(f) = &self.file {
            out.push_str(&f.display().to_string());
            if let (Some(span), Some(src)) = (&self.span, source) {
                let (line, col, text) = line_col(src, span.start);
                out.push_str(&format!(":{line}:{col}"));
                let end = span.end.min(src.len());
                let width = src
                    .get(span.start.min(end)..end)
                    .map_or(1, |t| t.chars().take_while(|c| *c != '\n').count())
                    .max(1);
                let width = width.min(text.chars().count().saturating_sub(col - 1).max(1));
                let gutter = line.to_string().len();
                snippet = format!(
                    "{:g$} |\n{line} | {text}\n{:g$} | {}{}\n",
                    "",
                    "",
                    " ".repeat(col - 1),
                    "^".repeat(width),
                    g = gutter
                );
            }
            out.push_str(": ");
        }
        if let Some(field) = &self.field {
            out.push_str(field);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out.push('\n');
        out.push_str(&snippet);
        if let Some(h) = &self.help {
            out.push_str(&format!("  = help: {h}\n"));
        }
        out
    }
}

/// 1-based line and column (in characters) of byte `offset`, and the line's text.
pub fn line_col(src: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = src[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(src.len());
    let line = before.matches('\n').count() + 1;
    let col = src[line_start..offset].chars().count() + 1;
    (line, col, src[line_start..line_end].trim_end_matches('\r'))
}

/// Every way a `lab` command can fail.
#[derive(Debug)]
pub enum LabError {
    /// Input problems, already rendered for people.
    BadInput(String),
    /// Something that is not the user's fault.
    Internal(String),
}

impl LabError {
    /// The process exit status for this error (the single place that decides it).
    pub fn exit_code(&self) -> u8 {
        match self {
            LabError::BadInput(_) => exit_code::BAD_INPUT,
            LabError::Internal(_) => exit_code::INTERNAL,
        }
    }

    /// Bad input with a plain message.
    pub fn bad(msg: impl Into<String>) -> LabError {
        let m = msg.into();
        LabError::BadInput(if m.starts_with("error:") {
            m
        } else {
            format!("error: {m}\n")
        })
    }

    /// An internal error.
    pub fn internal(msg: impl Into<String>) -> LabError {
        LabError::Internal(msg.into())
    }
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::BadInput(s) => write!(f, "{}", s.trim_end()),
            LabError::Internal(s) => write!(f, "internal error: {s}"),
        }
    }
}

impl From<std::io::Error> for LabError {
    fn from(e: std::io::Error) -> Self {
        LabError::Internal(e.to_string())
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate nearest to `word`, if it is close enough to be a plausible typo.
/// The same words in another order (`p99_sojourn` for `sojourn_p99`) count as a typo too.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    let words = |s: &str| {
        let mut w: Vec<String> = s.split(['_', '.', '-']).map(str::to_lowercase).collect();
        w.sort();
        w
    };
    let mine = words(word);
    candidates
        .into_iter()
        .map(|c| {
            let d = if words(c) == mine {
                1
            } else {
                edit_distance(word, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// For serde messages like ``unknown field `x`, expected one of `a`, `b` `` (or `unknown
/// variant`), the nearest expected name as a "did you mean" help line.
pub fn suggest_from_serde_message(msg: &str) -> Option<String> {
    let rest = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))?;
    let (word, tail) = rest.split_once('`')?;
    let names: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    nearest(word, names.iter().copied()).map(|n| format!("did you mean `{n}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_reordered_words() {
        let names = ["sojourn_p99", "wait_mean", "utilization"];
        assert_eq!(nearest("p99_sojourn", names), Some("sojourn_p99"));
        assert_eq!(nearest("wait_maen", names), Some("wait_mean"));
        assert_eq!(nearest("utilisation", names), Some("utilization"));
        assert_eq!(nearest("throughput", names), None);
    }

    #[test]
    fn renders_location_and_caret() {
        let src = "a = 1\nreplications = \"ten\"\n";
        let d = Diagnostic::new("invalid type: string \"ten\", expected u32")
            .in_file(Path::new("s.toml"))
            .at(Some(21..26))
            .field("scenario.replications");
        let r = d.render(Some(src));
        assert!(r.starts_with("error: s.toml:2:16: scenario.replications: invalid type"));
        assert!(r.contains("2 | replications = \"ten\""));
        assert!(r.contains("  |                ^^^^^"), "{r}");
    }

    #[test]
    fn suggests_the_nearest_field() {
        let m = "unknown field `arival_rate`, expected one of `arrival_rate`, `servers`";
        assert_eq!(
            suggest_from_serde_message(m).as_deref(),
            Some("did you mean `arrival_rate`?")
        );
        assert_eq!(
            suggest_from_serde_message("unknown field `zzz`, expected `a`"),
            None
        );
    }
}
