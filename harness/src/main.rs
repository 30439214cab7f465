//! The `lab` binary: parse the command line, dispatch, map the result to an exit status.

use std::process::ExitCode;

use clap::Parser;
use harness::cli::{Cli, Command};
use harness::cmd;
use harness::error::{LabError, exit_code};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version are successes; every other parse problem is bad input (1),
            // not clap's default 2, which the CLI contract reserves for internal errors.
            let code = if e.use_stderr() {
                exit_code::BAD_INPUT
            } else {
                exit_code::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    harness::real::install_interrupt_handler();
    // A panic is a bug: report it as an internal error (exit 2), never as Rust's 101.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli.command)));
    let result = outcome.unwrap_or_else(|_| {
        Err(LabError::internal(
            "the lab panicked (a bug: please report it with the command and scenario)",
        ))
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(command: Command) -> Result<u8, LabError> {
    match command {
        Command::List { json } => cmd::list::run(json),
        Command::Hw { json } => cmd::hw::run(json),
        Command::Check { paths } => cmd::check::run(&paths),
        Command::Run(args) => cmd::run::run(&args),
        Command::Compare(args) => cmd::compare::run(&args),
        Command::Ab { command } => cmd::ab::run(&command),
        Command::TailSampling { command } => cmd::tail_sampling::run(&command),
        Command::Report { run_dir } => cmd::report::run(&run_dir),
    }
}
