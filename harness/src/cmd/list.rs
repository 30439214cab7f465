//! `lab list`: the simulations in the registry and the scenarios in `./scenarios`.

use std::path::PathBuf;

use crate::error::{LabError, exit_code};
use crate::scenario::file::ScenarioFile;

/// Prints one line per simulation and per scenario.
pub fn run(json: bool) -> Result<u8, LabError> {
    let sims: Vec<_> = sims::registry::SIMULATIONS
        .iter()
        .map(|s| (s.name(), s.description()))
        .collect();
    let mut scenarios = Vec::new();
    let dir = PathBuf::from("scenarios");
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let entry = match toml::from_str::<ScenarioFile>(&text) {
                Ok(s) => (
                    f.display().to_string(),
                    s.scenario.id,
                    s.scenario.sim,
                    s.scenario.title,
                ),
                Err(_) => (
                    f.display().to_string(),
                    "?".into(),
                    "?".into(),
                    "invalid: run `lab check` on it".into(),
                ),
            };
            scenarios.push(entry);
        }
    }
    if json {
        let v = serde_json::json!({
            "sims": sims.iter().map(|(n, d)| serde_json::json!({"name": n, "description": d})).collect::<Vec<_>>(),
            "scenarios": scenarios.iter().map(|(f, id, sim, title)| serde_json::json!({"file": f, "id": id, "sim": sim, "title": title})).collect::<Vec<_>>(),
        });
        crate::outln!("{v}");
        return Ok(exit_code::OK);
    }
    for (n, d) in &sims {
        crate::outln!("sim       {n:<20} {d}");
    }
    for (f, id, sim, title) in &scenarios {
        crate::outln!("scenario  {id:<20} {f}  (sim {sim}) {title}");
    }
    Ok(exit_code::OK)
}
