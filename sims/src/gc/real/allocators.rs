//! The allocators the kernel's children link (feature `allocators`), and what each exposes
//! about itself: mimalloc's version and the options it read from the environment, jemalloc's
//! statistics.

pub use mimalloc::MiMalloc;
pub use std::alloc::System;
pub use tikv_jemallocator::Jemalloc;

/// mimalloc's option indices in the linked version's `mi_option_e` (v3 `mimalloc.h`):
/// `arena_eager_commit` 4, `allow_large_os_pages` 6, `purge_delay` 15.
const MI_ARENA_EAGER_COMMIT: i32 = 4;
const MI_ALLOW_LARGE_OS_PAGES: i32 = 6;
const MI_PURGE_DELAY: i32 = 15;

/// The linked mimalloc's version and the values of the three options the article sets, as
/// mimalloc read them (environment or default).
pub fn mimalloc_figures() -> Vec<(String, f64)> {
    // SAFETY: plain getters of mimalloc's global options; no pointer is passed.
    unsafe {
        vec![
            (
                "mimalloc_version".into(),
                f64::from(libmimalloc_sys::mi_version()),
            ),
            (
                "mi_arena_eager_commit".into(),
                libmimalloc_sys::mi_option_get(MI_ARENA_EAGER_COMMIT) as f64,
            ),
            (
                "mi_allow_large_os_pages".into(),
                libmimalloc_sys::mi_option_get(MI_ALLOW_LARGE_OS_PAGES) as f64,
            ),
            (
                "mi_purge_delay".into(),
                libmimalloc_sys::mi_option_get(MI_PURGE_DELAY) as f64,
            ),
        ]
    }
}

/// jemalloc's allocated and resident bytes, MB.
pub fn jemalloc_figures() -> Vec<(String, f64)> {
    let mut out = Vec::new();
    if tikv_jemalloc_ctl::epoch::advance().is_ok() {
        if let Ok(a) = tikv_jemalloc_ctl::stats::allocated::read() {
            out.push(("je_allocated_mb".into(), a as f64 / 1e6));
        }
        if let Ok(r) = tikv_jemalloc_ctl::stats::resident::read() {
            out.push(("je_resident_mb".into(), r as f64 / 1e6));
        }
    }
    out
}
