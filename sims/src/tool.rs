//! A room's command-line tools: calculators and debuggers people use beside the simulation
//! (`lab ab sample-size`, `lab tail-sampling decide`). A room declares them as data; the harness
//! turns the declarations into `lab` subcommands, parses and type-checks the arguments, and
//! calls [`ToolCommand::run`] with them. So the harness never names a room, and a room needs no
//! command-line parser.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// `lab <name> ...`: a group of commands of one room.
#[derive(Debug)]
pub struct Tool {
    /// The subcommand, kebab-case (`tail-sampling`).
    pub name: &'static str,
    /// One line for `lab --help`.
    pub about: &'static str,
    /// `lab <name> <command>`.
    pub commands: &'static [ToolCommand],
}

/// One command of a tool.
#[derive(Debug)]
pub struct ToolCommand {
    /// kebab-case (`sample-size`).
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// More for `--help` (empty: none).
    pub long_about: &'static str,
    /// Its flags.
    pub args: &'static [ToolArg],
    /// Runs the command: arguments already type-checked by their [`ArgValue`], output to
    /// `out` (stdout). Write nothing before the input is known to be good.
    pub run: fn(&ToolArgs, &mut dyn Write) -> Result<(), ToolError>,
}

/// What a flag takes.
#[derive(Debug, Clone, Copy)]
pub enum ArgValue {
    /// A finite or infinite `f64` (negative numbers allowed).
    Number,
    /// A non-negative integer (`u32`).
    Count,
    /// Any text.
    Text,
    /// A file path.
    Path,
    /// One of these values.
    Choice(&'static [Choice]),
}

/// One accepted value of an [`ArgValue::Choice`].
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    /// The value as documented.
    pub name: &'static str,
    /// Other spellings accepted for it.
    pub aliases: &'static [&'static str],
    /// One line.
    pub help: &'static str,
}

impl Choice {
    /// A value with its help line.
    pub const fn new(name: &'static str, help: &'static str) -> Choice {
        Choice {
            name,
            aliases: &[],
            help,
        }
    }

    /// Accepts other spellings too.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Choice {
        self.aliases = aliases;
        self
    }
}

/// One `--flag VALUE`.
#[derive(Debug, Clone, Copy)]
pub struct ToolArg {
    /// The long flag without dashes, kebab-case (`baseline-rate`).
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// What it takes.
    pub value: ArgValue,
    /// The value when absent.
    pub default: Option<&'static str>,
    /// Must be given (unless `required_unless` is).
    pub required: bool,
    /// Required unless this other flag is given.
    pub required_unless: Option<&'static str>,
    /// May not be given together with this other flag.
    pub conflicts_with: Option<&'static str>,
}

impl ToolArg {
    /// An optional flag.
    pub const fn new(name: &'static str, value: ArgValue, help: &'static str) -> ToolArg {
        ToolArg {
            name,
            help,
            value,
            default: None,
            required: false,
            required_unless: None,
            conflicts_with: None,
        }
    }

    /// With a default value.
    pub const fn default(mut self, value: &'static str) -> ToolArg {
        self.default = Some(value);
        self
    }

    /// Required.
    pub const fn required(mut self) -> ToolArg {
        self.required = true;
        self
    }

    /// Required unless `other` is given.
    pub const fn required_unless(mut self, other: &'static str) -> ToolArg {
        self.required_unless = Some(other);
        self
    }

    /// Not together with `other`.
    pub const fn conflicts_with(mut self, other: &'static str) -> ToolArg {
        self.conflicts_with = Some(other);
        self
    }
}

/// The arguments a command was given (defaults included), by flag name, as typed.
#[derive(Debug, Clone, Default)]
pub struct ToolArgs {
    values: BTreeMap<String, String>,
}

impl ToolArgs {
    /// No arguments.
    pub fn new() -> ToolArgs {
        ToolArgs::default()
    }

    /// Sets flag `name` (without dashes) to `value`.
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    /// The raw text of `--name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `--name` as a number.
    pub fn number(&self, name: &str) -> Result<Option<f64>, ToolError> {
        self.parsed(name, "a number")
    }

    /// `--name` as a count.
    pub fn count(&self, name: &str) -> Result<Option<u32>, ToolError> {
        self.parsed(name, "a whole number ≥ 0")
    }

    /// `--name` as a path.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.text(name).map(PathBuf::from)
    }

    /// A flag the command declared as required (or with a default).
    pub fn require<T>(value: Option<T>, name: &str) -> Result<T, ToolError> {
        value.ok_or_else(|| ToolError::BadInput(format!("--{name} is required")))
    }

    fn parsed<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, ToolError> {
        self.text(name)
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| ToolError::BadInput(format!("--{name} {s}: expected {what}")))
            })
            .transpose()
    }
}

/// Why a tool command stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments or the files they name are wrong (exit 1); the message names the flag or
    /// the file and line.
    #[error("{0}")]
    BadInput(String),
    /// Writing the output failed (a closed pipe ends the command quietly).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
