//! A child of the `gc_allocators` kernel with jemalloc as the global allocator (a process has
//! one): `lab` starts it beside itself and reads one JSON object from its stdout.

use sims::gc::real::{Counting, allocators, child_main};

#[global_allocator]
static GLOBAL: Counting<allocators::Jemalloc> = Counting::new(allocators::Jemalloc);

fn main() {
    std::process::exit(child_main(
        "jemalloc",
        &GLOBAL,
        &allocators::jemalloc_figures,
    ));
}
