//! What the JWT validator is told, built from [`PortcullisConfig`].

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use portcullis_core::config::{JwksConfig, PortcullisConfig};
use portcullis_core::mapping::ClaimMapping;
use portcullis_core::{IssuerUrl, Secret};

/// The per-issuer settings of local JWT validation.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// The issuer (`iss` must equal it exactly).
    pub issuer: IssuerUrl,
    /// Accepted audiences; empty only with `accept_any_audience`.
    pub audiences: Arc<[String]>,
    /// Skip the audience check (dangerous).
    pub accept_any_audience: bool,
    /// Accepted asymmetric algorithms.
    pub algorithms: Vec<Algorithm>,
    /// HMAC secret and its algorithms, when configured on purpose.
    pub hmac: Option<(Secret, Vec<Algorithm>)>,
    /// Clock skew allowed.
    pub leeway: Duration,
    /// Require `typ: at+jwt`.
    pub strict_typ: bool,
    /// JWKS caching.
    pub jwks: JwksConfig,
    /// Back-off after a failed fetch.
    pub retry_backoff: Duration,
    /// Claims → principal.
    pub mapping: Arc<ClaimMapping>,
    /// Most verified tokens kept; 0 disables the cache.
    pub cache_capacity: u64,
}

impl JwtSettings {
    /// Builds the settings from checked configuration. Fails with the key and reason for values
    /// that `PortcullisConfig::check` would also refuse.
    pub fn from_config(config: &PortcullisConfig, issuer: IssuerUrl) -> Result<Self, String> {
        let mut algorithms = Vec::new();
        let mut hmac_algorithms = Vec::new();
        for name in &config.jwt.algorithms {
            let alg = parse_algorithm(name)
                .ok_or_else(|| format!("portcullis.jwt.algorithms: unknown algorithm {name:?}"))?;
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                hmac_algorithms.push(alg);
            } else {
                algorithms.push(alg);
            }
        }
        let hmac = match (&config.jwt.hmac_secret, hmac_algorithms.is_empty()) {
            (Some(secret), false) => Some((secret.clone(), hmac_algorithms)),
            (None, false) => return Err("portcullis.jwt.algorithms lists an HMAC algorithm but portcullis.jwt.hmac-secret is not set".into()),
            (_, true) => None,
        };
        Ok(Self {
            issuer,
            audiences: config.audience.clone().into(),
            accept_any_audience: config.dangerous.accept_any_audience,
            algorithms,
            hmac,
            leeway: config.jwt.leeway,
            strict_typ: config.jwt.strict_typ,
            jwks: config.jwks.clone(),
            retry_backoff: config.discovery.retry_backoff,
            mapping: Arc::new(ClaimMapping::from_config(&config.claims)),
            cache_capacity: config.jwt.cache_capacity,
        })
    }
}

/// Every asymmetric algorithm this crate verifies (the default allow-list).
pub const ASYMMETRIC_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The JOSE name of an algorithm this crate accepts; `None` for anything else (including `none`).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        _ => return None,
    })
}
