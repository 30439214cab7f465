//! The GitHub Actions cache as a store of entries (research/build-caches.md §2.5): entries are
//! scoped by branch, a run sees its own branch's and the default branch's, and the repository's
//! total is capped. At each eviction check, entries not accessed for `idle_days` go, then the
//! least recently used until the total is back under the cap (the new entry was saved anyway).

use std::collections::{BTreeMap, BTreeSet};

/// An entry's identity: (scope, layer key). Scope 0 is the default branch.
pub(super) type EntryId = (u64, u64);

#[derive(Clone, Copy, Debug)]
struct Entry {
    mb: f64,
    access: (u64, u64),
}

/// The store and its eviction counters.
#[derive(Debug, Default)]
pub(super) struct ActionsCache {
    entries: BTreeMap<EntryId, Entry>,
    /// Least recently used first: (access time in ms, sequence, id).
    lru: BTreeSet<((u64, u64), EntryId)>,
    seq: u64,
    total_mb: f64,
    /// Entries removed to get under the cap.
    pub(super) evicted: u64,
    /// Entries removed for not being accessed for `idle_days`.
    pub(super) expired: u64,
    /// Hour of the first eviction over the cap.
    pub(super) first_eviction_h: Option<f64>,
}

fn stamp(h: f64) -> u64 {
    (h * 3_600_000.0).round() as u64
}

impl ActionsCache {
    /// The visible entry for `key` from `scope`: its own, else the default branch's.
    pub(super) fn visible(&self, scope: u64, key: u64) -> Option<EntryId> {
        [(scope, key), (0, key)]
            .into_iter()
            .find(|id| self.entries.contains_key(id))
    }

    /// Marks an entry accessed at hour `h`.
    pub(super) fn touch(&mut self, id: EntryId, h: f64) {
        self.seq += 1;
        let access = (stamp(h), self.seq);
        if let Some(e) = self.entries.get_mut(&id) {
            self.lru.remove(&(e.access, id));
            e.access = access;
            self.lru.insert((access, id));
        }
    }

    /// Saves an entry of `mb` at hour `h` (over the cap or not).
    pub(super) fn save(&mut self, id: EntryId, mb: f64, h: f64) {
        if self.entries.contains_key(&id) {
            self.touch(id, h);
            return;
        }
        self.seq += 1;
        let access = (stamp(h), self.seq);
        self.entries.insert(id, Entry { mb, access });
        self.lru.insert((access, id));
        self.total_mb += mb;
    }

    fn remove_first(&mut self) -> bool {
        let Some(&(access, id)) = self.lru.iter().next() else {
            return false;
        };
        self.lru.remove(&(access, id));
        if let Some(e) = self.entries.remove(&id) {
            self.total_mb -= e.mb;
        }
        true
    }

    /// The eviction check at hour `h`.
    pub(super) fn evict(&mut self, h: f64, cap_mb: f64, idle_days: f64) {
        let idle_before = stamp((h - idle_days * 24.0).max(0.0));
        while self
            .lru
            .iter()
            .next()
            .is_some_and(|((t, _), _)| *t < idle_before && h >= idle_days * 24.0)
        {
            self.remove_first();
            self.expired += 1;
        }
        while self.total_mb > cap_mb + 1e-9 && self.remove_first() {
            self.evicted += 1;
            self.first_eviction_h.get_or_insert(h);
        }
    }

    /// Stored size, MB.
    pub(super) fn total_mb(&self) -> f64 {
        self.total_mb.max(0.0)
    }
}
