//! Values that must never be printed: bearer tokens and configured secrets.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

/// A bearer token as it arrived, kept whole for propagation but never printed.
///
/// `Debug` and `Display` show only its length, so a token cannot reach a log line by accident.
/// Cloning is cheap (the text is shared).
///
/// ```
/// use portcullis_core::BearerToken;
/// let token = BearerToken::new("eyJhbGciOi...");
/// assert_eq!(format!("{token}"), "<redacted token>");
/// assert_eq!(format!("{token:?}"), "BearerToken(<redacted, 13 bytes>)");
/// assert_eq!(token.expose(), "eyJhbGciOi...");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    /// Wraps a token.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// The token itself, for sending it on (propagation, introspection). Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken(<redacted, {} bytes>)", self.0.len())
    }
}

impl fmt::Display for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted token>")
    }
}

/// A configured secret (client secret, HMAC key). Deserializes from a string; prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for use on the wire. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_and_display_never_show_the_token() {
        let token = BearerToken::new("very-secret-token-value");
        assert!(!format!("{token:?}").contains("very-secret"));
        assert!(!format!("{token}").contains("very-secret"));
        assert!(!format!("{:?}", Some(token.clone())).contains("very-secret"));
    }

    #[test]
    fn secret_debug_display_and_serialize_are_masked() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
    }
}
