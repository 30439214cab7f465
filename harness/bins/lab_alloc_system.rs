//! A child of the `gc_allocators` kernel with system as the global allocator (a process has
//! one): `lab` starts it beside itself and reads one JSON object from its stdout.

use sims::gc::real::{Counting, allocators, child_main};

#[global_allocator]
static GLOBAL: Counting<allocators::System> = Counting::new(allocators::System);

fn main() {
    std::process::exit(child_main("system", &GLOBAL, &|| Vec::new()));
}
