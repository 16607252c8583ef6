//! Fault injection: discovery, JWKS, introspection and userinfo answering 500, garbage,
//! oversized bodies, nothing at all, or resetting the connection. Every request fails closed
//! (503 with `Retry-After`, never 200, never 401) within a bounded time, and the service recovers
//! when the IdP does.

use std::time::{Duration, Instant};

use portcullis::PortcullisConfig;
use portcullis::Secret;
use portcullis::config::{Mode, UserinfoFailure};
use portcullis_e2e::fake_idp::{Endpoint, FakeIdp, Fault};
use portcullis_e2e::{AUDIENCE, Idp, Kit, Service, introspect_config_for};

const FAULTS: [Fault; 5] = [
    Fault::ServerError,
    Fault::Garbage,
    Fault::Oversized,
    Fault::Slow,
    Fault::Reset,
];

fn config(idp: &FakeIdp, mode: Mode) -> PortcullisConfig {
    let mut config = PortcullisConfig {
        issuer: Some(idp.issuer.clone()),
        audience: vec![AUDIENCE.into()],
        mode,
        ..Default::default()
    };
    config.http.connect_timeout = Duration::from_millis(500);
    config.http.timeout = Duration::from_millis(800);
    config.discovery.retry_backoff = Duration::from_millis(100);
    config.introspection.client_id = Some("hello-api".into());
    config.introspection.client_secret = Some(Secret::new("secret"));
    config.introspection.cache_ttl = Duration::ZERO;
    config
}

/// Sends the request while `endpoint` has `fault`: 503 within the bound; then heals it: 200.
async fn fails_closed_then_recovers(
    idp: &FakeIdp,
    service: &Service,
    token: &str,
    path: &str,
    endpoint: Endpoint,
    fault: Fault,
) {
    idp.set(endpoint, fault);
    let started = Instant::now();
    let reply = service.request(reqwest::Method::GET, path, token).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{endpoint:?} {fault:?}: {reply:?}");
    assert_eq!(
        reply.retry_after.as_deref(),
        Some("5"),
        "{endpoint:?} {fault:?}"
    );
    assert!(
        reply.challenge.is_none(),
        "{endpoint:?} {fault:?}: not the client's fault"
    );
    assert!(
        took < Duration::from_secs(3),
        "{endpoint:?} {fault:?} took {took:?}"
    );
    let failed_by = Instant::now();
    idp.set(endpoint, Fault::None);
    // The failure is remembered for discovery.retry-backoff (100 ms from a moment before
    // `failed_by`): wait until that has certainly passed.
    tokio::time::sleep_until((failed_by + Duration::from_millis(150)).into()).await;
    let reply = service.request(reqwest::Method::GET, path, token).await;
    assert_eq!(
        reply.status, 200,
        "{endpoint:?} {fault:?}: recovery: {reply:?}"
    );
}

#[tokio::test]
async fn discovery_and_jwks_faults_fail_closed_and_recover() {
    for endpoint in [Endpoint::Discovery, Endpoint::Jwks] {
        for fault in FAULTS {
            // A fresh service each time: nothing cached can decide.
            let idp = FakeIdp::start().await;
            let service = Service::start(config(&idp, Mode::Jwt)).await;
            fails_closed_then_recovers(
                &idp,
                &service,
                &idp.token(AUDIENCE),
                "/hello",
                endpoint,
                fault,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn introspection_faults_fail_closed_and_recover() {
    let idp = FakeIdp::start().await;
    let service = Service::start(config(&idp, Mode::Introspect)).await;
    for fault in FAULTS {
        fails_closed_then_recovers(
            &idp,
            &service,
            "opaque-token",
            "/hello",
            Endpoint::Introspection,
            fault,
        )
        .await;
    }
}

/// The same faults from the real IdP: oidc-provider's introspection endpoint, broken in its own
/// request hook, then healed.
#[tokio::test]
async fn introspection_faults_of_the_real_idp_fail_closed_and_recover() {
    let idp = Idp::start().await;
    let mut config = introspect_config_for(&idp);
    config.http.connect_timeout = Duration::from_millis(500);
    config.http.timeout = Duration::from_millis(800);
    config.discovery.retry_backoff = Duration::from_millis(100);
    config.introspection.cache_ttl = Duration::ZERO;
    let service = Service::start(config).await;
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    for fault in FAULTS {
        idp.inject_fault("/token/introspection", fault).await;
        let calls = idp.stats().await.get("/token/introspection").copied();
        let started = Instant::now();
        let reply = service.hello(&token).await;
        let took = started.elapsed();
        assert_eq!(reply.status, 503, "{fault:?}: {reply:?}");
        assert_eq!(reply.retry_after.as_deref(), Some("5"), "{fault:?}");
        assert!(
            reply.challenge.is_none(),
            "{fault:?}: not the client's fault"
        );
        assert!(took < Duration::from_secs(3), "{fault:?} took {took:?}");
        assert_eq!(
            idp.stats().await.get("/token/introspection").copied(),
            calls.map(|n| n + 1),
            "{fault:?}: the faulty endpoint was asked once"
        );
        let failed_by = Instant::now();
        idp.inject_fault("/token/introspection", Fault::None).await;
        tokio::time::sleep_until((failed_by + Duration::from_millis(150)).into()).await;
        let reply = service.hello(&token).await;
        assert_eq!(reply.status, 200, "{fault:?}: recovery: {reply:?}");
    }
}

#[tokio::test]
async fn userinfo_faults_fail_closed_when_configured_and_are_skipped_by_default() {
    let idp = FakeIdp::start().await;
    let mut strict = config(&idp, Mode::Jwt);
    strict.userinfo.enabled = true;
    strict.userinfo.on_failure = UserinfoFailure::Fail;
    let service = Service::start(strict.clone()).await;
    for fault in FAULTS {
        // A new token each round: userinfo answers are cached per token.
        let token = idp.token(AUDIENCE);
        fails_closed_then_recovers(&idp, &service, &token, "/hello", Endpoint::Userinfo, fault)
            .await;
    }
    // Default policy: the request goes on without userinfo.
    let mut lenient = strict;
    lenient.userinfo.on_failure = UserinfoFailure::Continue;
    let service = Service::start(lenient).await;
    idp.set(Endpoint::Userinfo, Fault::Reset);
    assert_eq!(service.hello(&idp.token(AUDIENCE)).await.status, 200);
}

#[tokio::test]
async fn cached_keys_outlive_an_idp_that_turns_hostile() {
    let idp = FakeIdp::start().await;
    let mut config = config(&idp, Mode::Jwt);
    // Keys go stale after a second, so each round below sends a refresh to the hostile IdP. The
    // service's clock is the test's, so "stale" does not depend on sleeping long enough.
    config.jwks.refresh_interval = Duration::from_secs(1);
    let (service, clock) = Service::start_with_clock(config).await;
    assert_eq!(service.hello(&idp.token(AUDIENCE)).await.status, 200);
    for fault in FAULTS {
        idp.set(Endpoint::Discovery, fault);
        idp.set(Endpoint::Jwks, fault);
        // Past the refresh interval and past the retry back-off of the previous round's failure.
        clock.advance(Duration::from_millis(1100));
        let asked = idp.hits(Endpoint::Jwks);
        // New tokens (ES256 signatures differ), so the decision cache cannot answer: the cached
        // keys verify each while the refresh fails. Requests continue until one of them has sent
        // a refresh to the hostile IdP (the previous round's may still be running, or its
        // failure still be in its back-off: the clock moves on with each request).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert_eq!(
                service.hello(&idp.token(AUDIENCE)).await.status,
                200,
                "{fault:?}"
            );
            if idp.hits(Endpoint::Jwks) > asked {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{fault:?}: the stale keys were never refreshed, so the hostile IdP was not tested"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            clock.advance(Duration::from_millis(200));
        }
    }
}
