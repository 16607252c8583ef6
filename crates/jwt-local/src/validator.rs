//! [`JwtValidator`]: local validation of JWT access tokens.

use std::sync::Arc;

use http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey};
use portcullis_core::error::Reason;
use portcullis_core::http::HttpClient;
use portcullis_core::observe::{CacheName, Telemetry};
use portcullis_core::token_cache::TokenCache;
use portcullis_core::{
    AuthError, BearerToken, BoxFuture, Clock, EndpointSource, Principal, TokenValidator,
};

use crate::claims::{JwtClaimRules, check_claims, check_not_id_token, standard_rules};
use crate::header::{CompactJws, JoseHeader, check_header};
use crate::jwks::VerificationKey;
use crate::settings::JwtSettings;
use crate::store::JwksStore;
use portcullis_core::claims::{STANDARD_CHECKS, printable};
use portcullis_core::explain::Step;

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
    verified: Option<VerifiedCache>,
    signature_checks: std::sync::atomic::AtomicU64,
    telemetry: Arc<Telemetry>,
}

/// Tokens that passed every check, so a token seen again costs a hash, a lookup and an `Arc`
/// clone instead of a signature. Keyed by a keyed (per-process random) hash of the token's last
/// 32 bytes — signature bytes, so effectively random — and confirmed by comparing the whole token,
/// so a hash collision is only a miss. Each entry ends at the token's `exp` (plus leeway), and
/// when its signing key leaves the JWKS.
struct VerifiedCache {
    entries: TokenCache<Verified>,
    keys: portcullis_core::cache_key::LookupKeys,
}

#[derive(Clone)]
struct Verified {
    principal: Principal,
    kid: Option<Arc<str>>,
    generation: u64,
}

impl VerifiedCache {
    fn new(capacity: u64) -> Self {
        Self {
            entries: TokenCache::new(capacity),
            keys: portcullis_core::cache_key::LookupKeys::new(),
        }
    }

    fn key(&self, token: &str) -> u64 {
        self.keys.of(token)
    }
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
        let telemetry = http.telemetry().clone();
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
        let verified =
            (settings.cache_capacity > 0).then(|| VerifiedCache::new(settings.cache_capacity));
        Self {
            settings,
            store,
            clock,
            hmac_key,
            hmac_algorithms,
            verified,
            signature_checks: Default::default(),
            telemetry,
        }
    }

    /// How many signatures were verified (cache misses that reached the signature step).
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key store (for health checks and tests).
    pub fn store(&self) -> &Arc<JwksStore> {
        &self.store
    }

    /// The settings in force.
    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// Validates a token string and returns the principal: from the verified-token cache when
    /// the same token passed before and its decision still stands, else by every check.
    pub async fn validate_token(&self, token: &BearerToken) -> Result<Principal, AuthError> {
        if let Some(principal) = self.lookup_verified(token.expose().as_bytes()) {
            return Ok(principal);
        }
        self.verify_and_cache(token).await
    }

    /// Runs every check without looking in the verified-token cache first (the caller did), and
    /// caches a success.
    pub async fn verify_and_cache(&self, token: &BearerToken) -> Result<Principal, AuthError> {
        // Hits are counted where they are found; a miss is a token that had to be verified.
        self.telemetry.cache_lookup(CacheName::Jwt, false);
        let Some(cache) = &self.verified else {
            return self.validate_uncached(token).await.map(|(p, ..)| p);
        };
        let key = cache.key(token.expose());
        let (principal, kid, exp, generation) = self.validate_uncached(token).await?;
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        let until = exp.saturating_add(leeway);
        cache.entries.insert(
            key,
            Verified {
                principal: principal.clone(),
                kid: kid.map(Arc::from),
                generation,
            },
            // Alive while now <= exp + leeway.
            until.saturating_add(1),
            self.clock.unix_seconds(),
        );
        Ok(principal)
    }

    /// Lookup of a verified token: the principal of a token, exactly as sent, that passed every
    /// check before, when that decision still stands (not expired, key still published). A keyed
    /// hash, a lookup, a whole-token comparison, the expiry and the key generation, and an `Arc`
    /// clone; no other work.
    pub fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        let cache = self.verified.as_ref()?;
        let key = cache.keys.of_bytes(token);
        let now = self.clock.unix_seconds();
        // Under the read lock: compare the whole token, check the key, clone only the principal.
        let mut key_left = false;
        let principal = cache.entries.get_with(key, now, |hit| {
            if hit.principal.token().expose().as_bytes() != token {
                return None;
            }
            if self
                .store
                .still_publishes(hit.generation, hit.kid.as_deref())
            {
                Some(hit.principal.clone())
            } else {
                key_left = true;
                None
            }
        });
        if key_left {
            cache.entries.remove(key);
        }
        if principal.is_some() {
            self.telemetry.cache_lookup(CacheName::Jwt, true);
            // A decision stands only while its key is published: keep finding out.
            self.store.refresh_if_stale(now);
        }
        principal
    }

    /// How many verified tokens the cache holds (dead ones count until swept).
    pub fn cached_tokens(&self) -> u64 {
        self.verified.as_ref().map_or(0, |c| c.entries.len() as u64)
    }

    /// Every check, no cache: the principal, the `kid` that verified it, `exp`, and the
    /// generation of the key set that verified it.
    async fn validate_uncached(
        &self,
        token: &BearerToken,
    ) -> Result<(Principal, Option<String>, i64, u64), AuthError> {
        let jws = CompactJws::split(token.expose())?;
        let header = check_header(
            &jws.header,
            &self.settings.algorithms,
            &self.hmac_algorithms,
            self.settings.strict_typ,
        )?;
        let generation = self.verify_signature(&jws, &header).await?;
        let claims = jws.claims()?;
        check_claims(&claims, &self.claim_rules(header.typed_access_token))?;
        let principal = self.settings.mapping.principal(token.clone(), claims);
        let exp = principal.expires_at_unix().unwrap_or(0);
        Ok((principal, header.kid, exp, generation))
    }

    fn claim_rules(&self, typed_access_token: bool) -> JwtClaimRules<'_> {
        JwtClaimRules {
            issuer: self.settings.issuer.as_str(),
            audiences: &self.settings.audiences,
            accept_any_audience: self.settings.accept_any_audience,
            leeway: i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX),
            now: self.clock.unix_seconds(),
            typed_access_token,
        }
    }

    /// Every check of [`JwtValidator::validate_token`], one step each, without the cache. After a
    /// header or signature failure the claims are still decoded and checked, marked untrusted,
    /// so one run shows every problem of a token.
    pub async fn explain_token(&self, token: &BearerToken) -> Vec<Step> {
        let mut steps = Vec::new();
        let jws = match CompactJws::split(token.expose()) {
            Ok(jws) => {
                steps.push(Step::passed(
                    "format",
                    "a signed JWT (three base64url parts)",
                ));
                jws
            }
            Err(error) => {
                steps.push(Step::failed("format", &error));
                return steps;
            }
        };
        steps.push(Step::info(
            "header",
            serde_json::Value::Object(jws.header.clone()).to_string(),
        ));
        let header = check_header(
            &jws.header,
            &self.settings.algorithms,
            &self.hmac_algorithms,
            self.settings.strict_typ,
        );
        let mut trusted = false;
        let typed = match &header {
            Ok(header) => {
                steps.push(Step::passed(
                    "algorithm and header",
                    format!(
                        "alg {:?} is allowed; typ {}",
                        header.alg,
                        if header.typed_access_token {
                            "at+jwt"
                        } else {
                            "absent or JWT"
                        }
                    ),
                ));
                let signature = self.verify_signature(&jws, header).await.map(|_| ());
                trusted = signature.is_ok();
                let kid = header.kid.as_deref().unwrap_or("(none)");
                steps.push(Step::from_result(
                    "key and signature",
                    &signature,
                    format!("verified with the issuer's key kid {kid}"),
                ));
                header.typed_access_token
            }
            Err(error) => {
                steps.push(Step::failed("algorithm and header", error));
                steps.push(Step::skipped(
                    "key and signature",
                    "not checked: the header is refused",
                ));
                false
            }
        };
        let claims = match jws.claims() {
            Ok(claims) => claims,
            Err(error) => {
                steps.push(Step::failed("claims", &error));
                return steps;
            }
        };
        let untrusted = if trusted {
            ""
        } else {
            " (claims unverified: the signature did not verify)"
        };
        steps.push(Step::info(
            "claims",
            format!("{}{untrusted}", serde_json::Value::Object(claims.clone())),
        ));
        let rules = self.claim_rules(typed);
        steps.push(Step::from_result(
            "access token, not ID token",
            &check_not_id_token(&claims, typed),
            if typed {
                "typ at+jwt says so"
            } else {
                "no ID-token markers (nonce, at_hash, c_hash)"
            },
        ));
        let standard = standard_rules(&claims, &rules);
        for (name, check) in STANDARD_CHECKS {
            let result = check(&claims, &standard);
            let claim = name
                .split_once('(')
                .map_or("", |(_, c)| c.trim_end_matches(')'));
            let seen = match claims.get(claim) {
                None => "absent".to_owned(),
                Some(value) => match (claim, value.as_i64()) {
                    ("exp" | "nbf" | "iat", Some(at)) => {
                        format!("{at} ({})", relative(at.saturating_sub(standard.now)))
                    }
                    _ => value.to_string(),
                },
            };
            steps.push(Step::from_result(name, &result, format!("{claim} {seen}")));
        }
        steps
    }

    /// Verifies the signature; `Ok` carries the generation of the key set that verified it.
    async fn verify_signature(
        &self,
        jws: &CompactJws<'_>,
        header: &JoseHeader,
    ) -> Result<u64, AuthError> {
        if jws.signature.is_empty() {
            return Err(AuthError::invalid_token("the token has no signature")
                .with_reason(Reason::BadSignature));
        }
        if let Some(key) = &self.hmac_key
            && self.hmac_algorithms.contains(&header.alg)
        {
            return self
                .verify(jws, key, header.alg)
                .map(|()| self.store.generation());
        }
        let mut keys = self.store.keys().await?;
        if let Some(kid) = &header.kid
            && !keys.set.has_kid(kid)
        {
            keys = match self.store.refetch_for_unknown_kid(kid).await {
                Some(fresh) if fresh.set.has_kid(kid) => fresh,
                _ => {
                    return Err(AuthError::invalid_token(format!(
                        "the token was signed with a key (kid {}) that the issuer does not publish",
                        printable(kid)
                    ))
                    .with_reason(Reason::UnknownKey));
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
                ))
                .with_reason(Reason::UnknownKey),
                _ => AuthError::invalid_token(format!(
                    "the issuer publishes no key for the algorithm {:?}",
                    header.alg
                ))
                .with_reason(Reason::UnknownKey),
            });
        }
        // With a kid there is normally one key; without one, try each key of the algorithm.
        let mut last = Err(AuthError::invalid_token("the token's signature is invalid")
            .with_reason(Reason::BadSignature));
        for key in fitting.into_iter().take(8) {
            last = self.verify(jws, &key.key, header.alg);
            if last.is_ok() {
                break;
            }
        }
        last.map(|()| keys.generation)
    }
}

/// `in 3600 s` / `30 s ago`.
fn relative(seconds: i64) -> String {
    if seconds >= 0 {
        format!("in {seconds} s")
    } else {
        format!("{} s ago", seconds.unsigned_abs())
    }
}

impl JwtValidator {
    fn verify(
        &self,
        jws: &CompactJws<'_>,
        key: &DecodingKey,
        alg: Algorithm,
    ) -> Result<(), AuthError> {
        self.signature_checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        verify(jws, key, alg)
    }
}

fn verify(jws: &CompactJws<'_>, key: &DecodingKey, alg: Algorithm) -> Result<(), AuthError> {
    match jsonwebtoken::crypto::verify(jws.signature, jws.signing_input.as_bytes(), key, alg) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(AuthError::invalid_token("the token's signature is invalid")
            .with_reason(Reason::BadSignature)),
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

    fn explain<'a>(
        &'a self,
        token: &'a BearerToken,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Vec<Step>> {
        Box::pin(self.explain_token(token))
    }

    fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        JwtValidator::lookup_verified(self, token)
    }
}
