//! [`TokenCache`]: the bounded map behind the hot path (verified JWTs, introspection answers).
//!
//! A hit must cost a lookup and a clone, nothing more: no access bookkeeping, no maintenance
//! queue, no clock of its own. Keys are already keyed hashes of the token
//! ([`crate::cache_key::LookupKeys`]), so they are used as they are: the top bits choose a shard
//! (a lock), the low bits a set of [`WAYS`] slots in it. The table is allocated once, so the
//! bound is exact and no input can grow it. Each entry carries the Unix second at which it dies,
//! checked against the caller's (injected) clock. A new key takes a free or dead slot of its
//! set, else the slot that dies first (the oldest on a tie): a token about to expire is worth
//! the least. Because keys are random, which entries share a set is random too.

use std::sync::RwLock;

use crate::sync::{read, write};

const SHARDS: usize = 16;
/// Slots per set.
pub const WAYS: usize = 4;

/// A bounded, sharded cache from lookup key to value, each entry with its own deadline.
pub struct TokenCache<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    sets_per_shard: usize,
}

struct Shard<V> {
    slots: Vec<Option<Slot<V>>>,
    /// Insertion counter, for the tie-break.
    inserted: u64,
}

struct Slot<V> {
    key: u64,
    value: V,
    /// Unix second from which the entry is dead.
    dies_at: i64,
    inserted: u64,
}

impl<V> std::fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field(
                "capacity",
                &(self.sets_per_shard * WAYS * self.shards.len()),
            )
            .finish_non_exhaustive()
    }
}

impl<V: Clone> TokenCache<V> {
    /// A cache of at most `capacity` entries (rounded down to whole sets, at least one set of
    /// [`WAYS`]).
    pub fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX / 2);
        let sets = (capacity / WAYS).max(1);
        let shards = SHARDS.min(sets);
        let sets_per_shard = sets / shards;
        Self {
            shards: (0..shards)
                .map(|_| {
                    RwLock::new(Shard {
                        slots: (0..sets_per_shard * WAYS).map(|_| None).collect(),
                        inserted: 0,
                    })
                })
                .collect(),
            sets_per_shard,
        }
    }

    /// The shard and the first slot of the key's set.
    fn place(&self, key: u64) -> (&RwLock<Shard<V>>, usize) {
        let shard = usize::try_from(key >> 56).unwrap_or(0) % self.shards.len();
        let set = usize::try_from(key & 0xFFFF_FFFF).unwrap_or(0) % self.sets_per_shard;
        (&self.shards[shard], set * WAYS)
    }

    /// The value under `key` when it is still alive at `now` (Unix seconds).
    pub fn get(&self, key: u64, now: i64) -> Option<V> {
        self.get_with(key, now, |value| Some(value.clone()))
    }

    /// Looks at the live value under `key` without cloning it: `take` decides what to take.
    pub fn get_with<R>(&self, key: u64, now: i64, take: impl FnOnce(&V) -> Option<R>) -> Option<R> {
        let (shard, first) = self.place(key);
        let shard = read(shard);
        shard.slots[first..first + WAYS]
            .iter()
            .flatten()
            .find(|slot| slot.key == key)
            .filter(|slot| now < slot.dies_at)
            .and_then(|slot| take(&slot.value))
    }

    /// Stores `value` under `key` until `dies_at` (Unix seconds, exclusive), in place of the
    /// entry of its set that is worth the least.
    pub fn insert(&self, key: u64, value: V, dies_at: i64, now: i64) {
        if dies_at <= now {
            return;
        }
        let (shard, first) = self.place(key);
        let mut shard = write(shard);
        shard.inserted += 1;
        let inserted = shard.inserted;
        let set = &mut shard.slots[first..first + WAYS];
        let index = set
            .iter()
            .position(|slot| slot.as_ref().is_some_and(|s| s.key == key))
            .or_else(|| {
                set.iter()
                    .position(|slot| slot.as_ref().is_none_or(|s| s.dies_at <= now))
            })
            .or_else(|| {
                (0..WAYS).min_by_key(|&i| {
                    set[i]
                        .as_ref()
                        .map_or((i64::MIN, 0), |s| (s.dies_at, s.inserted))
                })
            })
            .unwrap_or(0);
        set[index] = Some(Slot {
            key,
            value,
            dies_at,
            inserted,
        });
    }

    /// Forgets `key`.
    pub fn remove(&self, key: u64) {
        let (shard, first) = self.place(key);
        let mut shard = write(shard);
        for slot in &mut shard.slots[first..first + WAYS] {
            if slot.as_ref().is_some_and(|s| s.key == key) {
                *slot = None;
            }
        }
    }

    /// Entries held (alive, or dead and not yet replaced).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| read(s).slots.iter().flatten().count())
            .sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries it holds.
    pub fn capacity(&self) -> usize {
        self.sets_per_shard * WAYS * self.shards.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spread like real lookup keys (splitmix64).
    fn key(i: u64) -> u64 {
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn an_entry_lives_until_its_deadline() {
        let cache = TokenCache::new(10);
        cache.insert(key(1), "a", 100, 50);
        assert_eq!(cache.get(key(1), 99), Some("a"));
        assert_eq!(cache.get(key(1), 100), None);
        assert_eq!(cache.get(key(2), 50), None);
    }

    #[test]
    fn an_entry_already_dead_is_not_stored() {
        let cache = TokenCache::new(10);
        cache.insert(key(1), "a", 50, 50);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_bound_holds_for_a_million_distinct_keys() {
        let cache = TokenCache::new(1000);
        for i in 0..1_000_000 {
            cache.insert(key(i), i, i64::MAX, 0);
        }
        assert!(cache.len() <= cache.capacity(), "{}", cache.len());
        assert!(cache.capacity() <= 1000 && cache.capacity() > 900);
        // Among equals the oldest goes: most of the last entries are there.
        let recent = (999_500..1_000_000)
            .filter(|&i| cache.get(key(i), 1).is_some())
            .count();
        assert!(recent > 350, "{recent}");
    }

    #[test]
    fn a_full_set_gives_up_dead_entries_then_the_one_that_dies_first() {
        let cache = TokenCache::new(4); // one set of four
        for i in 0..4 {
            cache.insert(key(i), i, 100 + i as i64, 0);
        }
        cache.insert(key(10), 10, 1000, 50);
        // The entry dying first (at 100) made room.
        assert_eq!(cache.get(key(0), 60), None);
        for i in 1..4 {
            assert_eq!(cache.get(key(i), 60), Some(i));
        }
        assert_eq!(cache.get(key(10), 60), Some(10));
        // At 102, two entries are dead: a new one takes a dead slot, not a live one.
        cache.insert(key(11), 11, 1000, 102);
        assert_eq!(cache.get(key(3), 102), Some(3));
        assert_eq!(cache.get(key(10), 102), Some(10));
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn inserting_a_key_again_replaces_its_entry() {
        let cache = TokenCache::new(4);
        cache.insert(key(1), "old", 100, 0);
        cache.insert(key(1), "new", 100, 0);
        assert_eq!(cache.get(key(1), 1), Some("new"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn remove_forgets() {
        let cache = TokenCache::new(10);
        cache.insert(key(1), "a", 100, 0);
        cache.remove(key(1));
        assert_eq!(cache.get(key(1), 1), None);
    }
}
