//! `lab prefetch generate`: the navigation dataset the room uses, as CSV (the schema
//! `data.sessions` reads back), from the same generator, seed and size.

use std::io::Write;

use super::data::Dataset;
use super::generator::Generator;
use super::params::PrefetchParams;
use crate::des::RngStreams;
use crate::tool::{ArgValue, Tool, ToolArg, ToolArgs, ToolCommand, ToolError};

/// The room's tool.
pub(super) const TOOLS: &[Tool] = &[Tool {
    name: "prefetch",
    about: "navigation sessions from the prefetch room's generator",
    commands: &[ToolCommand {
        name: "generate",
        about: "Write generated sessions as CSV: session_id,step,screen,split",
        long_about: "The generator's defaults (47 screens, hub, Zipf links, back navigation, \
                     latent intent; research §3.1). The same seed and size give the same file. \
                     `--set data.sessions=FILE` on a prefetch scenario reads it back.",
        args: &[
            ToolArg::new(
                "sequences",
                ArgValue::Count,
                "Windows of 5 + 1 screens to generate.",
            )
            .default("2100000"),
            ToolArg::new("seed", ArgValue::Count, "Random seed.").default("8"),
            ToolArg::new("out", ArgValue::Path, "Output file (default: stdout)."),
        ],
        run: generate,
    }],
}];

fn generate(args: &ToolArgs, out: &mut dyn Write) -> Result<(), ToolError> {
    let sequences = ToolArgs::require(args.count("sequences")?, "sequences")?;
    let seed = ToolArgs::require(args.count("seed")?, "seed")?;
    if sequences == 0 {
        return Err(ToolError::BadInput(
            "--sequences 0: expected at least 1".into(),
        ));
    }
    let p = PrefetchParams::default();
    let nav = Generator::new(&p.data, &p.generator);
    let mut rng = RngStreams::new(u64::from(seed), 0, 0).stream("sessions");
    let ds = Dataset::generate(
        &nav,
        p.data.window as usize,
        u64::from(sequences),
        p.data.train_fraction,
        &mut rng,
    );
    match args.path("out") {
        Some(path) => {
            let f = std::fs::File::create(&path)
                .map_err(|e| ToolError::BadInput(format!("--out {}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::new(f);
            ds.write_csv(&mut w)?;
            w.flush()?;
            writeln!(
                out,
                "{} sessions, {} screen views -> {}",
                ds.sessions.len(),
                ds.sessions.iter().map(Vec::len).sum::<usize>(),
                path.display()
            )?;
        }
        None => ds.write_csv(out)?,
    }
    Ok(())
}
