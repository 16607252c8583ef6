//! Step 4: the validated caller.
//!
//! A [`Principal`] has the same shape whichever validator made it (local JWT or introspection),
//! so handlers never care how the token was checked. Cloning is cheap (one `Arc`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::scope::Scopes;
use crate::secret::BearerToken;

/// A JSON object of claims.
pub type Claims = Map<String, Value>;

/// The caller, after its token was validated.
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

#[derive(Clone)]
struct Inner {
    subject: Option<String>,
    issuer: String,
    client_id: Option<String>,
    scopes: Scopes,
    authorities: Vec<String>,
    expires_at: Option<i64>,
    claims: Claims,
    userinfo: Option<Claims>,
    token: BearerToken,
}

impl Principal {
    /// Builds a principal from validated claims with the default mapping
    /// ([`ClaimMapping::default`](crate::mapping::ClaimMapping)): `sub` → subject; `iss` →
    /// issuer; `client_id`, else `azp`, `cid` (Okta) or `appid` (Entra ID v1) → client id;
    /// `scope` and `scp` (space-delimited string or array) → scopes; `exp` → expiry; no
    /// authorities.
    ///
    /// Only validators call this, after every check passed.
    pub fn from_validated_claims(token: BearerToken, claims: Claims) -> Self {
        crate::mapping::ClaimMapping::default().principal(token, claims)
    }

    pub(crate) fn from_mapped(
        token: BearerToken,
        claims: Claims,
        scopes: Scopes,
        authorities: Vec<String>,
        client_id_as_subject: bool,
    ) -> Self {
        let string = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let issuer = string("iss").unwrap_or_default();
        let client_id = ["client_id", "azp", "cid", "appid"]
            .iter()
            .find_map(|name| string(name));
        let subject =
            string("sub").or_else(|| client_id_as_subject.then(|| client_id.clone()).flatten());
        let expires_at = claims.get("exp").and_then(numeric_date);
        Self(Arc::new(Inner {
            subject,
            issuer,
            client_id,
            scopes,
            authorities,
            expires_at,
            claims,
            userinfo: None,
            token,
        }))
    }

    /// The subject (`sub`): who the token is about. Client-credentials tokens of some IdPs have
    /// none (often only in introspection answers); with `claims.client-id-as-subject` the client
    /// id stands in for a missing `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The issuer (`iss`), or the configured issuer when the validator vouches for it.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The OAuth client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// A human-readable user name: `username` (RFC 7662), else `preferred_username` (OIDC).
    pub fn username(&self) -> Option<&str> {
        ["username", "preferred_username"]
            .iter()
            .find_map(|name| self.0.claims.get(*name).and_then(Value::as_str))
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.0.scopes
    }

    /// The mapped authorities (roles, groups; `portcullis.claims.authorities`), with their prefix.
    pub fn authorities(&self) -> &[String] {
        &self.0.authorities
    }

    /// Whether an authority is held.
    pub fn has_authority(&self, authority: &str) -> bool {
        self.0.authorities.iter().any(|a| a == authority)
    }

    /// Whether a scope is granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.contains(scope)
    }

    /// Expiry as Unix seconds (`exp`).
    pub fn expires_at_unix(&self) -> Option<i64> {
        self.0.expires_at
    }

    /// Expiry as a time.
    pub fn expires_at(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.0.expires_at?).ok()?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    }

    /// Every claim of the token (or of the introspection answer).
    pub fn claims(&self) -> &Claims {
        &self.0.claims
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }

    /// The claims as your own type.
    ///
    /// ```
    /// # use portcullis_core::{BearerToken, Principal};
    /// #[derive(serde::Deserialize)]
    /// struct Mine { sub: String, tenant: String }
    /// let claims = serde_json::json!({"sub": "alice", "tenant": "acme"});
    /// let principal = Principal::from_validated_claims(
    ///     BearerToken::new("t"), claims.as_object().unwrap().clone());
    /// let mine: Mine = principal.claims_as().unwrap();
    /// assert_eq!(mine.tenant, "acme");
    /// ```
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.0.claims.clone()))
    }

    /// Userinfo claims, when an enricher fetched them. They never override token claims and
    /// never grant scopes.
    pub fn userinfo(&self) -> Option<&Claims> {
        self.0.userinfo.as_ref()
    }

    /// A copy with userinfo claims attached.
    #[must_use]
    pub fn with_userinfo(&self, userinfo: Claims) -> Self {
        let mut inner = (*self.0).clone();
        inner.userinfo = Some(userinfo);
        Self(Arc::new(inner))
    }

    /// The access token the caller sent, for relaying it to a downstream service.
    pub fn token(&self) -> &BearerToken {
        &self.0.token
    }
}

/// A JSON `NumericDate`: an integer, or a float (some IdPs send `1.7e9`), truncated.
pub fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.0.subject)
            .field("issuer", &self.0.issuer)
            .field("client_id", &self.0.client_id)
            .field("scopes", &self.0.scopes)
            .field("expires_at", &self.0.expires_at)
            .field("claims", &format_args!("{} claims", self.0.claims.len()))
            .field("token", &self.0.token)
            .finish()
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.subject, &self.0.client_id) {
            (Some(sub), _) => write!(f, "{sub}"),
            (None, Some(client)) => write!(f, "client {client}"),
            (None, None) => f.write_str("<no subject>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: Value) -> Principal {
        Principal::from_validated_claims(
            BearerToken::new("secret-token"),
            claims.as_object().unwrap().clone(),
        )
    }

    #[test]
    fn standard_claims_map_onto_the_principal() {
        let p = principal(json!({
            "sub": "alice", "iss": "https://idp", "client_id": "web", "exp": 1_700_000_000,
            "scope": "a b", "scp": ["c"]
        }));
        assert_eq!(p.subject(), Some("alice"));
        assert_eq!(p.issuer(), "https://idp");
        assert_eq!(p.client_id(), Some("web"));
        assert_eq!(p.scopes().to_string(), "a b c");
        assert_eq!(p.expires_at_unix(), Some(1_700_000_000));
    }

    #[test]
    fn scp_as_string_and_float_exp_are_tolerated() {
        let p = principal(json!({"scp": "x y", "exp": 1.7e9, "azp": "spa"}));
        assert_eq!(p.scopes().to_string(), "x y");
        assert_eq!(p.expires_at_unix(), Some(1_700_000_000));
        assert_eq!(p.client_id(), Some("spa"));
    }

    #[test]
    fn debug_and_display_never_show_the_token() {
        let p = principal(json!({"sub": "alice"}));
        assert!(!format!("{p:?}").contains("secret-token"));
        assert_eq!(p.to_string(), "alice");
        assert_eq!(p.token().expose(), "secret-token");
    }
}
