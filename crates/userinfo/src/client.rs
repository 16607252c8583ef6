//! [`UserinfoClient`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use portcullis_core::cache_key::TokenKey;
use portcullis_core::http::{HttpClient, body_excerpt};
use portcullis_core::observe::{CacheName, IdpEndpoint};
use portcullis_core::principal::Claims;
use portcullis_core::token_cache::AnswerCache;
use portcullis_core::{AuthError, BoxFuture, Clock, EndpointSource, Principal, UserinfoSource};
use serde_json::Value;

/// How long userinfo is kept for a token without `exp` (seconds).
const DEFAULT_TTL_SECS: i64 = 300;

/// Calls the userinfo endpoint and caches answers per token (keyed hash) until the token expires.
pub struct UserinfoClient {
    endpoint: EndpointSource,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    cache: AnswerCache<TokenKey, Claims, AuthError>,
    calls: AtomicU64,
}

impl std::fmt::Debug for UserinfoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserinfoClient")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl UserinfoClient {
    /// A client keeping at most `capacity` answers.
    pub fn new(
        endpoint: EndpointSource,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        capacity: u64,
    ) -> Self {
        Self {
            endpoint,
            http,
            clock,
            cache: AnswerCache::new(capacity),
            calls: AtomicU64::new(0),
        }
    }

    /// How many userinfo calls were made.
    pub fn call_count(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The userinfo claims for the principal's token.
    pub async fn fetch(&self, principal: &Principal) -> Result<Claims, AuthError> {
        let key = TokenKey::of(principal.token());
        if let Some(claims) = self.cache.get(&key, self.clock.unix_seconds()) {
            self.http
                .telemetry()
                .cache_lookup(CacheName::Userinfo, true);
            return Ok(claims);
        }
        self.http
            .telemetry()
            .cache_lookup(CacheName::Userinfo, false);
        self.cache
            .get_or_fetch(key, &*self.clock, || self.fetch_entry(principal))
            .await
    }

    /// The claims and the Unix second they are kept until: the token's `exp`, or five minutes
    /// for a token without one.
    async fn fetch_entry(&self, principal: &Principal) -> Result<(Claims, i64), AuthError> {
        let Some(subject) = principal.subject() else {
            return Err(AuthError::unavailable(
                "the token has no sub, so its userinfo cannot be matched to it (OIDC Core 5.3.2)",
            ));
        };
        let url = self.endpoint.resolve().await?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .reqwest()
            .get(&url)
            .header(ACCEPT, "application/json")
            .header(
                AUTHORIZATION,
                format!("Bearer {}", principal.token().expose()),
            );
        let answer = self
            .http
            .exchange(IdpEndpoint::Userinfo, &url, request)
            .await
            .map_err(|e| AuthError::unavailable(format!("userinfo failed: {e}")))?;
        let status = answer.status.as_u16();
        let content_type = answer
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = answer.body;
        if status == 401 || status == 403 {
            return Err(AuthError::unavailable(format!(
                "the userinfo endpoint {url} refused the access token (HTTP {status}: {}); some IdPs serve userinfo only for tokens issued without a resource/audience",
                body_excerpt(&body)
            )));
        }
        if status != 200 {
            return Err(AuthError::unavailable(format!(
                "the userinfo endpoint {url} answered HTTP {status}: {}",
                body_excerpt(&body)
            )));
        }
        if content_type.starts_with("application/jwt") {
            return Err(AuthError::unavailable(format!(
                "the userinfo endpoint {url} answered a signed JWT; only JSON userinfo is supported"
            )));
        }
        let Ok(claims) = portcullis_core::json::object_from_slice(&body) else {
            return Err(AuthError::unavailable(format!(
                "the userinfo endpoint {url} answered a body that is not a JSON object"
            )));
        };
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if sub == subject => {}
            other => {
                return Err(AuthError::unavailable(format!(
                    "the userinfo sub {other:?} does not match the token's sub {subject:?}; the answer is discarded (OIDC Core 5.3.2)"
                )));
            }
        }
        let now = self.clock.unix_seconds();
        let keep_until = principal
            .expires_at_unix()
            .unwrap_or_else(|| now.saturating_add(DEFAULT_TTL_SECS));
        Ok((claims, keep_until))
    }
}

impl UserinfoSource for UserinfoClient {
    fn userinfo<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(self.fetch(principal))
    }
}
