//! Integration tests of portcullis-jwt-local against a JWKS server on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use portcullis_core::EndpointSource;
use portcullis_core::config::PortcullisConfig;
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{
    AuthError, BearerToken, Clock, ErrorKind, IssuerUrl, ManualClock, Principal,
};
use portcullis_jwt_local::{JwtSettings, JwtValidator};
use serde_json::{Value, json};
use support::{FakeJwks, JwksReply, TestKey, b64};

const ISSUER: &str = "https://idp.example.test";
const START: u64 = 1_800_000_000;

struct Fixture {
    validator: JwtValidator,
    clock: ManualClock,
    jwks: FakeJwks,
}

async fn fixture(keys: &[&TestKey], tweak: impl FnOnce(&mut PortcullisConfig)) -> Fixture {
    let jwks = FakeJwks::start(keys).await;
    let mut config = PortcullisConfig {
        audience: vec!["api://hello".into()],
        ..Default::default()
    };
    tweak(&mut config);
    let settings =
        JwtSettings::from_config(&config, IssuerUrl::parse(ISSUER, false).unwrap()).unwrap();
    let clock = ManualClock::at_unix(START);
    let http = HttpClient::new(HttpSettings {
        timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let validator = JwtValidator::new(
        settings,
        EndpointSource::Configured(jwks.url.clone()),
        http,
        Arc::new(clock.clone()),
    );
    Fixture {
        validator,
        clock,
        jwks,
    }
}

fn claims() -> Value {
    claims_at(START as i64)
}

fn claims_at(now: i64) -> Value {
    json!({"iss": ISSUER, "aud": "api://hello", "sub": "alice", "exp": now + 300, "iat": now, "scope": "hello:read", "client_id": "web"})
}

async fn validate(f: &Fixture, token: &str) -> Result<Principal, AuthError> {
    f.validator.validate_token(&BearerToken::new(token)).await
}

/// Waits (with a deadline, never a fixed sleep) until no JWKS fetch is running or pending, then
/// checks how many requests the JWKS server has seen.
async fn settle(f: &Fixture, expected_hits: usize, why: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while f.validator.store().refreshing() {
        assert!(
            std::time::Instant::now() < deadline,
            "a JWKS fetch still runs after 10 s ({why})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(f.jwks.hits(), expected_hits, "{why}");
}

fn assert_invalid(result: Result<Principal, AuthError>, expected: &str) {
    let error = result.expect_err("the token must be refused");
    assert_eq!(error.kind(), ErrorKind::InvalidToken, "{error:?}");
    assert!(
        error.description().contains(expected),
        "expected {expected:?} in {:?}",
        error.description()
    );
}

#[tokio::test]
async fn first_verify_with_the_single_aws_lc_backend_does_not_panic() {
    // jsonwebtoken panics at the first verify when both crypto backends, or neither, are
    // enabled. This verifies real signatures of two key types through the configured backend.
    let (ec, ed) = (TestKey::es256("ec"), TestKey::eddsa("ed"));
    let f = fixture(&[&ec, &ed], |_| {}).await;
    for key in [&ec, &ed] {
        let principal = validate(&f, &key.sign(&claims())).await.unwrap();
        assert_eq!(principal.subject(), Some("alice"));
        assert_eq!(principal.client_id(), Some("web"));
        assert!(principal.has_scope("hello:read"));
    }
}

#[tokio::test]
async fn keys_are_fetched_once_and_reused() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    for _ in 0..10 {
        validate(&f, &key.sign(&claims())).await.unwrap();
    }
    assert_eq!(f.jwks.hits(), 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    let key = TestKey::es256("k1");
    let f = Arc::new(fixture(&[&key], |_| {}).await);
    validate(&f, &key.sign(&claims())).await.unwrap();
    let flood = |from: usize| {
        let f = f.clone();
        async move {
            let mut tasks = Vec::new();
            for i in from..from + 100 {
                let forged = TestKey::es256(&format!("made-up-{i}"));
                let token = forged.sign(&claims());
                let f = f.clone();
                tasks.push(tokio::spawn(async move { validate(&f, &token).await }));
            }
            for task in tasks {
                assert_invalid(task.await.unwrap(), "does not publish");
            }
        }
    };
    flood(0).await;
    assert_eq!(
        f.jwks.hits(),
        2,
        "one initial fetch plus one refetch for the whole flood"
    );
    // Ten seconds of flooding, a hundred new kids every half second: one refetch per second.
    for step in 1..=20 {
        f.clock.advance(Duration::from_millis(500));
        flood(step * 100).await;
    }
    assert_eq!(
        f.jwks.hits(),
        2 + 10,
        "at most one refetch per unknown-kid-min-interval (1 s) however many kids"
    );
}

#[tokio::test]
async fn one_bogus_kid_does_not_block_a_real_rotation() {
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    let f = fixture(&[&old], |_| {}).await;
    validate(&f, &old.sign(&claims())).await.unwrap();
    // An attacker sends a made-up kid: one refetch, which does not bring it.
    let bogus = TestKey::es256("bogus").sign(&claims());
    assert_invalid(validate(&f, &bogus).await, "does not publish");
    assert_eq!(f.jwks.hits(), 2);
    // A second later the IdP publishes a new key and signs with it.
    f.jwks.publish(&[&old, &new]);
    f.clock.advance(Duration::from_millis(1100));
    let principal = validate(&f, &new.sign(&claims_at(START as i64 + 1)))
        .await
        .expect("a token signed with the newly published key is accepted a second later");
    assert_eq!(principal.subject(), Some("alice"));
    assert_eq!(f.jwks.hits(), 3);
}

#[tokio::test]
async fn a_fetch_that_started_before_a_key_was_published_does_not_mark_its_kid_unknown() {
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    let f = fixture(&[&old], |_| {}).await;
    validate(&f, &old.sign(&claims())).await.unwrap();
    // The keys go stale: the next request starts a background refresh, which the server
    // answers slowly with the key set it had when the request arrived (only `old`).
    f.clock.advance(Duration::from_secs(601));
    let now = f.clock.unix_seconds();
    f.jwks.set_delay(Duration::from_millis(300));
    validate(&f, &old.sign(&claims_at(now))).await.unwrap();
    assert!(f.validator.store().refreshing(), "no background refresh");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while f.jwks.hits() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the background refresh never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The IdP publishes `new` while that refresh is still on its way, and a token signed with it
    // arrives: the old refresh cannot know it, so a fetch started now must decide.
    f.jwks.publish(&[&old, &new]);
    let principal = validate(&f, &new.sign(&claims_at(now)))
        .await
        .expect("the new key is found by a fetch started after the token arrived");
    assert_eq!(principal.subject(), Some("alice"));
    assert_eq!(f.jwks.hits(), 3);
}

#[tokio::test]
async fn a_kid_the_issuer_does_not_publish_is_not_refetched_for_until_its_cooldown_ends() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    validate(&f, &key.sign(&claims())).await.unwrap();
    // A client that keeps sending a token signed with a retired key.
    let retired = TestKey::es256("retired").sign(&claims());
    for _ in 0..20 {
        assert_invalid(validate(&f, &retired).await, "does not publish");
        f.clock.advance(Duration::from_millis(1100));
    }
    assert_eq!(
        f.jwks.hits(),
        2,
        "the same unknown kid causes one refetch per unknown-kid-cooldown (30 s)"
    );
    f.clock.advance(Duration::from_secs(10));
    assert_invalid(validate(&f, &retired).await, "does not publish");
    assert_eq!(
        f.jwks.hits(),
        3,
        "after the cooldown it may be refetched for again"
    );
}

#[tokio::test]
async fn cached_decisions_alone_keep_the_keys_refreshed_and_end_when_their_key_leaves() {
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    let f = fixture(&[&old], |c| {
        c.jwks.refresh_interval = Duration::from_secs(60)
    })
    .await;
    let token = old.sign(&claims());
    validate(&f, &token).await.unwrap();
    // The IdP drops the key; the only traffic is the token already decided.
    f.jwks.publish(&[&new]);
    f.clock.advance(Duration::from_secs(30));
    validate(&f, &token).await.unwrap();
    assert!(!f.validator.store().refreshing(), "fresh keys: no refresh");
    f.clock.advance(Duration::from_secs(31));
    validate(&f, &token)
        .await
        .expect("the cached decision answers while the refresh runs");
    assert!(
        f.validator.store().refreshing(),
        "a cache hit on stale keys starts a refresh"
    );
    settle(&f, 2, "one background refresh").await;
    assert_invalid(validate(&f, &token).await, "does not publish");
}

#[tokio::test]
async fn rotation_new_kid_is_accepted_after_one_refetch() {
    let (old, new) = (TestKey::es256("old"), TestKey::eddsa("new"));
    let f = fixture(&[&old], |_| {}).await;
    validate(&f, &old.sign(&claims())).await.unwrap();
    f.jwks.publish(&[&old, &new]);
    validate(&f, &new.sign(&claims())).await.unwrap();
    assert_eq!(f.jwks.hits(), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_keys() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    f.jwks.fail_with(StatusCode::INTERNAL_SERVER_ERROR, "down");
    f.clock.advance(Duration::from_secs(601));
    // Stale keys keep working while the background refresh fails.
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    settle(&f, 2, "the stale set triggered one background refresh").await;
    // After it failed: the last good keys still decide, and within the retry back-off no new
    // fetch is started.
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    assert!(
        !f.validator.store().refreshing(),
        "no refetch within the back-off"
    );
    settle(&f, 2, "no refetch within the back-off").await;
    // Garbage is a failed refresh too.
    f.jwks.fail_with(StatusCode::OK, "not json");
    f.clock.advance(Duration::from_secs(5));
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    settle(&f, 3, "after the back-off, one more background refresh").await;
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .expect("the last good keys outlive a garbage answer");
    assert_eq!(
        f.validator.store().cached().unwrap().set.kids(),
        vec!["k1"],
        "the garbage did not replace the cached set"
    );
}

#[tokio::test]
async fn cache_control_max_age_decides_freshness_within_bounds() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let body = json!({"keys": [key.jwk.clone()]}).to_string();
    f.jwks.set(JwksReply {
        status: StatusCode::OK,
        body,
        cache_control: Some("max-age=5"),
    });
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    let cached = f.validator.store().cached().unwrap();
    assert_eq!(
        cached.max_age,
        Duration::from_secs(60),
        "max-age 5 is raised to min-refresh (60 s)"
    );
    f.clock.advance(Duration::from_secs(30));
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    // A background refresh is marked pending before `validate` returns, so this is decided now.
    assert!(!f.validator.store().refreshing(), "still fresh after 30 s");
    settle(&f, 1, "still fresh after 30 s").await;
    f.clock.advance(Duration::from_secs(31));
    validate(&f, &key.sign(&claims_at(f.clock.unix_seconds())))
        .await
        .unwrap();
    assert!(f.validator.store().refreshing(), "stale after 61 s");
    settle(&f, 2, "stale after 61 s: refreshed in the background").await;
}

#[tokio::test]
async fn an_unreachable_jwks_with_nothing_cached_is_unavailable_not_invalid() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    f.jwks.fail_with(StatusCode::BAD_GATEWAY, "");
    let error = validate(&f, &key.sign(&claims())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.detail().unwrap().contains("502"), "{error:?}");
    // Within the back-off, the same answer comes at once without a new fetch.
    let hits = f.jwks.hits();
    assert_eq!(
        validate(&f, &key.sign(&claims())).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(f.jwks.hits(), hits);
    // After it, the recovered JWKS is used.
    f.jwks.publish(&[&key]);
    f.clock.advance(Duration::from_secs(3));
    validate(&f, &key.sign(&claims())).await.unwrap();
}

#[tokio::test]
async fn signature_and_algorithm_attacks_are_refused() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let good = key.sign(&claims());
    let (input, sig) = good.rsplit_once('.').unwrap();

    // Tampered payload, original signature.
    let mut tampered = claims();
    tampered["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{sig}",
        input.split('.').next().unwrap(),
        b64(tampered.to_string().as_bytes())
    );
    assert_invalid(validate(&f, &forged).await, "signature is invalid");
    // Stripped signature.
    assert_invalid(validate(&f, &format!("{input}.")).await, "no signature");
    // Bit-flipped signature.
    let mut flipped = sig.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    assert_invalid(
        validate(
            &f,
            &format!("{input}.{}", String::from_utf8(flipped).unwrap()),
        )
        .await,
        "signature is invalid",
    );
    // ECDSA r = s = 0 (CVE-2022-21449).
    assert_invalid(
        validate(&f, &format!("{input}.{}", b64(&[0u8; 64]))).await,
        "signature is invalid",
    );
    // alg none, with and without a signature part.
    let none_header = b64(json!({"alg": "none", "kid": "k1"}).to_string().as_bytes());
    let body = b64(claims().to_string().as_bytes());
    assert_invalid(
        validate(&f, &format!("{none_header}.{body}.")).await,
        "alg none",
    );
    assert_invalid(
        validate(&f, &format!("{none_header}.{body}.{sig}")).await,
        "alg none",
    );
    // HS256 "signed" with the public key (the classic key-confusion attack).
    let hs_header = b64(json!({"alg": "HS256", "kid": "k1"}).to_string().as_bytes());
    assert_invalid(
        validate(&f, &format!("{hs_header}.{body}.{sig}")).await,
        "HMAC",
    );
    // A token alg that differs from its key's alg.
    let es384 = key.sign_with_header(&json!({"alg": "ES384", "kid": "k1"}), &claims());
    assert_invalid(validate(&f, &es384).await, "does not match its key");
}

#[tokio::test]
async fn embedded_keys_in_the_header_are_never_trusted() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let attacker = TestKey::es256("k1");
    // The attacker serves its own key set, and names it in `jku` and `x5u`.
    let attacker_jwks = FakeJwks::start(&[&attacker]).await;
    let header = json!({"alg": "ES256", "kid": "k1", "jwk": attacker.jwk,
        "jku": attacker_jwks.url, "x5u": attacker_jwks.url});
    assert_invalid(
        validate(&f, &attacker.sign_with_header(&header, &claims())).await,
        "signature is invalid",
    );
    // With a kid the issuer does not publish: our JWKS is refetched once, theirs never.
    let evil = TestKey::es256("evil");
    attacker_jwks.publish(&[&evil]);
    let header = json!({"alg": "ES256", "kid": "evil", "jwk": evil.jwk,
        "jku": attacker_jwks.url, "x5u": attacker_jwks.url});
    assert_invalid(
        validate(&f, &evil.sign_with_header(&header, &claims())).await,
        "does not publish",
    );
    assert_eq!(
        attacker_jwks.hits(),
        0,
        "a key URL named by the token is never fetched"
    );
    assert_eq!(f.jwks.hits(), 2, "only the configured JWKS is fetched");
}

#[tokio::test]
async fn claims_are_checked_after_the_signature() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let with = |name: &str, value: Value| {
        let mut c = claims();
        c[name] = value;
        key.sign(&c)
    };
    assert_invalid(
        validate(&f, &with("exp", json!(START - 120))).await,
        "expired 120 s ago",
    );
    assert_invalid(
        validate(&f, &with("aud", json!("api://other"))).await,
        "another audience",
    );
    assert_invalid(
        validate(&f, &with("iss", json!("https://evil.test"))).await,
        "issued by https://evil.test",
    );
    f.clock.advance(Duration::from_secs(400));
    assert_invalid(
        validate(&f, &key.sign(&claims())).await,
        "expired 100 s ago",
    );
}

#[tokio::test]
async fn leeway_and_several_audiences_are_configurable() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |c| {
        c.audience = vec!["api://a".into(), "api://hello".into()];
        c.jwt.leeway = Duration::ZERO;
    })
    .await;
    let mut expired = claims();
    expired["exp"] = json!(START - 1);
    assert_invalid(validate(&f, &key.sign(&expired)).await, "expired 1 s ago");
    let mut other = claims();
    other["aud"] = json!(["api://a"]);
    validate(&f, &key.sign(&other)).await.unwrap();
}

#[tokio::test]
async fn hmac_works_only_with_a_configured_secret() {
    let secret = "0123456789abcdef0123456789abcdef-secret";
    let f = fixture(&[&TestKey::es256("k1")], |c| {
        c.jwt.algorithms = vec!["ES256".into(), "HS256".into()];
        c.jwt.hmac_secret = Some(portcullis_core::Secret::new(secret));
    })
    .await;
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256"}).to_string().as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    validate(&f, &format!("{input}.{}", b64(tag.as_ref())))
        .await
        .unwrap();
    let wrong = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"another-secret"),
        input.as_bytes(),
    );
    assert_invalid(
        validate(&f, &format!("{input}.{}", b64(wrong.as_ref()))).await,
        "signature is invalid",
    );
}

#[tokio::test]
async fn malformed_tokens_get_a_clear_description() {
    let f = fixture(&[&TestKey::es256("k1")], |_| {}).await;
    let cases = [
        ("opaque", "not a JWT"),
        ("a.b.c.d.e", "JWE"),
        ("a.b", "three"),
        ("%%%.e30.c2ln", "header is malformed"),
        ("e30.e30.c2ln", "no `alg`"),
        ("W10.e30.c2ln", "not a JSON object"),
    ];
    for (token, expected) in cases {
        assert_invalid(validate(&f, token).await, expected);
    }
    assert_eq!(
        f.jwks.hits(),
        0,
        "nothing was fetched for tokens refused on their shape"
    );
}

#[tokio::test]
async fn a_token_seen_before_skips_the_signature_until_it_expires() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let token = key.sign(&claims());
    for _ in 0..5 {
        validate(&f, &token).await.unwrap();
    }
    assert_eq!(
        f.validator.signature_checks(),
        1,
        "one verification, four cache hits"
    );
    // The entry ends at exp + leeway (300 + 60 s).
    f.clock.advance(Duration::from_secs(359));
    validate(&f, &token).await.unwrap();
    f.clock.advance(Duration::from_secs(2));
    assert_invalid(validate(&f, &token).await, "expired");
}

#[tokio::test]
async fn a_cached_decision_ends_when_its_key_leaves_the_jwks() {
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    let f = fixture(&[&old, &new], |_| {}).await;
    let token = old.sign(&claims());
    validate(&f, &token).await.unwrap();
    let other = new.sign(&claims());
    validate(&f, &other).await.unwrap();
    f.jwks.publish(&[&new]);
    f.validator.store().refresh().await.unwrap();
    assert_invalid(validate(&f, &token).await, "does not publish");
    validate(&f, &other).await.unwrap();
    assert_eq!(
        f.validator.signature_checks(),
        2,
        "the token whose key stayed is still a cache hit"
    );
}

#[tokio::test]
async fn a_refresh_that_brings_the_same_keys_keeps_cached_decisions() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let token = key.sign(&claims());
    validate(&f, &token).await.unwrap();
    let generation = f.validator.store().generation();
    f.validator.store().refresh().await.unwrap();
    f.validator.store().refresh().await.unwrap();
    assert_eq!(f.validator.store().generation(), generation, "same keys");
    assert!(f.validator.lookup_verified(token.as_bytes()).is_some());
    validate(&f, &token).await.unwrap();
    assert_eq!(f.validator.signature_checks(), 1, "still a cache hit");
    // A new key set moves the generation; the token's key stayed, so the decision stands.
    let other = TestKey::es256("k2");
    f.jwks.publish(&[&key, &other]);
    f.validator.store().refresh().await.unwrap();
    assert_ne!(f.validator.store().generation(), generation, "keys changed");
    validate(&f, &token).await.unwrap();
    assert_eq!(f.validator.signature_checks(), 1);
}

#[tokio::test]
async fn the_first_token_is_cached_with_the_keys_that_verified_it() {
    // Lazy discovery: the first validation fetches the keys. Its cached decision must stand for
    // the key set it was verified with, not for the empty store before the fetch. A token
    // without `kid` shows it: its decision holds only while the key set is the same one.
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |_| {}).await;
    let token = key.sign_with_header(&json!({"alg": "ES256", "typ": "at+jwt"}), &claims());
    validate(&f, &token).await.unwrap();
    validate(&f, &token).await.unwrap();
    assert_eq!(
        f.validator.signature_checks(),
        1,
        "the second time is a cache hit"
    );
    assert!(f.validator.lookup_verified(token.as_bytes()).is_some());
    assert!(
        f.validator
            .lookup_verified(format!("{token}x").as_bytes())
            .is_none(),
        "a hit compares the whole token"
    );
}

#[tokio::test]
async fn the_cache_stays_within_its_capacity_and_can_be_disabled() {
    let key = TestKey::es256("k1");
    let f = fixture(&[&key], |c| c.jwt.cache_capacity = 50).await;
    for i in 0..500 {
        let mut c = claims();
        c["jti"] = json!(i);
        validate(&f, &key.sign(&c)).await.unwrap();
    }
    assert!(
        f.validator.cached_tokens() <= 50,
        "{} cached",
        f.validator.cached_tokens()
    );
    let off = fixture(&[&key], |c| c.jwt.cache_capacity = 0).await;
    let token = key.sign(&claims());
    validate(&off, &token).await.unwrap();
    validate(&off, &token).await.unwrap();
    assert_eq!(off.validator.signature_checks(), 2);
}
