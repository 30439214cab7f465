//! One integration binary for the `lab` CLI, modules by topic. Every test runs the real binary
//! in a temporary directory (see `util`).

mod util;

mod architecture;
mod browser;
mod check;
mod compare;
mod determinism;
mod errors;
mod history;
mod index;
mod merge;
mod real;
mod robustness;
mod run;
mod scenarios;
mod slurm;
mod soak;
mod verdicts;
