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

/// The hot-path cache key: a per-process keyed hash (SipHash, random key) of the token's last 32
/// bytes, which for a signed or random token are signature or random bytes. Cheap enough for
/// every request; because it is short, a cache using it must confirm a hit by comparing the whole
/// token (kept in the entry, as the principal holds it anyway), so a collision is only a miss.
#[derive(Debug, Clone, Default)]
pub struct LookupKeys {
    state: std::hash::RandomState,
}

impl LookupKeys {
    /// A key space with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lookup key of a token.
    pub fn of(&self, token: &str) -> u64 {
        use std::hash::BuildHasher as _;
        let bytes = token.as_bytes();
        self.state
            .hash_one(&bytes[bytes.len().saturating_sub(32)..])
    }
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
}
