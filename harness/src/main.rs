//! The `lab` binary: parse the command line (the lab's verbs and the rooms' tools), dispatch,
//! map the result to an exit status.

use std::process::ExitCode;

use clap::{ArgMatches, FromArgMatches as _};
use harness::cli::{Cli, Command};
use harness::cmd;
use harness::error::{LabError, exit_code};

fn main() -> ExitCode {
    let matches = match cmd::tool::command_line().try_get_matches() {
        Ok(m) => m,
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
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&matches)));
    let result = outcome.unwrap_or_else(|_| {
        Err(LabError::internal(
            "the lab panicked (a bug: please report it with the command and scenario)",
        ))
    });
    if harness::real::interrupted() {
        // The handler is cleaning up and exits with the signal's status.
        loop {
            std::thread::park();
        }
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A room's tool, or one of the lab's own verbs.
fn run(matches: &ArgMatches) -> Result<u8, LabError> {
    if let Some((name, m)) = matches.subcommand() {
        if let Some(result) = cmd::tool::run(name, m) {
            return result;
        }
    }
    let cli = Cli::from_arg_matches(matches)
        .map_err(|e| LabError::internal(format!("command line: {e}")))?;
    dispatch(cli.command)
}

fn dispatch(command: Command) -> Result<u8, LabError> {
    match command {
        Command::List { json } => cmd::list::run(json),
        Command::Hw { json } => cmd::hw::run(json),
        Command::Check { paths } => cmd::check::run(&paths),
        Command::New { sim, claim, out } => cmd::new::run(&sim, claim.as_deref(), out.as_deref()),
        Command::Run(args) => cmd::run::run(&args),
        Command::Compare(args) => cmd::compare::run(&args),
        Command::Merge(args) => cmd::merge::run(&args),
        Command::Report { run_dir, baseline } => cmd::report::run(&run_dir, baseline.as_deref()),
        Command::History(args) => cmd::history::run(&args),
    }
}
