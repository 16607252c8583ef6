//! `[portcullis.introspection]` and how Portcullis authenticates to the authorization server
//! (shared with `[portcullis.client]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Mode;
#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};
use crate::secret::Secret;

/// The `aud` of a `private_key_jwt` client assertion (RFC 7523 §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAssertionAudience {
    /// The issuer identifier: what draft-ietf-oauth-rfc7523bis asks for, after the 2025
    /// audience-injection findings (an assertion for one endpoint cannot be replayed to another
    /// server that names the same endpoint).
    #[default]
    Issuer,
    /// The full URL of the endpoint being called (`…/v1/introspect`, `…/v1/token`): what Okta
    /// requires.
    Endpoint,
}

/// How Portcullis authenticates itself to the authorization server (RFC 6749 §2.3, RFC 7523).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret.
    None,
    /// A JWT assertion signed with the client's private key (RFC 7523).
    PrivateKeyJwt,
}

/// `[portcullis.introspection]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct IntrospectionConfig {
    /// The introspection endpoint; from discovery when unset.
    pub endpoint: Option<String>,
    /// The client id Portcullis authenticates with.
    pub client_id: Option<String>,
    /// The client secret (`client_secret_basic`, `client_secret_post`).
    pub client_secret: Option<Secret>,
    /// How Portcullis authenticates to the introspection endpoint.
    pub auth_method: ClientAuthMethod,
    /// PEM (PKCS#8) private key for `private_key_jwt`: RSA, EC P-256 or Ed25519.
    pub private_key_file: Option<String>,
    /// `kid` to put in the client assertion header, when the IdP needs one.
    pub private_key_id: Option<String>,
    /// The `aud` of the client assertion: the issuer (default) or the introspection endpoint's
    /// URL (Okta).
    pub client_assertion_audience: ClientAssertionAudience,
    /// How long an active answer is reused (never past the token's `exp`). A revoked token keeps
    /// working here for at most this long (default 30 s).
    #[serde(with = "duration")]
    pub cache_ttl: Duration,
    /// How long an inactive answer is reused.
    #[serde(with = "duration")]
    pub inactive_cache_ttl: Duration,
    /// Most active answers kept (inactive ones have their own cache, an eighth of this size);
    /// `0` turns caching off: every request is introspected.
    pub cache_capacity: u64,
    /// Accept answers without `aud` (for IdPs that omit it on tokens issued without a resource).
    pub allow_missing_aud: bool,
}

impl Default for IntrospectionConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            client_id: None,
            client_secret: None,
            auth_method: ClientAuthMethod::default(),
            private_key_file: None,
            private_key_id: None,
            client_assertion_audience: ClientAssertionAudience::Issuer,
            cache_ttl: Duration::from_secs(30),
            inactive_cache_ttl: Duration::from_secs(10),
            cache_capacity: 10_000,
            allow_missing_aud: false,
        }
    }
}

/// `client-assertion-audience = "endpoint"` only means something for `private_key_jwt`: for
/// `section` (`introspection` or `client`).
pub(super) fn check_assertion_audience(
    section: &'static str,
    audience: ClientAssertionAudience,
    method: ClientAuthMethod,
    problem: &mut impl FnMut(&'static str, String, String),
) {
    if audience == ClientAssertionAudience::Endpoint && method != ClientAuthMethod::PrivateKeyJwt {
        let key = match section {
            "client" => "client.client-assertion-audience",
            _ => "introspection.client-assertion-audience",
        };
        let method = serde_json::to_value(method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        problem(
            key,
            "endpoint".into(),
            format!(
                "the assertion audience applies to auth-method = \"private_key_jwt\" only, and {section}.auth-method is \"{method}\": remove client-assertion-audience, or switch to private_key_jwt"
            ),
        );
    }
}

impl PortcullisConfig {
    pub(super) fn check_introspection(
        &self,
        problem: &mut impl FnMut(&'static str, String, String),
    ) {
        let i = &self.introspection;
        check_assertion_audience(
            "introspection",
            i.client_assertion_audience,
            i.auth_method,
            problem,
        );
        if let Some(uri) = &i.endpoint
            && let Err(reason) = check_endpoint(uri, self.dangerous.allow_http_issuer)
        {
            problem("introspection.endpoint", uri.clone(), reason);
        }
        if self.mode == Mode::Jwt {
            return;
        }
        if i.client_id.as_deref().is_none_or(str::is_empty) {
            problem(
                "introspection.client-id",
                "(not set)".into(),
                format!(
                    "mode = \"{}\" needs the client id this API introspects with (PORTCULLIS_INTROSPECTION__CLIENT_ID)",
                    if self.mode == Mode::Introspect {
                        "introspect"
                    } else {
                        "auto"
                    }
                ),
            );
        }
        match i.auth_method {
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost => {
                if i.client_secret
                    .as_ref()
                    .is_none_or(|s| s.expose().is_empty())
                {
                    problem(
                        "introspection.client-secret",
                        "(not set)".into(),
                        "introspection.auth-method needs a client secret (PORTCULLIS_INTROSPECTION__CLIENT_SECRET); use auth-method = \"none\" for a public client".into(),
                    );
                }
            }
            ClientAuthMethod::PrivateKeyJwt => {
                if i.private_key_file.is_none() {
                    problem(
                        "introspection.private-key-file",
                        "(not set)".into(),
                        "auth-method = \"private_key_jwt\" needs the PEM (PKCS#8) file of the client's private key".into(),
                    );
                }
            }
            ClientAuthMethod::None => {}
        }
    }
}
