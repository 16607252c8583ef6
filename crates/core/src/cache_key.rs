//! Cache keys for tokens: a keyed hash, never the token.
//!
//! HMAC-SHA-256 with a key drawn at random once per process, so that a cache dump or a log of
//! keys reveals nothing a token guess could be checked against offline.

use std::sync::LazyLock;

use aws_lc_rs::hmac;

use crate::secret::BearerToken;

static KEY: LazyLock<hmac::Key> = LazyLock::new(|| {
    let mut bytes = [0u8; 32];
    // If the system has no randomness the key is still secret-less but unique per token;
    // aws-lc's RNG does not fail on supported platforms.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hmac::Key::new(hmac::HMAC_SHA256, &bytes)
});

/// The keyed hash of a token, used as every cache's key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// Hashes a token.
    pub fn of(token: &BearerToken) -> Self {
        let tag = hmac::sign(&KEY, token.expose().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Self(out)
    }

    /// Its first eight bytes: random (an HMAC output), so a table may place by them.
    pub fn prefix(&self) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(word)
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// The hot-path cache key: a per-process keyed mix of the token's last 32 bytes, which for a
/// signed or random token are signature or random bytes. It costs a few multiplications; because
/// it is short and not cryptographic, a cache using it must confirm a hit by comparing the whole
/// token (kept in the entry, as the principal holds it anyway), so a collision is only a miss.
/// Nothing is inserted under such a key before the token passed every check, so choosing
/// colliding tokens gains an attacker nothing.
#[derive(Debug, Clone)]
pub struct LookupKeys {
    seeds: [u64; 4],
}

impl Default for LookupKeys {
    fn default() -> Self {
        let mut bytes = [0u8; 32];
        // A failure leaves a fixed key: keys then stay correct (hits are confirmed), only
        // predictable, which the design tolerates.
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        let mut seeds = [0u64; 4];
        for (seed, chunk) in seeds.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            *seed = u64::from_le_bytes(word) | 1;
        }
        Self { seeds }
    }
}

impl LookupKeys {
    /// A key space with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lookup key of a token.
    pub fn of(&self, token: &str) -> u64 {
        self.of_bytes(token.as_bytes())
    }

    /// The key of a token given as the bytes it was sent as.
    pub fn of_bytes(&self, bytes: &[u8]) -> u64 {
        let mut tail = [0u8; 32];
        let take = bytes.len().min(32);
        tail[32 - take..].copy_from_slice(&bytes[bytes.len() - take..]);
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&tail[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let [k0, k1, k2, k3] = self.seeds;
        let a = mix(word(0) ^ k0, word(1) ^ k1);
        let b = mix(word(2) ^ k2, word(3) ^ k3);
        mix(a ^ (bytes.len() as u64), b ^ k0.rotate_left(17))
    }
}

/// The 128-bit multiply-fold mix (as in wyhash and foldhash).
fn mix(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_share_a_key_and_the_key_hides_the_token() {
        let a = TokenKey::of(&BearerToken::new("token-a"));
        assert_eq!(a, TokenKey::of(&BearerToken::new("token-a")));
        assert_ne!(a, TokenKey::of(&BearerToken::new("token-b")));
        assert!(!format!("{a:?}").contains("token-a"));
    }

    #[test]
    fn lookup_keys_are_stable_per_process_spread_and_seeded() {
        let keys = LookupKeys::new();
        assert_eq!(keys.of("abc.def.ghi"), keys.of("abc.def.ghi"));
        assert_eq!(keys.of("x"), keys.of_bytes(b"x"));
        // Distinct tails give distinct keys (10,000 tokens: a collision would be a broken mix).
        let distinct: std::collections::HashSet<u64> = (0..10_000)
            .map(|i| keys.of(&format!("header.payload.signature-{i:08}")))
            .collect();
        assert_eq!(distinct.len(), 10_000);
        // Another key space disagrees: keys cannot be precomputed.
        assert_ne!(LookupKeys::new().of("abc.def.ghi"), keys.of("abc.def.ghi"));
        // Only the tail counts (a hit is confirmed by the whole token).
        let long = "a".repeat(100);
        assert_eq!(keys.of(&format!("x{long}")), keys.of(&format!("y{long}")));
    }
}
