//! What identifies a trace inside the collector model: its id, the hasher for maps keyed by
//! id, and the few facts ([`Meta`]) every event about it carries.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Trace ids are uniformly random: their low 64 bits are already a good hash.
#[derive(Default)]
pub(super) struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64 ^ (i >> 64) as u64;
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}
pub(super) type IdMap<V> = HashMap<u128, V, BuildHasherDefault<IdHasher>>;

/// Hashes a trace's request ordinal so that consecutive ordinals land in consecutive buckets
/// (the traces whose spans arrive together are neighbours in memory, not scattered over a
/// 50k-entry table) while the 7 tag bits the table probes with still differ.
#[derive(Default)]
pub(super) struct OrdinalHasher(u64);
impl Hasher for OrdinalHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (i & ((1 << 57) - 1)) | (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (0x7F << 57));
    }
}
/// The collector's tables of held traces, keyed by [`Meta::ord`].
pub(super) type OrdMap<V> = HashMap<u64, V, BuildHasherDefault<OrdinalHasher>>;

/// What a trace is, carried in its events (nothing per trace is stored elsewhere).
#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    pub(super) id: u128,
    /// The request's ordinal in the run: what the collector's tables key on (the id is random,
    /// so keying on it scatters the traces that arrive together).
    pub(super) ord: u64,
    pub(super) route: u16,
    pub(super) probe: bool,
    pub(super) error_root: bool,
    pub(super) error_child: bool,
    pub(super) slow: bool,
    /// Every span carries the scenario's tracestate.
    pub(super) has_state: bool,
}
