//! The issuer's keys: fetched, cached, refreshed, never locked across I/O.
//!
//! - The first request (or startup, with eager discovery) fetches the JWKS.
//! - Keys are used for `Cache-Control: max-age` clamped to `[min-refresh, max-refresh]`, or
//!   `refresh-interval` when the server gives none. Stale keys keep serving while one background
//!   refresh runs.
//! - A token with an unknown `kid` triggers one refetch, shared by every concurrent request
//!   (single-flight), and at most one per `unknown-kid-min-interval` (1 s) whatever the kids: a
//!   flood of made-up kids costs one fetch a second. A kid that a refetch did not bring is not
//!   refetched for again for `unknown-kid-cooldown` (30 s), so a client that keeps sending an
//!   old token costs nothing, while a key the IdP publishes a second after a bogus kid arrived
//!   is picked up by the next refetch (one bogus kid never blocks a real rotation).
//! - A failed refresh keeps the last good keys.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
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

/// Bounds the refetches that tokens with unknown kids cause.
#[derive(Debug, Default)]
struct UnknownKids {
    /// When the last unknown-kid refetch started (any kid).
    last_fetch: Option<SystemTime>,
    /// Kids (by a keyed hash: attacker-chosen strings are not stored) that a refetch did not
    /// bring, and when.
    refused: HashMap<u64, SystemTime>,
    hasher: RandomState,
}

/// Most kids remembered as unknown; past it, entries older than the cooldown are dropped, and if
/// none is, the new kid is not remembered (the global interval still bounds its fetches).
const MAX_UNKNOWN_KIDS: usize = 1024;

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
    unknown_kids: Mutex<UnknownKids>,
    last_failure: Mutex<Option<(SystemTime, AuthError)>>,
    flight: SingleFlight<(), Result<Arc<CachedKeys>, AuthError>>,
    fetches: AtomicU64,
    /// A background refresh was spawned and has not finished (set before the task first runs).
    background: AtomicBool,
    /// Unix second from which the cached keys are stale (`i64::MAX` while none are cached): one
    /// atomic load tells an answer that never looks at the keys (a cached decision) to refresh.
    stale_at: AtomicI64,
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
            unknown_kids: Mutex::new(UnknownKids::default()),
            last_failure: Mutex::new(None),
            flight: SingleFlight::new(),
            fetches: AtomicU64::new(0),
            background: AtomicBool::new(false),
            stale_at: AtomicI64::new(i64::MAX),
            generation: AtomicU64::new(0),
        }
    }

    /// How many JWKS fetches were started (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Whether a fetch is running, or a background refresh was started and has not finished.
    /// Tests wait on it instead of sleeping.
    pub fn refreshing(&self) -> bool {
        self.background.load(Ordering::Acquire) || self.flight.in_flight() > 0
    }

    /// Starts a background refresh when the cached keys are stale: the one staleness check, for
    /// [`JwksStore::keys`] and for answers that never look at the keys (cached decisions), so a
    /// service whose traffic is all cache hits still refreshes, and a key removed from the JWKS
    /// ends its decisions. One atomic load while the keys are fresh.
    pub fn refresh_if_stale(self: &Arc<Self>, now_unix: i64) {
        if now_unix >= self.stale_at.load(Ordering::Relaxed) {
            self.refresh_in_background();
        }
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
            self.refresh_if_stale(self.clock.unix_seconds());
            return Ok(keys);
        }
        if let Some(error) = self.recent_failure() {
            return Err(error);
        }
        self.refresh().await
    }

    /// Called for a `kid` the cached set lacks. Refetches unless an unknown-kid refetch started
    /// less than `unknown-kid-min-interval` ago, or a refetch within `unknown-kid-cooldown`
    /// already showed that the issuer does not publish this kid. `None` when no refetch was
    /// allowed and none is running, or it failed.
    pub async fn refetch_for_unknown_kid(self: &Arc<Self>, kid: &str) -> Option<Arc<CachedKeys>> {
        let (allowed, hash) = {
            let mut unknown = lock(&self.unknown_kids);
            let now = self.clock.now();
            let hash = unknown.hasher.hash_one(kid);
            let known_bogus = unknown
                .refused
                .get(&hash)
                .is_some_and(|&when| elapsed_since(now, when) < self.config.unknown_kid_cooldown);
            let too_soon = unknown.last_fetch.is_some_and(|when| {
                elapsed_since(now, when) < self.config.unknown_kid_min_interval
            });
            let allowed = !known_bogus && !too_soon;
            if allowed {
                unknown.last_fetch = Some(now);
            }
            (allowed, hash)
        };
        if allowed {
            // A fetch already running may have started before the issuer published this kid:
            // it can settle the question only by bringing the key. Otherwise a fetch started
            // now decides, so a real key is never remembered as unknown because of an old fetch.
            if let Some(Ok(keys)) = self.flight.wait(&()).await
                && keys.set.has_kid(kid)
            {
                return Some(keys);
            }
            let fresh = self.refresh().await.ok();
            if fresh.as_ref().is_some_and(|keys| !keys.set.has_kid(kid)) {
                self.remember_unknown(hash);
            }
            return fresh;
        }
        // Not now: share a refetch that is still running, never start one.
        self.flight
            .wait(&())
            .await
            .and_then(Result::ok)
            .or_else(|| self.cached())
    }

    fn remember_unknown(&self, hash: u64) {
        let mut unknown = lock(&self.unknown_kids);
        let now = self.clock.now();
        if unknown.refused.len() >= MAX_UNKNOWN_KIDS {
            let cooldown = self.config.unknown_kid_cooldown;
            unknown
                .refused
                .retain(|_, &mut when| elapsed_since(now, when) < cooldown);
        }
        if unknown.refused.len() < MAX_UNKNOWN_KIDS {
            unknown.refused.insert(hash, now);
        }
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
        if self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = Arc::clone(self);
        handle.spawn(async move {
            // Cleared even if the task is dropped unfinished (runtime shut down).
            let done = BackgroundDone(&store.background);
            let _ = store.refresh().await;
            drop(done);
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
                let fresh_for = i64::try_from(keys.max_age.as_secs()).unwrap_or(i64::MAX);
                let fetched = keys
                    .fetched_at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                // Rounded up: never earlier than `keys()` would call the set stale.
                let stale_at = fetched.saturating_add(fresh_for).saturating_add(1);
                let keys = Arc::new(keys);
                *current = Some(keys.clone());
                self.stale_at.store(stale_at, Ordering::Relaxed);
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

/// Clears the "background refresh pending" flag when the refresh task ends, however it ends.
struct BackgroundDone<'a>(&'a AtomicBool);

impl Drop for BackgroundDone<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
