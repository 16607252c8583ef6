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

/// A key of an [`AnswerCache`]: it says which slot of the table it goes to (its own bits are
/// random: a keyed hash of a token), and a hit is confirmed by comparing the whole key.
pub trait AnswerKey: Clone + Eq + std::hash::Hash + Send + Sync + 'static {
    /// The slot key: well spread, as the table places by its bits.
    fn slot(&self) -> u64;
}

impl AnswerKey for crate::cache_key::TokenKey {
    fn slot(&self) -> u64 {
        self.prefix()
    }
}

/// An answer for one token and one more thing (a downstream, an issuer).
impl AnswerKey for (crate::cache_key::TokenKey, usize) {
    fn slot(&self) -> u64 {
        self.0.prefix() ^ spread(self.1 as u64)
    }
}

/// An answer per small index (a downstream's own token).
impl AnswerKey for usize {
    fn slot(&self) -> u64 {
        spread(*self as u64)
    }
}

/// splitmix64's finaliser: spreads small integers over the whole `u64`.
fn spread(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Answers fetched from the authorization server per token (userinfo claims, outbound tokens):
/// each kept until its own deadline on the injected clock, at most `capacity` of them in a
/// [`TokenCache`], and fetched once for concurrent misses ([`crate::single_flight`]). Failures
/// are not kept. One mechanism for every cache of IdP answers, so a shared store has one place
/// to plug in.
pub struct AnswerCache<K: AnswerKey, V, E> {
    entries: TokenCache<(K, V)>,
    flight: crate::single_flight::SingleFlight<K, Result<(V, i64), E>>,
}

impl<K: AnswerKey, V, E> std::fmt::Debug for AnswerCache<K, V, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl<K: AnswerKey, V: Clone, E: Clone> AnswerCache<K, V, E> {
    /// A cache of at most `capacity` answers (`0`: one set, effectively a handful).
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: TokenCache::new(capacity),
            flight: crate::single_flight::SingleFlight::new(),
        }
    }

    /// The answer under `key`, while alive at `now` (Unix seconds).
    pub fn get(&self, key: &K, now: i64) -> Option<V> {
        self.entries.get_with(key.slot(), now, |(stored, value)| {
            (stored == key).then(|| value.clone())
        })
    }

    /// The answer under `key`, else the one `fetch` gives (with the Unix second it dies at),
    /// kept for later; concurrent callers for one key share one fetch. `clock` is read when the
    /// answer arrives.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        key: K,
        clock: &dyn crate::clock::Clock,
        fetch: F,
    ) -> Result<V, E>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(V, i64), E>>,
    {
        if let Some(value) = self.get(&key, clock.unix_seconds()) {
            return Ok(value);
        }
        let (value, dies_at) = self.flight.run(key.clone(), &fetch).await?;
        self.entries.insert(
            key.slot(),
            (key, value.clone()),
            dies_at,
            clock.unix_seconds(),
        );
        Ok(value)
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

    #[tokio::test]
    async fn answers_live_until_their_deadline_on_the_injected_clock_and_failures_are_not_kept() {
        use crate::cache_key::TokenKey;
        use crate::secret::BearerToken;
        let clock = crate::clock::ManualClock::at_unix(1_000);
        let cache: AnswerCache<TokenKey, &str, String> = AnswerCache::new(100);
        let key = TokenKey::of(&BearerToken::new("t"));
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let fetch = |answer: Result<(&'static str, i64), String>| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::ready(answer)
        };
        assert_eq!(
            cache
                .get_or_fetch(key, &clock, || fetch(Err("down".into())))
                .await,
            Err("down".into())
        );
        assert_eq!(
            cache
                .get_or_fetch(key, &clock, || fetch(Ok(("a", 1_010))))
                .await,
            Ok("a")
        );
        clock.advance(std::time::Duration::from_secs(9));
        assert_eq!(
            cache
                .get_or_fetch(key, &clock, || fetch(Ok(("b", 2_000))))
                .await,
            Ok("a"),
            "still alive"
        );
        clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(
            cache
                .get_or_fetch(key, &clock, || fetch(Ok(("b", 2_000))))
                .await,
            Ok("b"),
            "dead at its deadline"
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Another key in the same slot is a miss, never the other key's answer.
        let (other, index) = (TokenKey::of(&BearerToken::new("u")), 7usize);
        assert_eq!(cache.get(&other, 1_010), None);
        let pair: AnswerCache<(TokenKey, usize), &str, String> = AnswerCache::new(100);
        pair.get_or_fetch((key, index), &clock, || fetch(Ok(("x", 3_000))))
            .await
            .unwrap();
        assert_eq!(pair.get(&(key, 8), 1_010), None);
        assert_eq!(pair.get(&(key, index), 1_010), Some("x"));
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
