//! `[portcullis.client]` and `[[portcullis.downstream]]`: the service's own client and the
//! downstreams its calls carry identity to.

use serde::{Deserialize, Serialize};

use super::{ClientAssertionAudience, ClientAuthMethod};
#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};
use crate::secret::Secret;

/// `[portcullis.client]`: the service's own client at the authorization server. When
/// `client-id` is unset, the introspection client (`[portcullis.introspection]`) is used.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientConfig {
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<Secret>,
    /// Client authentication method.
    pub auth_method: ClientAuthMethod,
    /// PEM (PKCS#8) private key for `private_key_jwt`.
    pub private_key_file: Option<String>,
    /// `kid` for the assertion header.
    pub private_key_id: Option<String>,
    /// The `aud` of the client assertion: the issuer (default) or the token endpoint's URL
    /// (Okta).
    pub client_assertion_audience: ClientAssertionAudience,
    /// The token endpoint; from discovery when unset.
    pub token_endpoint: Option<String>,
}

/// How a downstream call carries the caller's identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The caller's access token, unchanged (the downstream must accept this service's audience).
    #[default]
    Relay,
    /// This service's own token (client credentials grant): calls not made for a user.
    ClientCredentials,
    /// The caller's token exchanged for one addressed to the downstream (RFC 8693).
    Exchange,
}

/// `[[portcullis.downstream]]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DownstreamConfig {
    /// A name for logs and errors.
    pub name: String,
    /// Calls to URLs under this base get a token; calls elsewhere are refused.
    pub base_url: String,
    /// How the token is obtained.
    #[serde(default)]
    pub strategy: Strategy,
    /// `audience` to ask for (exchange, client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// `resource` (RFC 8707) to ask for (exchange, client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Scopes to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

impl PortcullisConfig {
    /// Whether an outbound client is configured (`[portcullis.client]`, else the introspection
    /// client).
    pub fn has_outbound_client(&self) -> bool {
        self.client.client_id.is_some() || self.introspection.client_id.is_some()
    }

    pub(super) fn check_downstream(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        super::introspection::check_assertion_audience(
            "client",
            self.client.client_assertion_audience,
            self.client.auth_method,
            problem,
        );
        if let Some(uri) = &self.client.token_endpoint
            && let Err(reason) = check_endpoint(uri, self.dangerous.allow_http_issuer)
        {
            problem("client.token-endpoint", uri.clone(), reason);
        }
        let mut names = std::collections::HashSet::new();
        let mut bases = std::collections::HashSet::new();
        for (i, d) in self.downstream.iter().enumerate() {
            let at = format!("[{i}] name = {:?}", d.name);
            if d.name.is_empty() || !names.insert(d.name.as_str()) {
                problem(
                    "downstream",
                    at.clone(),
                    "every downstream needs a name of its own".into(),
                );
            }
            let base = d.base_url.trim_end_matches('/');
            if let Err(reason) = check_endpoint(&d.base_url, self.dangerous.allow_http_issuer) {
                problem(
                    "downstream",
                    format!("{at}, base-url = {:?}", d.base_url),
                    reason,
                );
            } else if !bases.insert(base) {
                problem(
                    "downstream",
                    format!("{at}, base-url = {:?}", d.base_url),
                    "another downstream has the same base-url".into(),
                );
            }
            for scope in &d.scopes {
                if !crate::scope::ScopeToken::is_valid(scope) {
                    problem(
                        "downstream",
                        format!("{at}, scopes = {scope:?}"),
                        "not a valid scope token (RFC 6749 §3.3)".into(),
                    );
                }
            }
            match d.strategy {
                Strategy::Relay => {
                    if let Some(aud) = &d.audience
                        && !self.audience.contains(aud)
                    {
                        problem(
                            "downstream",
                            format!("{at}, audience = {aud:?}"),
                            format!(
                                "strategy \"relay\" sends the caller's token unchanged, whose audience is this service's ({:?}); a downstream that needs {aud:?} needs strategy \"exchange\"",
                                self.audience
                            ),
                        );
                    }
                    if d.resource.is_some() || !d.scopes.is_empty() {
                        problem("downstream", at.clone(), "strategy \"relay\" cannot ask for a resource or scopes; use \"exchange\"".into());
                    }
                }
                Strategy::Exchange | Strategy::ClientCredentials => {
                    if d.strategy == Strategy::Exchange
                        && d.audience.is_none()
                        && d.resource.is_none()
                    {
                        problem("downstream", at.clone(), "strategy \"exchange\" needs the audience (or resource) to exchange the caller's token for".into());
                    }
                    if !self.has_outbound_client() {
                        problem(
                            "downstream",
                            at.clone(),
                            "this strategy needs this service's client at the IdP: set portcullis.client.client-id (or the introspection client)".into(),
                        );
                    }
                }
            }
        }
    }
}
