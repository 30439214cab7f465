# claimlab's verbs. `just` lists them; install just with `cargo install just --locked`.

set shell := ["bash", "-euo", "pipefail", "-c"]

lab := "cargo run --quiet --release -p harness --bin lab --"

# list the recipes
default:
    @just --list

# install the tools the lab uses (no apt packages are needed yet)
setup:
    rustup component add rustfmt clippy 2>/dev/null || true
    command -v just >/dev/null || cargo install just --locked
    cargo build --release -p harness

# run every scenario and write reports under reports/runs/<utc-time>-<sha>/
demo *args:
    {{lab}} run scenarios {{args}}

# run scenarios with any `lab run` flags: just run scenarios/queueing.toml --quick
run *args:
    {{lab}} run {{args}}

# any lab command: just lab hw
lab *args:
    {{lab}} {{args}}

# the test suite (what CI runs): unit, golden, CLI and every scenario in --quick mode
test:
    cargo test --workspace

# benchmarks (criterion): the engine on M/M/1 at rho 0.9 with 1M customers, tail-sampling decisions
bench *args:
    cargo bench -p sims {{args}}

# formatting and clippy, warnings are errors
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# compare two run directories: just compare reports/runs/A reports/runs/B
compare a b *args:
    {{lab}} compare {{a}} {{b}} {{args}}

# re-render reports and charts of a run directory
report dir:
    {{lab}} report {{dir}}
