//! What Portcullis tells operators: metrics through the [`metrics`] facade, and the state behind
//! the health report (last IdP calls, JWKS age).
//!
//! One [`Telemetry`] is shared by every component of a service through the [`crate::http::HttpClient`]
//! they share, so each IdP call is timed and classified in one place. Metrics go to whatever
//! recorder the application installed; without one they cost an atomic load. Install the
//! recorder **before** building Portcullis: the hot-path counters are registered once, at build
//! time.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `portcullis_validations_total` | counter | `outcome` (`accepted`, `rejected`, `unavailable`, `error`), `reason` |
//! | `portcullis_cache_lookups_total` | counter | `cache` (`jwt`, `introspection`, `userinfo`), `result` (`hit`, `miss`) |
//! | `portcullis_idp_request_duration_seconds` | histogram | `endpoint` |
//! | `portcullis_idp_errors_total` | counter | `endpoint`, `kind` (`connect`, `timeout`, `status_4xx`, `status_5xx`, `too_large`, `invalid_json`) |
//! | `portcullis_jwks_keys` | gauge | |
//! | `portcullis_jwks_age_seconds` | gauge | (set by [`Telemetry::record_gauges`]) |

use std::sync::Mutex;

use crate::sync::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metrics::Counter;

use crate::error::{AuthError, ErrorKind};
use crate::http::FetchError;

/// Metric names, for dashboards and tests.
pub mod names {
    /// Validations by outcome and reason.
    pub const VALIDATIONS: &str = "portcullis_validations_total";
    /// Cache lookups by cache and result.
    pub const CACHE_LOOKUPS: &str = "portcullis_cache_lookups_total";
    /// Latency of calls to the authorization server.
    pub const IDP_DURATION: &str = "portcullis_idp_request_duration_seconds";
    /// Failed calls to the authorization server.
    pub const IDP_ERRORS: &str = "portcullis_idp_errors_total";
    /// Keys in the cached JWKS.
    pub const JWKS_KEYS: &str = "portcullis_jwks_keys";
    /// Seconds since the JWKS was last fetched.
    pub const JWKS_AGE: &str = "portcullis_jwks_age_seconds";
}

/// The authorization-server endpoints Portcullis calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdpEndpoint {
    /// OpenID / RFC 8414 metadata.
    Discovery,
    /// The JWKS.
    Jwks,
    /// RFC 7662 introspection.
    Introspection,
    /// OIDC userinfo.
    Userinfo,
    /// The token endpoint (exchange, client credentials).
    Token,
}

impl IdpEndpoint {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Introspection => "introspection",
            Self::Userinfo => "userinfo",
            Self::Token => "token",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The caches whose lookups are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheName {
    /// Verified JWTs.
    Jwt,
    /// Introspection answers.
    Introspection,
    /// Userinfo answers.
    Userinfo,
}

impl CacheName {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Introspection => "introspection",
            Self::Userinfo => "userinfo",
        }
    }
}

/// The last outcomes of calls to one endpoint.
#[derive(Debug, Clone, Default)]
pub struct CallRecord {
    /// When the last call succeeded.
    pub last_success: Option<Instant>,
    /// When the last call failed, and why.
    pub last_error: Option<(Instant, String)>,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
}

/// The cached JWKS as last fetched.
#[derive(Debug, Clone, Copy)]
pub struct JwksRecord {
    /// When it was fetched.
    pub fetched_at: Instant,
    /// Usable keys in it.
    pub keys: usize,
}

/// A hot-path counter: one relaxed atomic add per event, handed to the recorder in batches of
/// [`BATCH`] and in full by [`Telemetry::record_gauges`] (which a scrape calls), so counts are
/// exact at every scrape and at most `BATCH - 1` behind in between.
struct BatchedCounter {
    pending: AtomicU64,
    counter: Counter,
}

/// Events a hot-path counter holds back at most.
const BATCH: u64 = 256;

impl BatchedCounter {
    fn new(counter: Counter) -> Self {
        Self {
            pending: AtomicU64::new(0),
            counter,
        }
    }

    fn add_one(&self) {
        if self.pending.fetch_add(1, Ordering::Relaxed) + 1 >= BATCH {
            self.flush();
        }
    }

    fn flush(&self) {
        let n = self.pending.swap(0, Ordering::Relaxed);
        if n > 0 {
            self.counter.increment(n);
        }
    }
}

struct Handles {
    accepted: BatchedCounter,
    hits: [BatchedCounter; 3],
    misses: [Counter; 3],
}

impl Handles {
    fn register() -> Self {
        let lookup = |cache: CacheName, result: &'static str| metrics::counter!(names::CACHE_LOOKUPS, "cache" => cache.as_str(), "result" => result);
        let caches = [
            CacheName::Jwt,
            CacheName::Introspection,
            CacheName::Userinfo,
        ];
        Self {
            accepted: BatchedCounter::new(
                metrics::counter!(names::VALIDATIONS, "outcome" => "accepted", "reason" => "none"),
            ),
            hits: caches.map(|c| BatchedCounter::new(lookup(c, "hit"))),
            misses: caches.map(|c| lookup(c, "miss")),
        }
    }
}

/// Metrics and health state shared by the components of one service.
pub struct Telemetry {
    handles: Handles,
    calls: [Mutex<CallRecord>; 5],
    jwks: Mutex<Option<JwksRecord>>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Registers the hot-path counters with the recorder installed now.
    pub fn new() -> Self {
        Self {
            handles: Handles::register(),
            calls: Default::default(),
            jwks: Mutex::new(None),
        }
    }

    /// Counts a request's outcome: accepted, or rejected with its reason.
    pub fn validation(&self, outcome: Result<(), &AuthError>) {
        match outcome {
            Ok(()) => self.handles.accepted.add_one(),
            Err(error) => {
                let outcome = match error.kind() {
                    ErrorKind::Unavailable => "unavailable",
                    ErrorKind::Misconfigured => "error",
                    _ => "rejected",
                };
                metrics::counter!(names::VALIDATIONS, "outcome" => outcome, "reason" => error.reason().as_str())
                    .increment(1);
            }
        }
    }

    /// Counts a cache lookup.
    pub fn cache_lookup(&self, cache: CacheName, hit: bool) {
        let i = cache as usize;
        if hit {
            self.handles.hits[i].add_one();
        } else {
            self.handles.misses[i].increment(1);
        }
    }

    /// Records a finished call to the authorization server.
    pub fn idp_call(
        &self,
        endpoint: IdpEndpoint,
        elapsed: Duration,
        outcome: Result<(), &FetchError>,
    ) {
        metrics::histogram!(names::IDP_DURATION, "endpoint" => endpoint.as_str())
            .record(elapsed.as_secs_f64());
        match outcome {
            Ok(()) => self.call_succeeded(endpoint),
            Err(error) => {
                let kind = match error {
                    FetchError::Connect { .. } => "connect",
                    FetchError::Timeout { .. } => "timeout",
                    FetchError::Status { status, .. } if *status >= 500 => "status_5xx",
                    FetchError::Status { .. } => "status_4xx",
                    FetchError::TooLarge { .. } => "too_large",
                    FetchError::InvalidJson { .. } => "invalid_json",
                    FetchError::Redirected { .. } => "redirect",
                };
                self.call_failed(endpoint, kind, error.to_string());
            }
        }
    }

    fn call_failed(&self, endpoint: IdpEndpoint, kind: &'static str, message: String) {
        metrics::counter!(names::IDP_ERRORS, "endpoint" => endpoint.as_str(), "kind" => kind)
            .increment(1);
        let mut record = lock(&self.calls[endpoint.index()]);
        record.calls += 1;
        record.errors += 1;
        record.last_error = Some((Instant::now(), message));
    }

    fn call_succeeded(&self, endpoint: IdpEndpoint) {
        let mut record = lock(&self.calls[endpoint.index()]);
        record.calls += 1;
        record.last_success = Some(Instant::now());
    }

    /// Marks the last call of `endpoint` a failure after all: it answered, but not usefully.
    pub fn answer_refused(&self, endpoint: IdpEndpoint, kind: &'static str, message: String) {
        metrics::counter!(names::IDP_ERRORS, "endpoint" => endpoint.as_str(), "kind" => kind)
            .increment(1);
        let mut record = lock(&self.calls[endpoint.index()]);
        record.errors += 1;
        // Later than the success `idp_call` just recorded for the same call, so it is the last word.
        record.last_error = Some((Instant::now(), message));
    }

    /// Records a JWKS fetch that produced `keys` usable keys.
    pub fn jwks_fetched(&self, keys: usize) {
        *lock(&self.jwks) = Some(JwksRecord {
            fetched_at: Instant::now(),
            keys,
        });
        metrics::gauge!(names::JWKS_KEYS).set(keys as f64);
        metrics::gauge!(names::JWKS_AGE).set(0.0);
    }

    /// Sets the gauges that change with time (JWKS age) and hands the batched hot-path counts
    /// to the recorder. Call before each scrape (hello-api's `/metrics` does); without it,
    /// accepted validations and cache hits reach the recorder in batches of 256.
    pub fn record_gauges(&self) {
        self.handles.accepted.flush();
        for hits in &self.handles.hits {
            hits.flush();
        }
        if let Some(jwks) = self.jwks() {
            metrics::gauge!(names::JWKS_AGE).set(jwks.fetched_at.elapsed().as_secs_f64());
        }
    }

    /// The last outcomes of calls to `endpoint`.
    pub fn calls(&self, endpoint: IdpEndpoint) -> CallRecord {
        lock(&self.calls[endpoint.index()]).clone()
    }

    /// The cached JWKS, when one was fetched.
    pub fn jwks(&self) -> Option<JwksRecord> {
        *lock(&self.jwks)
    }
}
