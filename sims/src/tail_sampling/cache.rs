//! The decision caches: LRU sets of trace ids keyed like upstream's (`sampled_cache_size`,
//! `non_sampled_cache_size`).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use super::ids::IdHasher;

/// An LRU set keyed like upstream's caches: the last 8 bytes of the id, little-endian.
pub(super) struct Lru {
    cap: usize,
    stamp: HashMap<u64, u64, BuildHasherDefault<IdHasher>>,
    order: VecDeque<(u64, u64)>,
    clock: u64,
}

impl Lru {
    pub(super) fn new(cap: u64) -> Lru {
        Lru {
            cap: cap as usize,
            stamp: HashMap::default(),
            order: VecDeque::new(),
            clock: 0,
        }
    }
    fn key(id: u128) -> u64 {
        let b = id.to_be_bytes();
        u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"))
    }
    pub(super) fn enabled(&self) -> bool {
        self.cap > 0
    }
    /// A read refreshes recency, as in hashicorp's LRU.
    pub(super) fn get(&mut self, id: u128) -> bool {
        if self.cap == 0 {
            return false;
        }
        let k = Lru::key(id);
        let Some(stamp) = self.stamp.get_mut(&k) else {
            return false;
        };
        self.clock += 1;
        *stamp = self.clock;
        self.order.push_back((k, self.clock));
        true
    }
    pub(super) fn put(&mut self, id: u128) {
        if self.cap == 0 {
            return;
        }
        self.touch(Lru::key(id));
        while self.stamp.len() > self.cap {
            let Some((k, s)) = self.order.pop_front() else {
                break;
            };
            if self.stamp.get(&k) == Some(&s) {
                self.stamp.remove(&k);
            }
        }
        if self.order.len() > 4 * self.cap + 64 {
            let stamp = &self.stamp;
            self.order.retain(|(k, s)| stamp.get(k) == Some(s));
        }
    }
    fn touch(&mut self, k: u64) {
        self.clock += 1;
        self.stamp.insert(k, self.clock);
        self.order.push_back((k, self.clock));
    }
}
