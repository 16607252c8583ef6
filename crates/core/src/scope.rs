//! Scopes as validated types (RFC 6749 §3.3), parsed once.

use std::collections::BTreeSet;
use std::fmt;

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3), so no spaces, quotes or
/// backslashes. Checked at construction.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeToken(Box<str>);

/// A string that is not a valid scope token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a valid scope token (RFC 6749 §3.3: printable ASCII, no space, `\"` or `\\`)"
)]
pub struct InvalidScope(pub String);

impl ScopeToken {
    /// Validates and wraps one scope token.
    ///
    /// ```
    /// use portcullis_core::ScopeToken;
    /// assert!(ScopeToken::new("orders:read").is_ok());
    /// assert!(ScopeToken::new("two words").is_err());
    /// ```
    pub fn new(token: &str) -> Result<Self, InvalidScope> {
        if Self::is_valid(token) {
            Ok(Self(token.into()))
        } else {
            Err(InvalidScope(token.escape_debug().to_string()))
        }
    }

    /// Whether `token` satisfies the RFC 6749 §3.3 grammar. Usable in `const` context.
    pub const fn is_valid(token: &str) -> bool {
        let bytes = token.as_bytes();
        if bytes.is_empty() {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !(b == 0x21 || (b >= 0x23 && b <= 0x5B) || (b >= 0x5D && b <= 0x7E)) {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ScopeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ScopeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The scopes granted to a token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<ScopeToken>);

impl Scopes {
    /// No scopes.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-delimited `scope` value (RFC 6749 §3.3). Invalid tokens are dropped: a
    /// token cannot grant a scope that no route can name.
    pub fn from_space_delimited(value: &str) -> Self {
        value
            .split(' ')
            .filter_map(|s| ScopeToken::new(s).ok())
            .collect()
    }

    /// Whether the scope is granted.
    pub fn contains(&self, scope: &str) -> bool {
        // BTreeSet<ScopeToken> cannot be queried by &str without a Borrow impl that would
        // bypass validation; the sets are small, so a scan is as fast.
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// The granted scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &ScopeToken> {
        self.0.iter()
    }

    /// How many scopes are granted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no scope is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds scopes.
    pub fn extend(&mut self, other: impl IntoIterator<Item = ScopeToken>) {
        self.0.extend(other);
    }
}

impl FromIterator<ScopeToken> for Scopes {
    fn from_iter<I: IntoIterator<Item = ScopeToken>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

/// What a route requires of the caller's scopes. Deny-all when empty `AnyOf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopePolicy {
    /// Every listed scope is needed.
    AllOf(Vec<ScopeToken>),
    /// At least one listed scope is needed.
    AnyOf(Vec<ScopeToken>),
}

impl ScopePolicy {
    /// Requires all of the given scopes.
    pub fn all_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self::AllOf(parse_all(scopes)?))
    }

    /// Requires at least one of the given scopes.
    pub fn any_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self::AnyOf(parse_all(scopes)?))
    }

    /// Whether `granted` satisfies the policy.
    pub fn is_satisfied_by(&self, granted: &Scopes) -> bool {
        match self {
            Self::AllOf(needed) => needed.iter().all(|s| granted.contains(s.as_str())),
            Self::AnyOf(options) => options.iter().any(|s| granted.contains(s.as_str())),
        }
    }

    /// The value of the `scope` attribute of the `insufficient_scope` challenge (RFC 6750 §3):
    /// the scopes this route names, space-delimited.
    pub fn challenge_scope(&self) -> String {
        let (Self::AllOf(list) | Self::AnyOf(list)) = self;
        list.iter()
            .map(ScopeToken::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A sentence for `error_description`.
    pub fn describe(&self) -> String {
        match self {
            Self::AllOf(list) if list.len() == 1 => {
                format!("this resource needs the scope {}", list[0])
            }
            Self::AllOf(_) => format!(
                "this resource needs all of the scopes {}",
                self.challenge_scope()
            ),
            Self::AnyOf(_) => format!(
                "this resource needs one of the scopes {}",
                self.challenge_scope()
            ),
        }
    }
}

fn parse_all<I, S>(scopes: I) -> Result<Vec<ScopeToken>, InvalidScope>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    scopes
        .into_iter()
        .map(|s| ScopeToken::new(s.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_grammar_follows_rfc6749() {
        for ok in ["a", "orders:read", "https://api/x.read", "!#[]~"] {
            assert!(ScopeToken::is_valid(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb", "a\u{7f}"] {
            assert!(!ScopeToken::is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn space_delimited_scopes_drop_empty_and_invalid_parts() {
        let scopes = Scopes::from_space_delimited("  a b\"x  c ");
        assert_eq!(scopes.to_string(), "a c");
    }

    #[test]
    fn policies_check_all_and_any() {
        let granted = Scopes::from_space_delimited("a b");
        assert!(
            ScopePolicy::all_of(["a", "b"])
                .unwrap()
                .is_satisfied_by(&granted)
        );
        assert!(
            !ScopePolicy::all_of(["a", "c"])
                .unwrap()
                .is_satisfied_by(&granted)
        );
        assert!(
            ScopePolicy::any_of(["c", "b"])
                .unwrap()
                .is_satisfied_by(&granted)
        );
        assert!(
            !ScopePolicy::any_of(["c", "d"])
                .unwrap()
                .is_satisfied_by(&granted)
        );
        let empty_any: [&str; 0] = [];
        assert!(
            !ScopePolicy::any_of(empty_any)
                .unwrap()
                .is_satisfied_by(&granted)
        );
        assert!(ScopePolicy::all_of(["bad scope"]).is_err());
    }
}
