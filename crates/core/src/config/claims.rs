//! `[portcullis.claims]`: where scopes and authorities come from.

use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};

/// `[portcullis.claims]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClaimsConfig {
    /// Claims that hold scopes (space-delimited strings or arrays).
    pub scopes: Vec<String>,
    /// Claims that hold authorities (roles, groups), each with a prefix.
    pub authorities: Vec<AuthorityClaim>,
    /// A token without `sub` (a machine token: client credentials) gets its client id as the
    /// subject. Some IdPs' introspection answers omit `sub` where their JWTs carry the client id
    /// (RFC 9068 §2.2), so with this on `Principal::subject` is the same in every mode.
    pub client_id_as_subject: bool,
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        Self {
            scopes: vec!["scope".into(), "scp".into()],
            authorities: Vec::new(),
            client_id_as_subject: false,
        }
    }
}

/// `[[portcullis.claims.authorities]]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthorityClaim {
    /// A dotted claim path: `roles`, `groups`, `realm_access.roles`,
    /// `resource_access.orders-api.roles`. A claim named exactly this is taken first, so a
    /// namespaced claim such as `https://example.com/roles` is addressed as written.
    pub path: String,
    /// Put before each value (`ROLE_`, as Spring does).
    #[serde(default)]
    pub prefix: String,
}

impl ClaimsConfig {
    pub(super) fn check(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        for (i, source) in self.authorities.iter().enumerate() {
            if source.path.is_empty() || source.path.split('.').any(str::is_empty) {
                problem(
                    "claims.authorities",
                    format!("[{i}] path = {:?}", source.path),
                    "a claim path is dot-separated names, none empty (realm_access.roles)".into(),
                );
            }
        }
    }
}
