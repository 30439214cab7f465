//! The README's "Adding a room" recipe, compiled and checked: the room between the `recipe`
//! markers below is the README's code block, byte for byte (the last test compares them), and
//! it must pass the same conformance checks every registered room passes.

// recipe:start
use serde::{Deserialize, Serialize};
use sims::des::uniform;
use sims::params::{ParamsError, require_count, require_probability};
use sims::room::{Room, Validate};
use sims::simulation::{Better, MetricDef, Outcome, RunContext, RunError};

/// The scenario's `[params]` for `sim = "coin"`: inputs only, each with its source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoinParams {
    /// Probability of heads. Default 0.5 (assumed: a fair coin).
    pub p_heads: f64,
    /// Flips per replication. Default 1,000.
    pub flips: u32,
}

impl Default for CoinParams {
    fn default() -> Self {
        CoinParams {
            p_heads: 0.5,
            flips: 1_000,
        }
    }
}

impl Validate for CoinParams {
    fn validate(&self) -> Result<(), ParamsError> {
        require_probability("p_heads", self.p_heads)?;
        require_count("flips", self.flips, 1..=10_000_000, "flips")
    }
}

/// What the room emits: snake_case names, unit last, one base unit each, and what kind of
/// value it is (a share of counted flips: the lab pools the counts for its interval).
const METRICS: &[MetricDef] = &[MetricDef::new(
    "heads_fraction",
    "fraction",
    "share of flips that came up heads",
    Better::Neither,
)
.proportion()];

/// The room. The harness never sees this type: the registry lists
/// `&Registered::<Coin>::NEW`, and the adapter parses and validates `CoinParams` once per
/// point.
pub struct Coin;

impl Room for Coin {
    const NAME: &'static str = "coin";
    const DESCRIPTION: &'static str = "a coin flipped N times (the new-room recipe)";
    type Params = CoinParams;

    fn metrics() -> &'static [MetricDef] {
        METRICS
    }

    fn run(p: &CoinParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        // One named stream per random source: adding a source never shifts another's draws.
        let mut flips = ctx.streams.stream("flips");
        let heads = (0..p.flips)
            .filter(|_| uniform(&mut flips) < p.p_heads)
            .count() as u64;
        let mut out = Outcome::default();
        out.set_proportion("heads_fraction", heads, u64::from(p.flips));
        Ok(out)
    }
}
// recipe:end

use sims::registry::conformance;
use sims::room::Registered;
use sims::simulation::Simulation;

/// What the registry would hold for this room.
const COIN: &dyn Simulation = &Registered::<Coin>::NEW;

#[test]
fn the_recipe_room_conforms_like_every_registered_room() {
    let problems = conformance(COIN);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_recipe_room_runs_through_the_adapter() {
    let params: toml::Table = "p_heads = 0.25\nflips = 100000".parse().unwrap();
    let prepared = COIN.prepare(&params).expect("valid params");
    // The prepared table shows every parameter, defaults included.
    assert_eq!(prepared.table()["flips"].as_integer(), Some(100_000));
    let out = COIN
        .run(&prepared, &RunContext::for_replication(7, 0))
        .expect("runs");
    let heads = out.metrics["heads_fraction"];
    // Binomial: sd = sqrt(0.25 * 0.75 / 1e5) = 0.00137; 5 sd either side.
    assert!((heads - 0.25).abs() < 5.0 * 0.00137, "{heads}");
    for name in out.metrics.keys() {
        assert!(COIN.metric_def(name).is_some(), "{name} is not declared");
    }
}

#[test]
fn the_recipe_room_rejects_bad_input_by_field() {
    for (src, path, says) in [
        ("p_heads = 1.5", "p_heads", "0 ≤ x ≤ 1"),
        ("flips = 0", "flips", "1 to 10000000 flips"),
        ("p_head = 0.5", "p_head", "expected `p_heads` or `flips`"),
    ] {
        let e = COIN.prepare(&src.parse().unwrap()).expect_err("rejected");
        assert_eq!(e.path(), path, "{src}: {e}");
        assert!(e.to_string().contains(says), "{src}: {e}");
    }
}

#[test]
fn the_readme_shows_this_recipe() {
    let this = include_str!("new_room.rs");
    let start = this.find("// recipe:start\n").expect("start marker") + "// recipe:start\n".len();
    let end = this.find("// recipe:end").expect("end marker");
    let recipe = &this[start..end];
    let readme = include_str!("../../README.md");
    let block = readme
        .split("```rust\n")
        .skip(1)
        .filter_map(|b| b.split("```\n").next())
        .find(|b| b.contains("impl Room for Coin"))
        .expect("README has the recipe's ```rust block");
    assert_eq!(
        block, recipe,
        "README's \"Adding a room\" code differs from sims/tests/new_room.rs: update one to match"
    );
}
