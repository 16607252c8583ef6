//! `[portcullis.resource-metadata]`: RFC 9728 protected-resource metadata.

use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};

/// `[portcullis.resource-metadata]`: RFC 9728 protected-resource metadata.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ResourceMetadataConfig {
    /// Serve `/.well-known/oauth-protected-resource` and name it in every challenge
    /// (`resource_metadata`).
    pub enabled: bool,
    /// This API's resource identifier: its public URL as clients reach it (an https URL).
    /// Default: the origin each request reached (`http://{Host}` for a loopback host,
    /// `https://{Host}` otherwise).
    pub resource: Option<String>,
    /// Scopes to announce besides the ones routes and rules require.
    pub scopes_supported: Vec<String>,
    /// A human-readable name (`resource_name`).
    pub resource_name: Option<String>,
    /// A page for developers (`resource_documentation`).
    pub resource_documentation: Option<String>,
}

impl Default for ResourceMetadataConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            resource: None,
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
        }
    }
}

impl ResourceMetadataConfig {
    pub(super) fn check(
        &self,
        allow_http: bool,
        problem: &mut impl FnMut(&'static str, String, String),
    ) {
        if let Some(resource) = &self.resource {
            let parsed = url::Url::parse(resource);
            let reason = match &parsed {
                Err(e) => Some(format!("not an absolute URL: {e}")),
                Ok(u) if u.fragment().is_some() => {
                    Some("a resource identifier has no fragment (RFC 9728 §1.2)".to_owned())
                }
                Ok(_) => check_endpoint(resource, allow_http).err(),
            };
            if let Some(reason) = reason {
                problem("resource-metadata.resource", resource.clone(), reason);
            }
        }
        for scope in &self.scopes_supported {
            if let Err(e) = crate::scope::ScopeToken::new(scope) {
                problem(
                    "resource-metadata.scopes-supported",
                    scope.clone(),
                    e.to_string(),
                );
            }
        }
    }
}
