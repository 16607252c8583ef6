//! [`UserinfoClient`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use moka::Expiry;
use moka::future::Cache;
use portcullis_core::cache_key::TokenKey;
use portcullis_core::http::{HttpClient, body_excerpt};
use portcullis_core::observe::{CacheName, IdpEndpoint};
use portcullis_core::principal::Claims;
use portcullis_core::{AuthError, BoxFuture, Clock, EndpointSource, Principal, UserinfoSource};
use serde_json::Value;

/// How long userinfo is kept for a token without `exp`.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

#[derive(Clone)]
struct Entry {
    claims: Claims,
    expires_at: i64,
    ttl: Duration,
}

struct EntryExpiry;

impl Expiry<TokenKey, Entry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Calls the userinfo endpoint and caches answers per token (keyed hash) until the token expires.
pub struct UserinfoClient {
    endpoint: EndpointSource,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    cache: Cache<TokenKey, Entry>,
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
        let cache = Cache::builder()
            .max_capacity(capacity)
            .expire_after(EntryExpiry)
            .build();
        Self {
            endpoint,
            http,
            clock,
            cache,
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
        if let Some(entry) = self.cache.get(&key).await {
            if entry.expires_at > self.clock.unix_seconds() {
                self.http
                    .telemetry()
                    .cache_lookup(CacheName::Userinfo, true);
                return Ok(entry.claims);
            }
            self.cache.invalidate(&key).await;
        }
        self.http
            .telemetry()
            .cache_lookup(CacheName::Userinfo, false);
        match self
            .cache
            .try_get_with(key, self.fetch_entry(principal))
            .await
        {
            Ok(entry) => Ok(entry.claims),
            Err(error) => Err((*error).clone()),
        }
    }

    async fn fetch_entry(&self, principal: &Principal) -> Result<Entry, AuthError> {
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
        let ttl = principal.expires_at_unix().map_or(DEFAULT_TTL, |exp| {
            Duration::from_secs(u64::try_from(exp.saturating_sub(now)).unwrap_or(0))
        });
        Ok(Entry {
            claims,
            expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            ttl,
        })
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
