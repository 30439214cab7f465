//! `lab <tool> <command>`: a room's tools, declared by the room ([`sims::tool`]) and turned
//! here into clap subcommands. Clap checks each flag's type (a number, a count, one of the
//! choices), requirements and conflicts; the room's command then gets the values and writes its
//! answer to stdout.

use clap::{Arg, ArgAction, ArgMatches, Command};
use sims::tool::{ArgValue, Tool, ToolArgs, ToolError};

use crate::error::{LabError, exit_code};

/// The whole command line: the lab's verbs with every room's tools added as subcommands.
pub fn command_line() -> Command {
    use clap::CommandFactory as _;
    sims::registry::tools().fold(crate::cli::Cli::command(), |cmd, (_, tool)| {
        cmd.subcommand(command(tool))
    })
}

/// The clap subcommand for a tool.
pub fn command(tool: &'static Tool) -> Command {
    let mut cmd = Command::new(tool.name)
        .about(tool.about)
        .subcommand_required(true)
        .arg_required_else_help(true);
    for c in tool.commands {
        let mut sub = Command::new(c.name).about(c.about);
        if !c.long_about.is_empty() {
            sub = sub.long_about(c.long_about);
        }
        for a in c.args {
            let mut arg = Arg::new(a.name)
                .long(a.name)
                .help(a.help)
                .action(ArgAction::Set)
                .required(a.required);
            arg =
                match a.value {
                    ArgValue::Number => arg
                        .value_name("X")
                        .allow_negative_numbers(true)
                        .value_parser(clap::value_parser!(f64)),
                    ArgValue::Count => arg.value_name("N").value_parser(clap::value_parser!(u32)),
                    ArgValue::Text => arg.value_name("TEXT"),
                    ArgValue::Path => arg
                        .value_name("FILE")
                        .value_parser(clap::value_parser!(std::path::PathBuf)),
                    ArgValue::Choice(choices) => arg.value_name("CHOICE").value_parser(
                        clap::builder::PossibleValuesParser::new(choices.iter().map(|c| {
                            clap::builder::PossibleValue::new(c.name)
                                .help(c.help)
                                .aliases(c.aliases.iter().copied())
                        })),
                    ),
                };
            if let Some(d) = a.default {
                arg = arg.default_value(d);
            }
            if let Some(other) = a.required_unless {
                arg = arg.required_unless_present(other);
            }
            if let Some(other) = a.conflicts_with {
                arg = arg.conflicts_with(other);
            }
            sub = sub.arg(arg);
        }
        cmd = cmd.subcommand(sub);
    }
    cmd
}

/// Runs the tool named `name` if one is registered: `None` when no tool has that name.
pub fn run(name: &str, matches: &ArgMatches) -> Option<Result<u8, LabError>> {
    let (_, tool) = sims::registry::tools().find(|(_, t)| t.name == name)?;
    Some(run_tool(tool, matches))
}

fn run_tool(tool: &Tool, matches: &ArgMatches) -> Result<u8, LabError> {
    let (sub, m) = matches
        .subcommand()
        .ok_or_else(|| LabError::bad(format!("lab {}: name a command", tool.name)))?;
    let command = tool
        .commands
        .iter()
        .find(|c| c.name == sub)
        .ok_or_else(|| LabError::internal(format!("lab {}: no command `{sub}`", tool.name)))?;
    let mut args = ToolArgs::new();
    for a in command.args {
        // Every value is passed on as typed; its type was checked by the parser above.
        if let Some(raw) = m.get_raw(a.name).and_then(|mut v| v.next()) {
            args.insert(a.name, raw.to_string_lossy());
        }
    }
    // A tool that writes CSV to `--out` gets Parquet when the name asks for it: the tool writes
    // a temporary CSV beside it, converted here (the models never link the parquet crate).
    let parquet = command
        .args
        .iter()
        .any(|a| a.name == "out" && matches!(a.value, ArgValue::Path))
        .then(|| args.path("out"))
        .flatten()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"));
    let staged = parquet
        .as_ref()
        .map(|p| p.with_extension("parquet.csv.tmp"));
    if let Some(tmp) = &staged {
        args.insert("out", tmp.to_string_lossy());
    }
    let mut out = Vec::new();
    let result = (command.run)(&args, &mut out);
    if let (Ok(()), Some(path), Some(tmp)) = (&result, &parquet, &staged) {
        let converted = std::fs::read_to_string(tmp)
            .map_err(|e| LabError::internal(format!("{}: {e}", tmp.display())))
            .and_then(|csv| {
                crate::output::csv_table_to_parquet(path, &csv)
                    .map_err(|e| LabError::internal(e.to_string()))
            });
        let _ = std::fs::remove_file(tmp);
        converted?;
    }
    match result {
        Ok(()) => {
            let text = String::from_utf8_lossy(&out);
            let text = match (&parquet, &staged) {
                (Some(p), Some(t)) => text.replace(&*t.to_string_lossy(), &p.to_string_lossy()),
                _ => text.into_owned(),
            };
            super::write_stdout(&text);
            Ok(exit_code::OK)
        }
        Err(ToolError::BadInput(msg)) => Err(LabError::bad(msg)),
        Err(ToolError::Io(e)) => Err(LabError::internal(format!(
            "lab {} {}: {e}",
            tool.name, command.name
        ))),
        Err(e) => Err(LabError::internal(e.to_string())),
    }
}
