//! The dataset: sessions of screen ids, split by session 80/10/10, and the sliding windows
//! (`window` screens, then the one to predict) the predictors are trained and scored on.
//! Generated from the [`Generator`], or read from a user's log (CSV, `session_id,step,screen`).

use std::collections::BTreeMap;

use super::generator::{Generator, Screen};
use crate::des::uniform;
use crate::params::ParamsError;

/// Which split a session is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    /// Training (the n-gram's counts, the prior, the LSTM's gradient steps).
    Train,
    /// Validation (kept aside, as the article's split).
    Val,
    /// Held-out test: every accuracy is measured here.
    Test,
}

impl Split {
    /// The name the CSV's `split` column uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

/// Sessions with their splits.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dataset {
    /// Each session's screens, in order.
    pub(crate) sessions: Vec<Vec<Screen>>,
    /// Each session's split.
    pub(crate) split: Vec<Split>,
}

fn draw_split<R: rand::Rng>(rng: &mut R, train: f64) -> Split {
    let u = uniform(rng);
    if u < train {
        Split::Train
    } else if u < train + (1.0 - train) / 2.0 {
        Split::Val
    } else {
        Split::Test
    }
}

impl Dataset {
    /// Sessions from `nav` until they hold `sequences` windows of `window` + 1 screens.
    pub(crate) fn generate<R: rand::Rng>(
        nav: &Generator,
        window: usize,
        sequences: u64,
        train: f64,
        rng: &mut R,
    ) -> Dataset {
        let mut d = Dataset::default();
        let mut seen = 0u64;
        while seen < sequences {
            let s = nav.session(rng);
            seen += s.len().saturating_sub(window) as u64;
            d.split.push(draw_split(rng, train));
            d.sessions.push(s);
        }
        d
    }

    /// A log's sessions, split at random by session.
    pub(crate) fn from_log<R: rand::Rng>(log: &[Vec<Screen>], train: f64, rng: &mut R) -> Dataset {
        Dataset {
            split: log.iter().map(|_| draw_split(rng, train)).collect(),
            sessions: log.to_vec(),
        }
    }

    /// The sessions of one split.
    pub(crate) fn of(&self, split: Split) -> impl Iterator<Item = &Vec<Screen>> {
        self.sessions
            .iter()
            .zip(&self.split)
            .filter(move |(_, s)| **s == split)
            .map(|(x, _)| x)
    }

    /// Every (window, next) of a split.
    pub(crate) fn windows(
        &self,
        split: Split,
        window: usize,
    ) -> impl Iterator<Item = (&[Screen], Screen)> {
        self.of(split)
            .flat_map(move |s| (window..s.len()).map(move |t| (&s[t - window..t], s[t])))
    }

    /// The dataset as CSV: `session_id,step,screen,split`.
    pub(crate) fn write_csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "session_id,step,screen,split")?;
        for (i, (s, sp)) in self.sessions.iter().zip(&self.split).enumerate() {
            for (t, x) in s.iter().enumerate() {
                writeln!(out, "{i},{t},{x},{}", sp.name())?;
            }
        }
        Ok(())
    }
}

/// Reads a navigation log: a header naming `session_id`, `step` and `screen` (other columns
/// ignored), then one row per screen view; screens are integers below `screens`. Rows may come
/// in any order: a session is its rows sorted by step. Sessions of one screen are dropped.
pub(crate) fn read_csv(
    text: &str,
    path: &str,
    screens: u32,
) -> Result<Vec<Vec<Screen>>, ParamsError> {
    let bad = |line: usize, what: &str| {
        ParamsError::out_of_range("data.sessions", format!("{path}:{line}"), what)
    };
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| bad(1, "a header line `session_id,step,screen`"))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| bad(1, &format!("a `{name}` column in the header")))
    };
    let (ci, cs, cx) = (col("session_id")?, col("step")?, col("screen")?);
    let mut by: BTreeMap<String, Vec<(u64, Screen)>> = BTreeMap::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: usize| {
            f.get(c)
                .copied()
                .ok_or_else(|| bad(i + 1, &format!("{} fields", cols.len())))
        };
        let step: u64 = get(cs)?
            .parse()
            .map_err(|_| bad(i + 1, "`step` as a whole number"))?;
        let screen: u32 = get(cx)?
            .parse()
            .map_err(|_| bad(i + 1, "`screen` as a whole number"))?;
        if screen >= screens {
            return Err(bad(
                i + 1,
                &format!("a screen below data.screens = {screens} (got {screen})"),
            ));
        }
        by.entry(get(ci)?.to_string())
            .or_default()
            .push((step, screen as Screen));
    }
    let sessions: Vec<Vec<Screen>> = by
        .into_values()
        .filter(|v| v.len() >= 2)
        .map(|mut v| {
            v.sort_by_key(|e| e.0);
            v.into_iter().map(|e| e.1).collect()
        })
        .collect();
    if sessions.is_empty() {
        return Err(bad(1, "at least one session of two or more screens"));
    }
    Ok(sessions)
}
