//! `lab new <sim> [--claim TEXT]`: a commented scenario template for any room, which `lab
//! check` accepts as written, so a user's own claim starts from a file that runs.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{LabError, nearest};

/// Writes the template for `sim` to `out` (refusing to overwrite) or to stdout.
pub fn run(sim: &str, claim: Option<&str>, out: Option<&Path>) -> Result<u8, LabError> {
    let text = template(sim, claim)?;
    match out {
        Some(path) => {
            if path.exists() {
                return Err(LabError::bad(format!(
                    "{}: already exists; pick another file name (lab new never overwrites)",
                    path.display()
                )));
            }
            std::fs::write(path, &text)
                .map_err(|e| LabError::bad(format!("{}: cannot write: {e}", path.display())))?;
            crate::outln!(
                "wrote {}; edit it, then: lab check {0} && lab run {0}",
                path.display()
            );
        }
        None => super::write_stdout(&text),
    }
    Ok(0)
}

/// The template's text.
pub fn template(sim_name: &str, claim: Option<&str>) -> Result<String, LabError> {
    let sims = sims::registry::SIMULATIONS;
    let Some(sim) = sims::registry::find(sim_name) else {
        let names: Vec<&str> = sims.iter().map(|s| s.name()).collect();
        let hint = nearest(sim_name, names.iter().copied())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        return Err(LabError::bad(format!(
            "no simulation `{sim_name}`{hint}; there are: {}",
            names.join(", ")
        )));
    };
    let defaults = sim
        .prepare(&toml::Table::new())
        .map_err(|e| LabError::internal(format!("{sim_name}: its defaults are rejected: {e}")))?;
    let claim_text = claim.unwrap_or("our service keeps this metric below its limit");
    let id = sim_name.replace('_', "-") + "-own";
    let first = sim
        .metrics()
        .iter()
        .find(|m| !m.name.contains('<') && !m.from_inputs)
        .ok_or_else(|| LabError::internal(format!("{sim_name} declares no plain metric")))?;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# A scenario of your own for the `{sim_name}` simulation: {}.",
        sim.description()
    );
    t.push_str(
        "# Edit the parameters and the claim, then `lab check FILE` and `lab run FILE`.\n\
         # The README's \"Scenario reference\" lists every key.\n\n",
    );
    let _ = writeln!(
        t,
        "[scenario]\nid = \"{id}\"\ntitle = \"{}\"\nsim = \"{sim_name}\"\nseed = 1\nreplications = 10\n",
        escape(claim_text)
    );
    t.push_str(
        "# The inputs: every parameter and its default. Delete the ones you keep at the default;\n\
         # give each one you rely on a source in [sources].\n[params]\n",
    );
    for (k, v) in defaults.table() {
        let _ = writeln!(t, "{k} = {}", inline(v));
    }
    t.push_str(
        "\n# Where an input comes from: kind = measured | sourced (with ref) | article | assumed\n\
         # (with range = [low, high]: the lab then tells whether the verdict depends on it).\n\
         [sources]\n",
    );
    if let Some((k, _)) = defaults
        .table()
        .iter()
        .find(|(_, v)| matches!(v, toml::Value::Float(_)))
    {
        let _ = writeln!(
            t,
            "# {k} = {{ kind = \"assumed\", range = [LOW, HIGH], note = \"why this range\" }}"
        );
    }
    t.push_str("\n# The claim: a metric the model emits and what you expect of it.\n");
    t.push_str("# Metrics (name, unit: description):\n");
    for m in sim.metrics() {
        let _ = writeln!(t, "#   {} [{}]: {}", m.name, m.unit, m.description);
    }
    let _ = writeln!(
        t,
        "[[claims]]\nid = \"own-claim\"\ntext = \"{}\"\nmetric = \"{}\"\n\
         # expect: {{ lt = V }}, {{ gt = V }}, {{ between = [A, B] }}, {{ approx = V, rel_tol = 0.1 }}\n\
         expect = {{ gt = 0 }}\nnote = \"the mechanism behind the claim, in a sentence\"",
        escape(claim_text),
        first.name
    );
    Ok(t)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A value as inline TOML.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        v => v.to_string(),
    }
}
