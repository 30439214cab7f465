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

/// What a trace is, carried in its events (nothing per trace is stored elsewhere).
#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    pub(super) id: u128,
    pub(super) route: u16,
    pub(super) probe: bool,
    pub(super) error_root: bool,
    pub(super) error_child: bool,
    pub(super) slow: bool,
    /// Every span carries the scenario's tracestate.
    pub(super) has_state: bool,
}
