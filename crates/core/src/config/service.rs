//! What the service does around validation: `[portcullis.health]`, `[portcullis.discovery]`,
//! `[portcullis.token]`, `[portcullis.http]`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};

/// `[portcullis.health]`: what the starter's `Portcullis::health` shows, in the spirit of Spring
/// Boot Actuator's `show-details`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HealthConfig {
    /// Whether the report carries its components and their details (IdP URLs, the client id,
    /// the last IdP error). `never` by default: a health endpoint is usually public.
    pub show_details: ShowDetails,
}

/// `health.show-details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShowDetails {
    /// The overall status only (`{"status": "UP"}`).
    #[default]
    Never,
    /// Every component with its details: for a health endpoint only operators can reach.
    Always,
}

/// `[portcullis.discovery]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DiscoveryConfig {
    /// Fetch metadata and keys at startup and refuse to start when that fails.
    pub eager: bool,
    /// After a failed discovery or JWKS fetch, wait this long before trying again.
    #[serde(with = "duration")]
    pub retry_backoff: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            eager: false,
            retry_backoff: Duration::from_secs(2),
        }
    }
}

/// `[portcullis.token]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenConfig {
    /// Largest token accepted, in bytes.
    pub max_size: usize,
    /// Also read the `access_token` query parameter (RFC 6750 §2.3).
    pub allow_query_parameter: bool,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            max_size: crate::resolve::DEFAULT_MAX_TOKEN_BYTES,
            allow_query_parameter: false,
        }
    }
}

/// `[portcullis.http]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpConfig {
    /// Time to connect to the authorization server.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Time for a whole call to the authorization server.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Largest response body read from the authorization server.
    pub max_response_size: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let defaults = crate::http::HttpSettings::default();
        Self {
            connect_timeout: defaults.connect_timeout,
            timeout: defaults.timeout,
            max_response_size: defaults.max_response_bytes,
        }
    }
}

impl HttpConfig {
    /// The client settings.
    pub fn settings(&self) -> crate::http::HttpSettings {
        crate::http::HttpSettings {
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            max_response_bytes: self.max_response_size,
        }
    }
}

impl TokenConfig {
    pub(super) fn check(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        if self.max_size == 0 {
            problem("token.max-size", "0".into(), "must be at least 1".into());
        }
    }
}

impl HttpConfig {
    pub(super) fn check(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            problem(
                "http.timeout",
                format!("{:?}", self.timeout),
                "timeouts must be above zero".into(),
            );
        }
    }
}
