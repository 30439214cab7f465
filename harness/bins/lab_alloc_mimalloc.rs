//! A child of the `gc_allocators` kernel with mimalloc as the global allocator (a process has
//! one): `lab` starts it beside itself and reads one JSON object from its stdout.

use sims::gc::real::{Counting, allocators, child_main};

#[global_allocator]
static GLOBAL: Counting<allocators::MiMalloc> = Counting::new(allocators::MiMalloc);

fn main() {
    std::process::exit(child_main(
        "mimalloc",
        &GLOBAL,
        &allocators::mimalloc_figures,
    ));
}
