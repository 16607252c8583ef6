//! `[portcullis.jwt]` and `[portcullis.jwks]`: local validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};
use crate::secret::Secret;

/// `[portcullis.jwt]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct JwtConfig {
    /// Accepted signature algorithms. `none` is never accepted; HS256/384/512 only together with
    /// `hmac-secret`.
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[serde(with = "duration")]
    pub leeway: Duration,
    /// Require the RFC 9068 header `typ: at+jwt`.
    pub strict_typ: bool,
    /// A shared secret for HMAC-signed tokens, configured on purpose.
    pub hmac_secret: Option<Secret>,
    /// Most verified tokens kept, so a token seen again skips the signature check; 0 disables.
    pub cache_capacity: u64,
}

/// The asymmetric algorithms accepted by default.
pub const DEFAULT_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Every algorithm name the `algorithms` key knows.
pub const KNOWN_ALGORITHMS: [&str; 12] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect(),
            leeway: Duration::from_secs(60),
            strict_typ: false,
            hmac_secret: None,
            cache_capacity: 10_000,
        }
    }
}

/// `[portcullis.jwks]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct JwksConfig {
    /// How long keys are used before they are fetched again, when the JWKS response has no
    /// `Cache-Control: max-age`.
    #[serde(with = "duration")]
    pub refresh_interval: Duration,
    /// Lower bound on a server-given `max-age`.
    #[serde(with = "duration")]
    pub min_refresh: Duration,
    /// Upper bound on a server-given `max-age`.
    #[serde(with = "duration")]
    pub max_refresh: Duration,
    /// A `kid` that a refetch showed the issuer does not publish causes no refetch for this long.
    #[serde(with = "duration")]
    pub unknown_kid_cooldown: Duration,
    /// At most one refetch for unknown kids per this interval, whatever the kids: the bound on
    /// what a flood of made-up kids costs the IdP, and on how long a real rotation can wait.
    #[serde(with = "duration")]
    pub unknown_kid_min_interval: Duration,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(600),
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(86_400),
            unknown_kid_cooldown: Duration::from_secs(30),
            unknown_kid_min_interval: Duration::from_secs(1),
        }
    }
}

impl JwtConfig {
    pub(super) fn check(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        if self.algorithms.is_empty() {
            problem(
                "jwt.algorithms",
                "[]".into(),
                "list at least one algorithm".into(),
            );
        }
        for alg in &self.algorithms {
            if alg.eq_ignore_ascii_case("none") {
                problem(
                    "jwt.algorithms",
                    alg.clone(),
                    "`none` means unsigned tokens and is never accepted".into(),
                );
            } else if !KNOWN_ALGORITHMS.contains(&alg.as_str()) {
                problem(
                    "jwt.algorithms",
                    alg.clone(),
                    format!("unknown algorithm; known: {}", KNOWN_ALGORITHMS.join(", ")),
                );
            } else if alg.starts_with("HS") && self.hmac_secret.is_none() {
                problem(
                    "jwt.algorithms",
                    alg.clone(),
                    "HMAC algorithms need jwt.hmac-secret (a shared secret configured on purpose)"
                        .into(),
                );
            }
        }
        if let Some(secret) = &self.hmac_secret {
            if secret.expose().len() < 32 {
                problem(
                    "jwt.hmac-secret",
                    "***".into(),
                    "an HMAC secret must be at least 32 bytes (RFC 7518 §3.2)".into(),
                );
            }
            if !self.algorithms.iter().any(|a| a.starts_with("HS")) {
                problem("jwt.hmac-secret", "***".into(), "set, but jwt.algorithms lists no HS256/HS384/HS512: add the one your issuer uses".into());
            }
        }
    }
}

impl JwksConfig {
    pub(super) fn check(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        if self.min_refresh > self.max_refresh {
            problem(
                "jwks.min-refresh",
                format!("{:?}", self.min_refresh),
                format!("larger than jwks.max-refresh ({:?})", self.max_refresh),
            );
        }
    }
}
