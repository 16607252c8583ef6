//! [`IntrospectionValidator`]: validates every token by asking the authorization server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::request::Parts;
use portcullis_core::cache_key::{LookupKeys, TokenKey};
use portcullis_core::client_auth::ClientAuth;
use portcullis_core::config::PortcullisConfig;
use portcullis_core::error::Reason;
use portcullis_core::explain::Step;
use portcullis_core::http::{HttpClient, PostError, body_excerpt};
use portcullis_core::mapping::ClaimMapping;
use portcullis_core::observe::{CacheName, IdpEndpoint};
use portcullis_core::single_flight::SingleFlight;
use portcullis_core::token_cache::TokenCache;
use portcullis_core::{
    AuthError, BearerToken, BoxFuture, Clock, EndpointSource, IssuerUrl, Principal, TokenValidator,
};
use serde_json::Value;

use crate::response::{Answer, AnswerRules, check_answer};

/// The per-issuer settings of introspection.
#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    /// The issuer (`iss`, when the answer has one, must equal it).
    pub issuer: IssuerUrl,
    /// Accepted audiences.
    pub audiences: Arc<[String]>,
    /// Skip the audience check (dangerous).
    pub accept_any_audience: bool,
    /// Accept answers without `aud`.
    pub allow_missing_aud: bool,
    /// Clock skew on `exp`/`nbf`.
    pub leeway: Duration,
    /// Longest reuse of an active answer: the bound on how long a revoked token keeps working.
    pub cache_ttl: Duration,
    /// Reuse of an inactive answer.
    pub inactive_cache_ttl: Duration,
    /// Most active answers kept; zero turns caching off (every request is introspected).
    /// Inactive answers have their own cache, an eighth of this size, so a flood of unknown
    /// tokens cannot evict active answers.
    pub cache_capacity: u64,
    /// Claims → principal.
    pub mapping: Arc<ClaimMapping>,
}

impl IntrospectionSettings {
    /// From checked configuration.
    pub fn from_config(config: &PortcullisConfig, issuer: IssuerUrl) -> Self {
        let i = &config.introspection;
        Self {
            issuer,
            audiences: config.audience.clone().into(),
            accept_any_audience: config.dangerous.accept_any_audience,
            allow_missing_aud: i.allow_missing_aud,
            leeway: config.jwt.leeway,
            cache_ttl: i.cache_ttl,
            inactive_cache_ttl: i.inactive_cache_ttl,
            cache_capacity: i.cache_capacity,
            mapping: Arc::new(ClaimMapping::from_config(&config.claims)),
        }
    }
}

#[derive(Clone)]
struct Entry {
    /// The token the answer is for: a hit is confirmed by comparing it whole.
    token: BearerToken,
    outcome: Result<Principal, AuthError>,
    /// Unix seconds, by the injected clock.
    expires_at: i64,
}

/// Why a call failed, before it becomes an [`AuthError`].
enum CallError {
    /// Our client credentials were refused (401/403).
    Credentials(String),
    /// Our request was refused as malformed (400 that is not about the token).
    BadRequest(String),
    /// The server could not answer (transport, 5xx, broken answer).
    Unavailable(String),
    /// Our configuration is wrong (no endpoint).
    Misconfigured(String),
}

impl CallError {
    fn message(&self) -> &str {
        match self {
            Self::Credentials(m)
            | Self::BadRequest(m)
            | Self::Unavailable(m)
            | Self::Misconfigured(m) => m,
        }
    }
}

/// Validates tokens by RFC 7662 introspection, caching answers by a keyed hash of the token.
pub struct IntrospectionValidator {
    settings: IntrospectionSettings,
    endpoint: EndpointSource,
    client_auth: ClientAuth,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    /// Active answers; `None` when `cache-capacity = 0`.
    cache: Option<TokenCache<Entry>>,
    /// Refusals (inactive tokens), apart so that they can never evict an active answer.
    refusals: Option<TokenCache<Entry>>,
    keys: LookupKeys,
    flight: SingleFlight<TokenKey, Result<Entry, AuthError>>,
    calls: AtomicU64,
}

impl std::fmt::Debug for IntrospectionValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionValidator")
            .field("issuer", &self.settings.issuer.as_str())
            .field("endpoint", &self.endpoint)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

impl IntrospectionValidator {
    /// A validator.
    pub fn new(
        settings: IntrospectionSettings,
        endpoint: EndpointSource,
        client_auth: ClientAuth,
        http: HttpClient,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let capacity = settings.cache_capacity;
        let cache = (capacity > 0).then(|| TokenCache::new(capacity));
        let refusals = (capacity > 0).then(|| TokenCache::new(capacity / 8));
        Self {
            settings,
            endpoint,
            client_auth,
            http,
            clock,
            cache,
            refusals,
            keys: LookupKeys::new(),
            flight: SingleFlight::new(),
            calls: AtomicU64::new(0),
        }
    }

    /// How many introspection calls were made (for tests and metrics).
    pub fn call_count(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// How many active answers the cache holds now (dead ones count until swept).
    pub fn cached_answers(&self) -> u64 {
        self.cache.as_ref().map_or(0, |cache| cache.len() as u64)
    }

    /// Lookup of a verified token: a fresh, active cached answer for the token exactly as sent
    /// (the hot path); refusals and misses are left to [`IntrospectionValidator::introspect`].
    pub fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        let principal = self.cache.as_ref()?.get_with(
            self.keys.of_bytes(token),
            self.clock.unix_seconds(),
            |entry| {
                if entry.token.expose().as_bytes() != token {
                    return None;
                }
                entry.outcome.as_ref().ok().cloned()
            },
        )?;
        self.http
            .telemetry()
            .cache_lookup(CacheName::Introspection, true);
        Some(principal)
    }

    /// Validates a token: a cached answer if one is fresh, else one call shared by every
    /// concurrent request for the same token.
    pub async fn introspect(&self, token: &BearerToken) -> Result<Principal, AuthError> {
        let key = self.keys.of(token.expose());
        let now = self.clock.unix_seconds();
        // Under the read lock: compare the whole token, clone only the outcome.
        let lookup = |cache: &Option<TokenCache<Entry>>| {
            cache.as_ref()?.get_with(key, now, |entry| {
                (entry.token == *token).then(|| entry.outcome.clone())
            })
        };
        if let Some(outcome) = lookup(&self.cache).or_else(|| lookup(&self.refusals)) {
            self.http
                .telemetry()
                .cache_lookup(CacheName::Introspection, true);
            return outcome;
        }
        self.http
            .telemetry()
            .cache_lookup(CacheName::Introspection, false);
        // Concurrent first requests for one token share one call; the flight is keyed by the
        // token's HMAC, never by the token.
        let entry = self
            .flight
            .run(TokenKey::of(token), || self.fetch_entry(token))
            .await?;
        let cache = if entry.outcome.is_ok() {
            &self.cache
        } else {
            &self.refusals
        };
        if let Some(cache) = cache {
            cache.insert(
                key,
                entry.clone(),
                entry.expires_at,
                self.clock.unix_seconds(),
            );
        }
        entry.outcome
    }

    async fn fetch_entry(&self, token: &BearerToken) -> Result<Entry, AuthError> {
        let now = self.clock.unix_seconds();
        let answer = self.call(token).await.map_err(|e| self.to_auth_error(e))?;
        let (outcome, ttl) = match answer {
            Answer::Active(claims) => {
                let principal = self.settings.mapping.principal(token.clone(), claims);
                let until_exp = principal
                    .expires_at_unix()
                    .map_or(self.settings.cache_ttl, |exp| {
                        Duration::from_secs(u64::try_from(exp.saturating_sub(now)).unwrap_or(0))
                    });
                (Ok(principal), self.settings.cache_ttl.min(until_exp))
            }
            Answer::Refused(error) => (Err(error), self.settings.inactive_cache_ttl),
        };
        let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        Ok(Entry {
            token: token.clone(),
            outcome,
            expires_at,
        })
    }

    /// One uncached introspection call, explained: the endpoint, the call (as which client),
    /// the answer and its checks.
    pub async fn explain_token(&self, token: &BearerToken) -> Vec<Step> {
        let mut steps = Vec::new();
        match self.endpoint_url().await {
            Ok(url) => steps.push(Step::passed("introspection endpoint", url)),
            Err(error) => {
                steps.push(Step::failed(
                    "introspection endpoint",
                    &self.to_auth_error(error),
                ));
                return steps;
            }
        }
        let client = format!(
            "as client {} with {}",
            self.client_auth.client_id(),
            self.client_auth.method()
        );
        match self.call(token).await {
            Ok(Answer::Active(claims)) => {
                steps.push(Step::passed(
                    "introspection call",
                    format!("active: true ({client})"),
                ));
                steps.push(Step::info("answer", Value::Object(claims).to_string()));
                steps.push(Step::passed(
                    "answer checks",
                    "token_type, iss, exp, nbf, iat and aud are acceptable",
                ));
            }
            Ok(Answer::Refused(error)) => {
                steps.push(Step::passed(
                    "introspection call",
                    format!("answered ({client})"),
                ));
                steps.push(Step::failed("answer checks", &error));
            }
            Err(error) => steps.push(Step::failed(
                "introspection call",
                &self.to_auth_error(error),
            )),
        }
        steps
    }

    async fn endpoint_url(&self) -> Result<String, CallError> {
        self.endpoint.resolve().await.map_err(|error| {
            let detail = error.detail().unwrap_or(error.description()).to_owned();
            match error.kind() {
                portcullis_core::ErrorKind::Misconfigured => CallError::Misconfigured(detail),
                _ => CallError::Unavailable(detail),
            }
        })
    }

    async fn call(&self, token: &BearerToken) -> Result<Answer, CallError> {
        let url = self.endpoint_url().await?;
        let form = vec![
            ("token", token.expose().to_owned()),
            ("token_type_hint", "access_token".into()),
        ];
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .http
            .post_form(
                IdpEndpoint::Introspection,
                &url,
                form,
                &self.client_auth,
                &*self.clock,
            )
            .await
            .map_err(|e| match e {
                PostError::Credentials(why) => CallError::Misconfigured(why),
                PostError::Fetch(e) => CallError::Unavailable(e.to_string()),
            })?;
        let status = answer.status.as_u16();
        let body = answer.body;
        let json = answer.json;
        let result = self.interpret(&url, status, &body, || json.clone());
        if let Err(error) = &result
            && matches!(status, 200 | 400)
        {
            let kind = if status == 200 {
                "invalid_json"
            } else {
                "status_4xx"
            };
            self.http.telemetry().answer_refused(
                IdpEndpoint::Introspection,
                kind,
                error.message().to_owned(),
            );
        }
        result
    }

    fn interpret(
        &self,
        url: &str,
        status: u16,
        body: &[u8],
        json: impl Fn() -> Option<Value>,
    ) -> Result<Answer, CallError> {
        match status {
            200 => {
                let Some(Value::Object(answer)) = json() else {
                    return Err(CallError::Unavailable(format!(
                        "{url} answered 200 with a body that is not a JSON object: {}",
                        body_excerpt(body)
                    )));
                };
                check_answer(answer, &self.rules())
                    .map_err(|why| CallError::Unavailable(format!("{url}: {why}")))
            }
            400 => {
                let code =
                    json().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
                match code.as_deref() {
                    Some("unsupported_token_type" | "invalid_token") => Ok(Answer::Refused(
                        AuthError::invalid_token(
                            "the authorization server does not accept this token for introspection",
                        )
                        .with_reason(Reason::Inactive),
                    )),
                    _ => Err(CallError::BadRequest(format!(
                        "{url} refused the introspection request as malformed (HTTP 400: {}); this is our request, not the token: check portcullis.introspection.auth-method (= {}) and that the endpoint is an RFC 7662 introspection endpoint",
                        body_excerpt(body),
                        self.client_auth.method()
                    ))),
                }
            }
            401 | 403 => Err(CallError::Credentials(format!(
                "{url} refused our client credentials (HTTP {status}: {}); check portcullis.introspection.client-id (= {}), portcullis.introspection.client-secret and portcullis.introspection.auth-method (= {})",
                body_excerpt(body),
                self.client_auth.client_id(),
                self.client_auth.method()
            ))),
            _ => Err(CallError::Unavailable(format!(
                "{url} answered HTTP {status}: {}",
                body_excerpt(body)
            ))),
        }
    }

    fn rules(&self) -> AnswerRules<'_> {
        AnswerRules {
            issuer: self.settings.issuer.as_str(),
            audiences: &self.settings.audiences,
            accept_any_audience: self.settings.accept_any_audience,
            allow_missing_aud: self.settings.allow_missing_aud,
            leeway: i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX),
            now: self.clock.unix_seconds(),
        }
    }

    fn to_auth_error(&self, error: CallError) -> AuthError {
        match error {
            CallError::Credentials(detail) => {
                tracing::error!(target: "portcullis", "introspection failed: {detail}");
                AuthError::credentials_refused(detail)
            }
            CallError::BadRequest(detail) => {
                tracing::error!(target: "portcullis", "introspection failed: {detail}");
                AuthError::unavailable(detail)
            }
            CallError::Unavailable(detail) => {
                AuthError::unavailable(format!("introspection failed: {detail}"))
            }
            CallError::Misconfigured(detail) => AuthError::misconfigured(detail),
        }
    }

    /// The startup check of eager discovery: resolve the endpoint and introspect a dummy token,
    /// so that refused client credentials stop the service before the first request.
    pub async fn check_credentials(&self) -> Result<(), AuthError> {
        match self
            .call(&BearerToken::new("portcullis-startup-check"))
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Credentials(detail)) => Err(AuthError::credentials_refused(detail)),
            Err(CallError::BadRequest(detail) | CallError::Misconfigured(detail)) => {
                Err(AuthError::misconfigured(detail))
            }
            Err(CallError::Unavailable(detail)) => Err(AuthError::unavailable(detail)),
        }
    }
}

impl TokenValidator for IntrospectionValidator {
    fn validate<'a>(
        &'a self,
        token: &'a BearerToken,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(self.introspect(token))
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), AuthError>> {
        Box::pin(self.check_credentials())
    }

    fn explain<'a>(
        &'a self,
        token: &'a BearerToken,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Vec<Step>> {
        Box::pin(self.explain_token(token))
    }

    fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        IntrospectionValidator::lookup_verified(self, token)
    }

    fn name(&self) -> &'static str {
        "IntrospectionValidator (RFC 7662 introspection)"
    }
}
