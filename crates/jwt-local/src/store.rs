//! The issuer's keys: fetched, cached, refreshed, never locked across I/O.
//!
//! - The first request (or startup, with eager discovery) fetches the JWKS.
//! - Keys are used for `Cache-Control: max-age` clamped to `[min-refresh, max-refresh]`, or
//!   `refresh-interval` when the server gives none. Stale keys keep serving while one background
//!   refresh runs.
//! - A token with an unknown `kid` triggers one refetch, shared by every concurrent request
//!   (single-flight), and at most one per `unknown-kid-cooldown`: a flood of made-up kids costs one
//!   fetch per cooldown.
//! - A failed refresh keeps the last good keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use jsonwebtoken::Algorithm;
use portcullis_core::clock::elapsed_since;
use portcullis_core::config::JwksConfig;
use portcullis_core::http::{FetchError, HttpClient};
use portcullis_core::observe::IdpEndpoint;
use portcullis_core::single_flight::SingleFlight;
use portcullis_core::sync::{lock, read, write};
use portcullis_core::{AuthError, Clock, EndpointSource};

use crate::jwks::KeySet;

/// A key set and when it was fetched.
#[derive(Debug)]
pub struct CachedKeys {
    /// The usable keys.
    pub set: KeySet,
    /// When they were fetched.
    pub fetched_at: SystemTime,
    /// How long they are fresh.
    pub max_age: Duration,
    /// The store's generation when this set came in (unchanged by a refresh that brings the
    /// same keys).
    pub generation: u64,
    /// The `keys` array as published, to tell a refresh that changed nothing from a rotation.
    document: serde_json::Value,
}

/// Fetches and caches the issuer's keys.
#[derive(Debug)]
pub struct JwksStore {
    source: EndpointSource,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    config: JwksConfig,
    retry_backoff: Duration,
    allowed: Vec<Algorithm>,
    current: RwLock<Option<Arc<CachedKeys>>>,
    last_unknown_kid_fetch: Mutex<Option<SystemTime>>,
    last_failure: Mutex<Option<(SystemTime, AuthError)>>,
    flight: SingleFlight<(), Result<Arc<CachedKeys>, AuthError>>,
    fetches: AtomicU64,
    /// Bumped whenever the published keys change (not by a refresh that brings the same keys),
    /// so cached decisions survive refreshes and end with a rotation.
    generation: AtomicU64,
}

impl JwksStore {
    /// A store that has fetched nothing yet.
    pub fn new(
        source: EndpointSource,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        config: JwksConfig,
        retry_backoff: Duration,
        allowed: Vec<Algorithm>,
    ) -> Self {
        Self {
            source,
            http,
            clock,
            config,
            retry_backoff,
            allowed,
            current: RwLock::new(None),
            last_unknown_kid_fetch: Mutex::new(None),
            last_failure: Mutex::new(None),
            flight: SingleFlight::new(),
            fetches: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// How many JWKS fetches were started (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Which key set is current: changes whenever a fetch replaces it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether a decision made with key set `generation` and key `kid` still stands: the set is
    /// unchanged, or the key is still in the new one. A key that left the JWKS ends every cached
    /// decision made with it.
    pub fn still_publishes(&self, generation: u64, kid: Option<&str>) -> bool {
        if generation == self.generation() {
            return true;
        }
        match (kid, self.cached()) {
            (Some(kid), Some(keys)) => keys.set.has_kid(kid),
            _ => false,
        }
    }

    /// The cached keys without fetching.
    pub fn cached(&self) -> Option<Arc<CachedKeys>> {
        read(&self.current).clone()
    }

    /// The current keys: fetched when there are none; when stale, returned as they are while a
    /// background refresh runs.
    pub async fn keys(self: &Arc<Self>) -> Result<Arc<CachedKeys>, AuthError> {
        if let Some(keys) = self.cached() {
            if elapsed_since(self.clock.now(), keys.fetched_at) >= keys.max_age {
                self.refresh_in_background();
            }
            return Ok(keys);
        }
        if let Some(error) = self.recent_failure() {
            return Err(error);
        }
        self.refresh().await
    }

    /// Called for a `kid` the cached set lacks. Refetches unless another unknown-kid refetch ran
    /// within the cooldown; `None` when no refetch was allowed or it failed.
    pub async fn refetch_for_unknown_kid(self: &Arc<Self>) -> Option<Arc<CachedKeys>> {
        let allowed = {
            let mut last = lock(&self.last_unknown_kid_fetch);
            let now = self.clock.now();
            let cooling = last
                .is_some_and(|when| elapsed_since(now, when) < self.config.unknown_kid_cooldown);
            if !cooling {
                *last = Some(now);
            }
            !cooling
        };
        if allowed {
            return self.refresh().await.ok();
        }
        // Within the cooldown: share a refetch that is still running, never start one.
        self.flight
            .wait(&())
            .await
            .and_then(Result::ok)
            .or_else(|| self.cached())
    }

    /// Fetches now (single-flight). On failure the previous keys stay.
    pub async fn refresh(&self) -> Result<Arc<CachedKeys>, AuthError> {
        self.flight.run((), || self.fetch_and_store()).await
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.flight.in_flight() > 0 || self.recent_failure().is_some() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(self);
        handle.spawn(async move {
            let _ = store.refresh().await;
        });
    }

    fn recent_failure(&self) -> Option<AuthError> {
        let guard = lock(&self.last_failure);
        let (when, error) = guard.as_ref()?;
        (elapsed_since(self.clock.now(), *when) < self.retry_backoff).then(|| error.clone())
    }

    async fn fetch_and_store(&self) -> Result<Arc<CachedKeys>, AuthError> {
        match self.fetch().await {
            Ok(mut keys) => {
                let mut current = write(&self.current);
                let unchanged = current
                    .as_ref()
                    .is_some_and(|old| old.document == keys.document);
                keys.generation = if unchanged {
                    self.generation.load(Ordering::Acquire)
                } else {
                    self.generation.fetch_add(1, Ordering::AcqRel) + 1
                };
                let keys = Arc::new(keys);
                *current = Some(keys.clone());
                Ok(keys)
            }
            Err(error) => {
                let kept = self.cached().is_some();
                tracing::warn!(error = %error, kept_previous_keys = kept, "portcullis: JWKS refresh failed");
                *lock(&self.last_failure) = Some((self.clock.now(), error.clone()));
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<CachedKeys, AuthError> {
        let url = self.source.resolve().await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = self
            .http
            .get_json::<serde_json::Value>(IdpEndpoint::Jwks, &url)
            .await
            .map_err(|e| match e {
                FetchError::Status { status: 404, .. } => AuthError::misconfigured(format!(
                    "the JWKS URL {url} answered 404; check portcullis.jwks-uri or the issuer"
                )),
                other => AuthError::unavailable(format!("JWKS fetch failed: {other}")),
            })?;
        let set = KeySet::parse(&fetched.value, &self.allowed).map_err(|why| {
            let error = format!("the JWKS at {url} is unusable: {why}");
            self.http
                .telemetry()
                .answer_refused(IdpEndpoint::Jwks, "invalid_json", error.clone());
            AuthError::unavailable(error)
        })?;
        for skipped in &set.skipped {
            tracing::info!(jwks_uri = %url, "portcullis: skipped a JWKS key: {skipped}");
        }
        if set.keys.is_empty() {
            let error = format!(
                "the JWKS at {url} has no key this API can use ({}); check portcullis.jwt.algorithms",
                set.skipped.join("; ")
            );
            self.http
                .telemetry()
                .answer_refused(IdpEndpoint::Jwks, "no_usable_key", error.clone());
            return Err(AuthError::misconfigured(error));
        }
        self.http.telemetry().jwks_fetched(set.keys.len());
        let max_age = fetched.max_age.map_or(self.config.refresh_interval, |age| {
            age.clamp(self.config.min_refresh, self.config.max_refresh)
        });
        tracing::info!(jwks_uri = %url, keys = ?set.kids(), max_age_s = max_age.as_secs(), "portcullis: fetched the issuer's keys");
        Ok(CachedKeys {
            set,
            fetched_at: self.clock.now(),
            max_age,
            generation: 0,
            document: fetched.value.get("keys").cloned().unwrap_or_default(),
        })
    }
}
