//! The `lab` command line: one variant per verb, each flag's doc comment is its help. The rooms'
//! own tools (`lab <tool> <command>`) are added to it from the registry
//! ([`crate::cmd::tool::command_line`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// claimlab: reproduce engineering claims with simulations, calibrated on real hardware.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about, long_about = None)]
pub struct Cli {
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List scenarios (in ./scenarios) and simulations, one line each.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the hardware and services detected (CPU, memory, GPUs, thermal, PostgreSQL).
    Hw {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate scenario files without running them.
    Check {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Write a commented scenario template for a simulation (stdout, or --out FILE).
    New {
        /// The simulation (`lab list` shows them).
        sim: String,
        /// The claim's text, in your words.
        #[arg(long)]
        claim: Option<String>,
        /// Write the template to this file (never overwritten) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run scenarios and write summaries, result tables, reports and charts.
    Run(RunArgs),
    /// Compare two run directories: per scenario, point and metric, with a Welch test.
    Compare(CompareArgs),
    /// Join the directories of a sharded run (`lab run --shard`) into the unsharded run's
    /// summary, results and report; refuses shards of different commits, seeds or scenarios and
    /// names missing or duplicated units.
    Merge(MergeArgs),
    /// Re-render report.md, report.html, charts and the run's index.md/index.html from a run
    /// directory's results.
    Report {
        /// A run directory (or one scenario's directory inside it).
        run_dir: PathBuf,
        /// Mark the claims whose verdict differs from this run (default: the baseline the
        /// index was drawn against before, if any).
        #[arg(long, value_name = "DIR")]
        baseline: Option<PathBuf>,
    },
    /// The history of runs across commits: per scenario, claim and metric, the series over
    /// commits, its steps and the first commit of each; verdict changes first.
    History(HistoryArgs),
}

/// `lab run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output directory (default: reports/runs/<utc-time>-<short-sha>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override every scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override every scenario's replication count.
    #[arg(long)]
    pub replications: Option<u32>,
    /// A small, fast run: the scenario's [quick] settings, at most 3 replications by default.
    #[arg(long)]
    pub quick: bool,
    /// Override a parameter for every point: --set arrival_rate=0.8 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run only part of the units (point x replication): I/N, 1-based (unit number mod N ==
    /// I-1). Without it, read from LAB_SHARD=I/N, JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Job, with --shard-count or LAB_SHARD_COUNT) or SLURM_ARRAY_TASK_ID (Slurm job array).
    /// `lab merge` joins the shards' directories into the unsharded run.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::runner::Shard>,
    /// The number of shards, for JOB_COMPLETION_INDEX (overrides LAB_SHARD_COUNT).
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u32>,
    /// Finish an interrupted run in DIR (its --out): only the units its journal lacks run;
    /// the result is the same bytes as an uninterrupted run. Use the same flags as the run.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Print one JSON object per scenario on stdout instead of the verdict table.
    #[arg(long)]
    pub json: bool,
    /// Real kernels: auto runs those whose hardware or service is present, off skips them,
    /// require fails (exit 1) when one cannot run.
    #[arg(long, value_enum, default_value_t = crate::real::RealMode::Auto)]
    pub real: crate::real::RealMode,
    /// Run even when the model's estimated work is beyond 4 hours of one core (a run that big
    /// is refused by default: it is nearly always a typo in a horizon parameter).
    #[arg(long)]
    pub force: bool,
    /// A baseline run directory (e.g. reports/baseline): the run's index.md/index.html list the
    /// claims whose verdict changed against it.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// The robustness pass's budget, as a multiple of the plain run's estimated work (default
    /// 3). Where the budget runs out, a claim's reason names the ends it left unchecked;
    /// `--robustness-budget inf` checks every end and flip point.
    #[arg(long, value_name = "RATIO", value_parser = parse_budget)]
    pub robustness_budget: Option<f64>,
}

/// A budget ratio: a number above zero, or `inf`.
fn parse_budget(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r > 0.0 => Ok(r),
        _ => Err(format!(
            "expected a multiple of the plain run's work above 0 (e.g. 3, 10, inf), got `{s}`"
        )),
    }
}

/// `lab merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' run directories (or scenario directories inside them).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged run (one directory per scenario, as `lab run --out`).
    #[arg(long, required = true)]
    pub out: PathBuf,
}

/// `lab compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run directory.
    pub a: PathBuf,
    /// The run directory to compare with the baseline.
    pub b: PathBuf,
    /// Noise threshold in percent: smaller relative changes are "within noise".
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Exit with status 3 when a metric regressed or a claim's verdict flipped.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Compare runs made with different settings (quick vs full, replications, seed,
    /// parameters); without it such a comparison is refused, since its changes are not the
    /// code's.
    #[arg(long)]
    pub allow_different: bool,
    /// Where to write compare.md and compare.html (default: B).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `lab history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Run directories, scenario directories, or folders of runs (reports/runs/); with --run,
    /// the scenario file to run at each commit.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write history.md, history.html and history.json (default: reports/history).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Noise threshold in percent: a smaller change of level is never a step.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// The git repository that knows the runs' commits (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub git: Option<PathBuf>,
    /// Build and run each commit of REV_RANGE (A..B, as `git rev-list`) in a git worktree,
    /// then add the runs to the history; a commit whose run is complete is skipped, so an
    /// interrupted --run continues where it stopped.
    #[arg(long, value_name = "REV_RANGE")]
    pub run: Option<String>,
    /// With --run: run the scenario with --quick.
    #[arg(long)]
    pub quick: bool,
    /// With --run: the folder of per-commit run directories (default: OUT/runs).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
}
