# claimlab's verbs. `just` lists them; install just with `cargo install just --locked`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# `just features=llama demo` builds lab with the llama.cpp kernels (compiles llama.cpp once: minutes)
features := ""
lab := "cargo run --quiet --release -p harness --features '" + features + "' --bin lab --"

# list the recipes
default:
    @just --list

# install the tools the lab uses: Debian's postgresql for the real PostgreSQL kernels
setup: system-deps
    rustup component add rustfmt clippy 2>/dev/null || true
    command -v just >/dev/null || cargo install just --locked
    cargo build --release -p harness --features '{{features}}'

# apt packages the real kernels use, installed only when missing: postgresql (server binaries
# for the throwaway cluster); cmake, clang and libclang-dev (to compile llama.cpp and generate its
# bindings for the `llama` build); chromium (Debian's) to open every scenario's report.html
# headless in the test suite and check it fits a 1280 px screen with every chart loaded;
# slurm-wlm and munge (the one-node Slurm cluster of the sharded sweep test,
# deploy/slurm/ci-test.sh); mesa-vulkan-drivers (Mesa's lavapipe, a CPU Vulkan driver, and the
# Vulkan loader libvulkan1) so the webgpu room's wgpu kernel has an adapter without a GPU.
# Without them those kernels report not_run or are not built, and the browser and Slurm tests skip.
system-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    need=()
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
    command -v cmake >/dev/null || need+=(cmake)
    command -v clang >/dev/null || need+=(clang)
    ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
    command -v slurmctld >/dev/null || [ -x /usr/sbin/slurmctld ] || need+=(slurm-wlm)
    command -v munged >/dev/null || [ -x /usr/sbin/munged ] || need+=(munge)
    ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
    [ ${#need[@]} -eq 0 ] && exit 0
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    if command -v apt-get >/dev/null \
        && $sudo apt-get update -qq \
        && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
        echo "installed: ${need[*]}"
    else
        echo "warning: could not install ${need[*]}; the real kernels that need them will report not_run" >&2
    fi

# run every scenario and write reports under reports/runs/<utc-time>-<sha>/
demo *args: system-deps
    {{lab}} run scenarios {{args}}

# run scenarios with any `lab run` flags: just run scenarios/queueing.toml --quick
run *args:
    {{lab}} run {{args}}

# any lab command: just lab hw
lab *args:
    {{lab}} {{args}}

# the test suite (what CI runs): unit, golden, CLI and every scenario in --quick mode (its
# report.html opened in headless Chromium: no sideways scroll at 1280 px, every chart loaded); then
# the llama.cpp kernels built and run on generated tiny models (llama.cpp compiles once, minutes
# cold); then the webgpu room's WGSL kernels through wgpu on lavapipe (wgpu compiles once, ~2.5
# min of CPU cold), checked against the CPU reference
test: system-deps
    cargo test --workspace
    cargo test -p llama-kernel --features llama
    cargo test -p harness --features llama --test integration llama
    cargo test -p webgpu-kernel --features gpu
    cargo test -p harness --features gpu --test integration webgpu

# benchmarks (criterion): the engine on M/M/1 at rho 0.9 with 1M customers, tail-sampling decisions
bench *args:
    cargo bench -p sims {{args}}

# the merge and history speed figures: 100 shards of the queueing scenario merged, and the history
# of 100 queueing runs (each must take < 5 s; the suite checks their results, not their time)
bench-merge:
    CLAIMLAB_TIMED=1 cargo test --release -p harness --test integration -- merge_of_100_shards history_of_100 --include-ignored --nocapture

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

# Set LAB to a lab built with `--no-default-features --features 'gpu nvml'` to skip the build
# (wgpu: a minute or two cold on 16 cores). `trials` sustained runs of `seconds` of an INT4
# product through wgpu (NVIDIA's Vulkan driver) with NVML sampled every 250 ms; the series goes
# to datasets/thermal/<gpu>/ (series.csv, provenance.json) and the run to reports/runs/.
# the thermal room's GPU variant on an NVIDIA machine, its series into datasets/thermal/<gpu>/
thermal-gpu seconds="60" trials="3":
    #!/usr/bin/env bash
    set -euo pipefail
    lab="${LAB:-}"
    if [ -z "$lab" ]; then
        cargo build --release -p harness --no-default-features --features 'gpu nvml' --bin lab
        lab="${CARGO_TARGET_DIR:-target}/release/lab"
    fi
    "$lab" hw | grep -E '^(gpu|nvml)'
    out="reports/runs/thermal-gpu-$(date -u +%Y%m%dT%H%M%SZ)"
    mark=$(mktemp)
    "$lab" run scenarios/thermal.toml --replications 2 --real require --out "$out" \
        --set real.device=gpu --set real.seconds={{seconds}} --set real.trials={{trials}} \
        --set real.dataset_dir=datasets/thermal
    csv=$(find datasets/thermal -name series.csv -newer "$mark" 2>/dev/null | head -1)
    rm -f "$mark"
    dir=$(dirname "${csv:-.}")
    if [ -z "$csv" ]; then
        echo "no series written: the load did not run on an NVIDIA GPU with NVML (see $out)" >&2
        exit 1
    fi
    cp "$out/thermal/summary.json" "$dir/summary.json"
    git rev-parse HEAD > "$dir/lab-commit.txt"
    echo "series in $dir; commit it: git add $dir && git commit -m 'thermal: GPU sustained series ($(basename "$dir"))'"
