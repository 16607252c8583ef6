//! [`JwtValidator`]: local validation of JWT access tokens.

use std::sync::Arc;

use http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey};
use portcullis_core::http::HttpClient;
use portcullis_core::{
    AuthError, BearerToken, BoxFuture, Clock, EndpointSource, Principal, TokenValidator,
};

use crate::claims::{JwtClaimRules, check_claims};
use crate::header::{CompactJws, JoseHeader, check_header};
use crate::jwks::VerificationKey;
use crate::settings::JwtSettings;
use crate::store::JwksStore;
use portcullis_core::claims::printable;

/// Validates JWT access tokens against the issuer's JWKS (RFC 9068, RFC 8725).
///
/// Order of work: split and decode the header; header rules (`alg` allow-list, never `none`,
/// `crit`, `typ`); find the key by `kid` (one refetch for an unknown `kid`); check that the key
/// accepts the token's `alg`; verify the signature; only then parse the claims and check them.
pub struct JwtValidator {
    settings: JwtSettings,
    store: Arc<JwksStore>,
    clock: Arc<dyn Clock>,
    hmac_key: Option<DecodingKey>,
    hmac_algorithms: Vec<Algorithm>,
}

impl std::fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtValidator")
            .field("issuer", &self.settings.issuer.as_str())
            .field("store", &self.store)
            .finish()
    }
}

impl JwtValidator {
    /// A validator whose keys come from `source`.
    pub fn new(
        settings: JwtSettings,
        source: EndpointSource,
        http: HttpClient,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let store = Arc::new(JwksStore::new(
            source,
            http,
            clock.clone(),
            settings.jwks.clone(),
            settings.retry_backoff,
            settings.algorithms.clone(),
        ));
        let (hmac_key, hmac_algorithms) = match &settings.hmac {
            Some((secret, algorithms)) => (
                Some(DecodingKey::from_secret(secret.expose().as_bytes())),
                algorithms.clone(),
            ),
            None => (None, Vec::new()),
        };
        Self {
            settings,
            store,
            clock,
            hmac_key,
            hmac_algorithms,
        }
    }

    /// The key store (for health checks and tests).
    pub fn store(&self) -> &Arc<JwksStore> {
        &self.store
    }

    /// The settings in force.
    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// Validates a token string and returns the principal.
    pub async fn validate_token(&self, token: &BearerToken) -> Result<Principal, AuthError> {
        let jws = CompactJws::split(token.expose())?;
        let header = check_header(
            &jws.header,
            &self.settings.algorithms,
            &self.hmac_algorithms,
            self.settings.strict_typ,
        )?;
        self.verify_signature(&jws, &header).await?;
        let claims = jws.claims()?;
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        let rules = JwtClaimRules {
            issuer: self.settings.issuer.as_str(),
            audiences: &self.settings.audiences,
            accept_any_audience: self.settings.accept_any_audience,
            leeway,
            now: self.clock.unix_seconds(),
            typed_access_token: header.typed_access_token,
        };
        check_claims(&claims, &rules)?;
        Ok(self.settings.mapping.principal(token.clone(), claims))
    }

    async fn verify_signature(
        &self,
        jws: &CompactJws<'_>,
        header: &JoseHeader,
    ) -> Result<(), AuthError> {
        if jws.signature.is_empty() {
            return Err(AuthError::invalid_token("the token has no signature"));
        }
        if let Some(key) = &self.hmac_key
            && self.hmac_algorithms.contains(&header.alg)
        {
            return verify(jws, key, header.alg);
        }
        let mut keys = self.store.keys().await?;
        if let Some(kid) = &header.kid
            && !keys.set.has_kid(kid)
        {
            keys = match self.store.refetch_for_unknown_kid().await {
                Some(fresh) if fresh.set.has_kid(kid) => fresh,
                _ => {
                    return Err(AuthError::invalid_token(format!(
                        "the token was signed with a key (kid {}) that the issuer does not publish",
                        printable(kid)
                    )));
                }
            };
        }
        let candidates: Vec<&VerificationKey> = keys
            .set
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .collect();
        let fitting: Vec<&VerificationKey> = candidates
            .iter()
            .copied()
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect();
        if fitting.is_empty() {
            return Err(match (&header.kid, candidates.first()) {
                (Some(kid), Some(key)) => AuthError::invalid_token(format!(
                    "the token's algorithm {:?} does not match its key (kid {} is for {:?})",
                    header.alg,
                    printable(kid),
                    key.algorithms
                )),
                _ => AuthError::invalid_token(format!(
                    "the issuer publishes no key for the algorithm {:?}",
                    header.alg
                )),
            });
        }
        // With a kid there is normally one key; without one, try each key of the algorithm.
        let mut last = Err(AuthError::invalid_token("the token's signature is invalid"));
        for key in fitting.into_iter().take(8) {
            last = verify(jws, &key.key, header.alg);
            if last.is_ok() {
                break;
            }
        }
        last
    }
}

fn verify(jws: &CompactJws<'_>, key: &DecodingKey, alg: Algorithm) -> Result<(), AuthError> {
    match jsonwebtoken::crypto::verify(jws.signature, jws.signing_input.as_bytes(), key, alg) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(AuthError::invalid_token("the token's signature is invalid")),
    }
}

impl TokenValidator for JwtValidator {
    fn validate<'a>(
        &'a self,
        token: &'a BearerToken,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(self.validate_token(token))
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), AuthError>> {
        Box::pin(async move { self.store.refresh().await.map(|_| ()) })
    }

    fn name(&self) -> &'static str {
        "JwtValidator (local JWT validation)"
    }
}
