//! What the llama.cpp kernels share: which GGUF files they measure (the user's, or the
//! generated tiny pair) and whether this build can measure at all. The measuring itself is in
//! the `llama-kernel` crate; its `llama` feature compiles llama.cpp.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::KernelReport;

/// How to rebuild `lab` with the kernels on.
pub const NOT_BUILT: &str = "lab was built without the `llama` feature \
     (cargo build --release -p harness --features llama; it compiles llama.cpp, minutes)";

/// The `[real]` keys every llama.cpp kernel takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelChoice {
    /// The target (or only) model, a GGUF file; empty: the generated tiny target.
    pub target: String,
    /// The draft model, a GGUF file; empty: the generated tiny draft.
    pub draft: String,
    /// Where the tiny pair is written when generated (relative to the working directory).
    pub models_dir: String,
    /// llama.cpp threads; 0: every core.
    pub threads: u32,
    /// The generated pair only: the spread of the target's block weights around the draft it
    /// shares embeddings and output with. Larger means less agreement (greedy K = 4 on this
    /// pair: 0.01 accepts about 95% of drafts, 0.02 about 28%, 0.04 about 1%).
    pub layer_scale: f64,
}

impl Default for ModelChoice {
    fn default() -> Self {
        ModelChoice {
            target: String::new(),
            draft: String::new(),
            models_dir: "datasets/llama/generated".into(),
            threads: 0,
            layer_scale: f64::from(llama_kernel::CI_AGREEING_LAYER_SCALE),
        }
    }
}

/// Parses a llama.cpp kernel's `[real]` table: the [`ModelChoice`] keys, and the kernel's own
/// keys into `T` (a table of its own, so unknown keys are named with every accepted one).
pub fn parse_real<T: DeserializeOwned>(t: &toml::Table) -> Result<(ModelChoice, T), ParamsError> {
    let (choice, own): (toml::Table, toml::Table) = t
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| ModelChoice::KEYS.contains(&k.as_str()));
    let choice: ModelChoice = params::parse(&choice)?;
    let own: T = params::parse(&own).map_err(|e| match e {
        ParamsError::Invalid { path, message } if message.starts_with("unknown field") => {
            let keys: Vec<String> = ModelChoice::KEYS.iter().map(|k| format!("`{k}`")).collect();
            ParamsError::Invalid {
                path,
                message: message.replacen(
                    "expected one of ",
                    &format!("expected one of {}, ", keys.join(", ")),
                    1,
                ),
            }
        }
        e => e,
    })?;
    Ok((choice, own))
}

/// A llama.cpp kernel's run: bad keys, a build without llama.cpp, a missing file or a failing
/// measurement all become `not_run` with the reason.
pub fn run_measured<P>(
    parsed: Result<P, ParamsError>,
    choice: impl Fn(&P) -> &ModelChoice,
    measure: impl FnOnce(P) -> Result<KernelReport, String>,
) -> KernelReport {
    let p = match parsed {
        Ok(p) => p,
        Err(e) => return KernelReport::not_run(e.to_string()),
    };
    if let Err(why) = choice(&p).available() {
        return KernelReport::not_run(why);
    }
    measure(p).unwrap_or_else(KernelReport::not_run)
}

/// The checked table: the model choice and the kernel's own keys, defaults filled in.
pub fn real_table<T: Serialize>(choice: &ModelChoice, own: &T) -> toml::Table {
    let mut t = params::to_table(choice);
    t.extend(params::to_table(own));
    t
}

/// The files a run measures.
pub struct Models {
    /// The target (or only) model's file.
    pub target: PathBuf,
    /// The draft model's file.
    pub draft: PathBuf,
    /// Both are the generated tiny pair.
    pub generated: bool,
}

impl ModelChoice {
    /// Its `[real]` keys.
    pub const KEYS: [&'static str; 5] = ["target", "draft", "models_dir", "threads", "layer_scale"];

    /// Checks the choice without touching the files (the harness checks before it runs).
    /// A speculative kernel needs both files or neither (a draft must share the target's
    /// vocabulary); a one-model kernel takes no draft.
    pub fn validate(&self, needs_draft: bool) -> Result<(), ParamsError> {
        if needs_draft && self.target.is_empty() != self.draft.is_empty() {
            let (key, value) = if self.draft.is_empty() {
                ("draft", "\"\"")
            } else {
                ("target", "\"\"")
            };
            return Err(ParamsError::out_of_range(
                key,
                value,
                "both real.target and real.draft (models sharing one vocabulary), or neither \
                 (the generated tiny pair)",
            ));
        }
        if !needs_draft && !self.draft.is_empty() {
            return Err(ParamsError::out_of_range(
                "draft",
                &self.draft,
                "no draft: this kernel measures one model (real.target)",
            ));
        }
        if self.models_dir.is_empty() {
            return Err(ParamsError::out_of_range(
                "models_dir",
                "\"\"",
                "a directory for the generated tiny models",
            ));
        }
        if !(self.layer_scale > 0.0 && self.layer_scale <= 1.0) {
            return Err(ParamsError::out_of_range(
                "layer_scale",
                self.layer_scale,
                "> 0 and at most 1",
            ));
        }
        if self.threads > 1024 {
            return Err(ParamsError::out_of_range(
                "threads",
                self.threads,
                "0 (every core) or a count up to 1024",
            ));
        }
        Ok(())
    }

    /// Whether the kernel can run here: built with llama.cpp, and the user's files exist.
    pub fn available(&self) -> Result<String, String> {
        llama_kernel::available().map_err(|_| NOT_BUILT.to_string())?;
        for (key, path) in [("target", &self.target), ("draft", &self.draft)] {
            if !path.is_empty() && !Path::new(path).is_file() {
                return Err(format!("real.{key} = {path}: no such file"));
            }
        }
        Ok(if self.target.is_empty() {
            let present: Vec<String> = std::fs::read_dir(&self.models_dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("tiny-") && n.ends_with(".gguf"))
                .collect();
            if present.is_empty() {
                format!(
                    "llama.cpp built; the tiny models are generated into {} on first use",
                    self.models_dir
                )
            } else {
                let mut present = present;
                present.sort();
                format!(
                    "llama.cpp built; models in {}: {}",
                    self.models_dir,
                    present.join(", ")
                )
            }
        } else if self.draft.is_empty() {
            format!("llama.cpp built; model {}", self.target)
        } else {
            format!(
                "llama.cpp built; target {}, draft {}",
                self.target, self.draft
            )
        })
    }

    /// The files to measure, generating the tiny pair where the user gave none.
    pub fn models(&self) -> Result<Models, String> {
        if !self.target.is_empty() {
            return Ok(Models {
                target: PathBuf::from(&self.target),
                draft: PathBuf::from(&self.draft),
                generated: false,
            });
        }
        let pair = llama_kernel::TinyPair::ci(self.layer_scale as f32);
        let paths = llama_kernel::ensure_pair(Path::new(&self.models_dir), &pair)
            .map_err(|e| format!("writing the tiny models: {e}"))?;
        Ok(Models {
            target: paths.target,
            draft: paths.draft,
            generated: true,
        })
    }

    /// llama.cpp's run settings for this choice (threads).
    pub fn run_config(&self) -> llama_kernel::RunConfig {
        llama_kernel::RunConfig {
            threads: self.threads,
            ..llama_kernel::RunConfig::default()
        }
    }
}

/// A file's size in MB (the model's weights for the memory model).
pub fn file_mb(path: &Path) -> f64 {
    std::fs::metadata(path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0)
}
