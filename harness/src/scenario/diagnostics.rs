//! Located diagnostics for one scenario file: [`Problems`] collects every problem of a file and
//! renders them together; [`locate_params_error`] finds which source (`[params]`, a point, a
//! sweep axis, `[quick]`, `--set`) gave the field a room rejected.

use std::path::Path;

use sims::params::ParamsError;
use toml_edit::Document;

use super::file::ScenarioFile;
use super::locate::{Seg, display_path, parse_field_path, span_of};
use super::options::LoadOptions;
use crate::error::{Diagnostic, LabError, suggest_from_serde_message};

/// Collects diagnostics for one file and renders them all at the end.
pub(super) struct Problems<'a> {
    pub(super) file: &'a Path,
    pub(super) source: &'a str,
    pub(super) doc: Option<&'a Document<String>>,
    pub(super) out: Vec<Diagnostic>,
    /// Things worth fixing that do not stop a run (`lab check` shows them).
    pub(super) warnings: Vec<Diagnostic>,
}

impl Problems<'_> {
    fn located(
        &self,
        path: &[Seg],
        want_key: bool,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let span = self.doc.and_then(|d| span_of(d, path, want_key));
        let mut d = Diagnostic::new(message)
            .in_file(self.file)
            .at(span)
            .field(display_path(path));
        if let Some(h) = help {
            d = d.help(h);
        }
        d
    }

    pub(super) fn at(
        &mut self,
        path: &[Seg],
        want_key: bool,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let d = self.located(path, want_key, message, help);
        self.out.push(d);
    }

    /// A warning at a field (the run goes on).
    pub(super) fn warn_at(
        &mut self,
        path: &[Seg],
        want_key: bool,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let d = self.located(path, want_key, message, help);
        self.warnings.push(d);
    }

    /// The warnings, rendered.
    pub(super) fn rendered_warnings(&self) -> Vec<String> {
        self.warnings
            .iter()
            .map(|d| d.render_as("warning", Some(self.source)))
            .collect()
    }

    pub(super) fn push(&mut self, d: Diagnostic) {
        self.out.push(d);
    }

    pub(super) fn finish(&mut self) -> Result<(), LabError> {
        if self.out.is_empty() {
            return Ok(());
        }
        Err(LabError::BadInput(
            std::mem::take(&mut self.out)
                .iter()
                .map(|d| d.render(Some(self.source)))
                .collect::<Vec<_>>()
                .join(""),
        ))
    }
}

/// A key segment of a field path.
pub(super) fn key(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

/// Whether one field path is a prefix of the other.
pub(super) fn overlaps(a: &[Seg], b: &[Seg]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// A dotted key (`service.mean`) as path segments.
pub(super) fn parse_dotted(k: &str) -> Vec<Seg> {
    k.split('.').map(|s| Seg::Key(s.to_string())).collect()
}

/// Whether a room's error is an unknown field (then the key, not the value, is pointed at).
pub(super) fn is_unknown_field(e: &ParamsError) -> bool {
    matches!(e, ParamsError::Invalid { message, .. } if message.starts_with("unknown field"))
}

/// A did-you-mean for a room's error, if serde's message allows one.
pub(super) fn help_for(e: &ParamsError) -> Option<String> {
    match e {
        ParamsError::Invalid { message, .. } => suggest_from_serde_message(message),
        _ => None,
    }
}

/// Finds which source set the field a room rejected, and points there: the last `--set`
/// touching it, else `[quick.params]`, a sweep axis, the point's `params`, then `[params]`.
pub(super) fn locate_params_error(
    e: &ParamsError,
    file: &Path,
    doc: Option<&Document<String>>,
    sf: &ScenarioFile,
    spec: Option<usize>,
    sweep_keys: &[(Option<usize>, String)],
    opts: &LoadOptions,
) -> Diagnostic {
    let field = parse_field_path(e.path());
    let message = e.to_string();
    let help = help_for(e);
    let unknown = is_unknown_field(e);
    let finish = |d: Diagnostic| match &help {
        Some(h) => d.help(h.clone()),
        None => d,
    };
    let field_name = format!("params.{}", display_path(&field));

    for o in opts.overrides.iter().rev() {
        if o.param()
            .is_some_and(|p| overlaps(&parse_dotted(p), &field))
        {
            return finish(
                Diagnostic::new(format!("--set {}: {message}", o.raw)).field(field_name),
            );
        }
    }
    let span = |path: Vec<Seg>, want_key: bool| doc.and_then(|d| span_of(d, &path, want_key));
    let from_dotted_source = |prefix: Vec<Seg>, table: &toml::Table| {
        table.keys().rev().find_map(|k| {
            let ks = parse_dotted(k);
            overlaps(&ks, &field).then(|| {
                let mut p = prefix.clone();
                p.push(Seg::Key(k.clone()));
                p.extend(field.iter().skip(ks.len()).cloned());
                p
            })
        })
    };
    let located = (opts.quick)
        .then(|| from_dotted_source(vec![key("quick"), key("params")], &sf.quick.params))
        .flatten()
        .or_else(|| {
            sweep_keys.iter().rev().find_map(|(origin, k)| {
                overlaps(&parse_dotted(k), &field).then(|| match origin {
                    None => vec![key("sweep"), Seg::Key(k.clone())],
                    Some(i) => vec![
                        key("points"),
                        Seg::Index(*i),
                        key("sweep"),
                        Seg::Key(k.clone()),
                    ],
                })
            })
        })
        .or_else(|| {
            spec.and_then(|i| {
                from_dotted_source(
                    vec![key("points"), Seg::Index(i), key("params")],
                    &sf.points[i].params,
                )
            })
        })
        .unwrap_or_else(|| {
            let mut p = vec![key("params")];
            p.extend(field.iter().cloned());
            p
        });
    let d = Diagnostic::new(message)
        .in_file(file)
        .at(span(located.clone(), unknown).or_else(|| span(vec![key("params")], false)))
        .field(display_path(&located));
    finish(d)
}
