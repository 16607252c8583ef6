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

/// Whether every listed item is needed, or one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Matching {
    /// Every item.
    All,
    /// At least one item.
    Any,
}

/// What a policy looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The granted scopes (RFC 6749 §3.3 tokens).
    Scopes,
    /// The mapped authorities (roles, groups; see `portcullis.claims.authorities`).
    Authorities,
}

#[derive(Clone, Debug)]
enum Items {
    Static(&'static [&'static str]),
    Owned(std::sync::Arc<[String]>),
}

/// What a route requires of the caller: all or any of a list of scopes, or of authorities.
///
/// One type behind every way of declaring a requirement: the `#[requires_scopes]` annotation,
/// the `RequireScopes<R>` extractor, the `require_scopes` route layer and `[[portcullis.rules]]`.
/// Scope literals are checked against the RFC 6749 §3.3 grammar when the policy is built; in a
/// `const` the check runs at compile time.
///
/// ```
/// use portcullis_core::ScopePolicy;
/// const ORDERS_READ: ScopePolicy = ScopePolicy::all_static(&["orders:read"]);
/// assert_eq!(ORDERS_READ.challenge_scope().as_deref(), Some("orders:read"));
/// ```
#[derive(Clone, Debug)]
pub struct ScopePolicy {
    matching: Matching,
    target: Target,
    items: Items,
}

impl PartialEq for ScopePolicy {
    fn eq(&self, other: &Self) -> bool {
        self.matching == other.matching
            && self.target == other.target
            && self.items().eq(other.items())
    }
}

impl Eq for ScopePolicy {}

const fn check_static(target: Target, items: &'static [&'static str]) {
    let mut i = 0;
    while i < items.len() {
        let ok = match target {
            Target::Scopes => ScopeToken::is_valid(items[i]),
            Target::Authorities => is_valid_authority(items[i]),
        };
        if !ok {
            panic!(
                "invalid scope or authority literal (scopes: RFC 6749 §3.3, printable ASCII without space, quote or backslash)"
            );
        }
        i += 1;
    }
}

/// An authority (role, group) is any non-empty text without control characters.
pub const fn is_valid_authority(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] < 0x20 || bytes[i] == 0x7f {
            return false;
        }
        i += 1;
    }
    true
}

impl ScopePolicy {
    /// Every listed scope, from literals (checked at compile time in a `const`).
    pub const fn all_static(scopes: &'static [&'static str]) -> Self {
        Self::from_static(Matching::All, Target::Scopes, scopes)
    }

    /// One of the listed scopes, from literals.
    pub const fn any_static(scopes: &'static [&'static str]) -> Self {
        Self::from_static(Matching::Any, Target::Scopes, scopes)
    }

    /// A policy from literals.
    pub const fn from_static(
        matching: Matching,
        target: Target,
        items: &'static [&'static str],
    ) -> Self {
        check_static(target, items);
        Self {
            matching,
            target,
            items: Items::Static(items),
        }
    }

    /// Every listed scope.
    pub fn all_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Matching::All, Target::Scopes, scopes)
    }

    /// At least one listed scope.
    pub fn any_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Matching::Any, Target::Scopes, scopes)
    }

    /// A policy from runtime values, each checked.
    pub fn new<I, S>(matching: Matching, target: Target, items: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let items: Vec<String> = items
            .into_iter()
            .map(|s| {
                let s = s.as_ref();
                let ok = match target {
                    Target::Scopes => ScopeToken::is_valid(s),
                    Target::Authorities => is_valid_authority(s),
                };
                if ok {
                    Ok(s.to_owned())
                } else {
                    Err(InvalidScope(s.escape_debug().to_string()))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            matching,
            target,
            items: Items::Owned(items.into()),
        })
    }

    /// All or any.
    pub fn matching(&self) -> Matching {
        self.matching
    }

    /// Scopes or authorities.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The listed scopes or authorities.
    pub fn items(&self) -> impl Iterator<Item = &str> {
        let (fixed, owned): (&[&str], &[String]) = match &self.items {
            Items::Static(items) => (items, &[]),
            Items::Owned(items) => (&[], items),
        };
        fixed
            .iter()
            .copied()
            .chain(owned.iter().map(String::as_str))
    }

    /// Whether the principal satisfies the policy. An empty `any` list is satisfied by nobody.
    pub fn allows(&self, principal: &crate::Principal) -> bool {
        let has = |item: &str| match self.target {
            Target::Scopes => principal.has_scope(item),
            Target::Authorities => principal.has_authority(item),
        };
        match self.matching {
            Matching::All => self.items().all(has),
            Matching::Any => self.items().any(has),
        }
    }

    /// The `scope` attribute of the `insufficient_scope` challenge (RFC 6750 §3): the scopes the
    /// route names, space-delimited; `None` for authority policies (they are not scopes).
    pub fn challenge_scope(&self) -> Option<String> {
        (self.target == Target::Scopes).then(|| self.items().collect::<Vec<_>>().join(" "))
    }

    /// A sentence for `error_description`.
    pub fn describe(&self) -> String {
        let what = match self.target {
            Target::Scopes => "scope",
            Target::Authorities => "authority",
        };
        let list = self.items().collect::<Vec<_>>();
        match (self.matching, list.len()) {
            (_, 1) => format!("this resource needs the {what} {}", list[0]),
            (Matching::All, _) => format!(
                "this resource needs all of the {what} values {}",
                list.join(" ")
            ),
            (Matching::Any, _) => format!(
                "this resource needs one of the {what} values {}",
                list.join(", ")
            ),
        }
    }
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

    fn principal(claims: serde_json::Value) -> crate::Principal {
        crate::Principal::from_validated_claims(
            crate::BearerToken::new("t"),
            claims.as_object().unwrap().clone(),
        )
    }

    #[test]
    fn policies_check_all_and_any() {
        let p = principal(serde_json::json!({"scope": "a b"}));
        assert!(ScopePolicy::all_of(["a", "b"]).unwrap().allows(&p));
        assert!(!ScopePolicy::all_of(["a", "c"]).unwrap().allows(&p));
        assert!(ScopePolicy::any_of(["c", "b"]).unwrap().allows(&p));
        assert!(!ScopePolicy::any_of(["c", "d"]).unwrap().allows(&p));
        let empty_any: [&str; 0] = [];
        assert!(!ScopePolicy::any_of(empty_any).unwrap().allows(&p));
        assert!(ScopePolicy::all_of(["bad scope"]).is_err());
        const STATIC: ScopePolicy = ScopePolicy::any_static(&["x", "a"]);
        assert!(STATIC.allows(&p));
        assert_eq!(STATIC, ScopePolicy::any_of(["x", "a"]).unwrap());
    }

    #[test]
    fn authority_policies_look_at_authorities_and_have_no_challenge_scope() {
        let p = principal(serde_json::json!({"scope": "ROLE_admin"}));
        let policy = ScopePolicy::new(Matching::All, Target::Authorities, ["ROLE_admin"]).unwrap();
        assert!(!policy.allows(&p), "a scope is not an authority");
        assert_eq!(policy.challenge_scope(), None);
        assert!(policy.describe().contains("authority ROLE_admin"));
        assert!(ScopePolicy::new(Matching::All, Target::Authorities, ["Domain Users"]).is_ok());
    }
}

/// Scopes a handler declared at compile time (`#[requires_scopes]`), gathered at link time.
#[doc(hidden)]
#[derive(Debug)]
pub struct DeclaredScopes {
    /// The scope tokens.
    pub scopes: &'static [&'static str],
}

inventory::collect!(DeclaredScopes);

static DECLARED_AT_RUNTIME: std::sync::Mutex<BTreeSet<ScopeToken>> =
    std::sync::Mutex::new(BTreeSet::new());

/// Records scopes that a route requires (route layers and extractors call this when they are
/// built), for the `scopes_supported` of the protected-resource metadata (RFC 9728).
pub fn declare(policy: &ScopePolicy) {
    if policy.target() != Target::Scopes {
        return;
    }
    let mut declared = crate::sync::lock(&DECLARED_AT_RUNTIME);
    for item in policy.items() {
        if let Ok(token) = ScopeToken::new(item) {
            declared.insert(token);
        }
    }
}

/// Every scope the routes of this process declared: by `#[requires_scopes]` (collected at link
/// time) and by route layers built so far. Sorted, without duplicates.
pub fn declared() -> BTreeSet<ScopeToken> {
    let mut all = crate::sync::lock(&DECLARED_AT_RUNTIME).clone();
    for declared in inventory::iter::<DeclaredScopes> {
        all.extend(
            declared
                .scopes
                .iter()
                .filter_map(|s| ScopeToken::new(s).ok()),
        );
    }
    all
}
