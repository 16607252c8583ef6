//! `[portcullis.userinfo]`.

use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};

/// What to do when userinfo cannot be fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserinfoFailure {
    /// Continue without userinfo claims (logged).
    #[default]
    Continue,
    /// Fail the request with 503.
    Fail,
}

/// `[portcullis.userinfo]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserinfoConfig {
    /// Fetch userinfo for every authenticated request (eager). Without it, handlers fetch on
    /// demand with the `UserInfo` extractor.
    pub enabled: bool,
    /// The userinfo endpoint; from discovery when unset.
    pub endpoint: Option<String>,
    /// What a failed fetch does.
    pub on_failure: UserinfoFailure,
    /// Most answers kept (each until its token expires).
    pub cache_capacity: u64,
}

impl Default for UserinfoConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: None,
            on_failure: UserinfoFailure::Continue,
            cache_capacity: 10_000,
        }
    }
}

impl UserinfoConfig {
    pub(super) fn check(
        &self,
        allow_http: bool,
        problem: &mut impl FnMut(&'static str, String, String),
    ) {
        if let Some(uri) = &self.endpoint
            && let Err(reason) = check_endpoint(uri, allow_http)
        {
            problem("userinfo.endpoint", uri.clone(), reason);
        }
    }
}
