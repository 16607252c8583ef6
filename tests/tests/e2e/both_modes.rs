//! The same suite in `jwt` and `introspect` mode: one setting switches the validation, the
//! handler and the answers stay the same. Each case runs as `<case>::jwt` and
//! `<case>::introspect`.

use std::time::Duration;

use portcullis_e2e::{Idp, Kit, Service};

in_both_modes!(
    valid_access_token_gets_200_naming_the_subject,
    no_token_gets_401_with_a_bare_challenge_and_health_stays_public,
    token_for_another_audience_gets_401,
    valid_token_without_the_scope_gets_403_insufficient_scope,
    id_token_gets_401_invalid_token,
    expired_token_gets_401,
    idp_stopped_after_a_first_success_the_cached_decision_stands,
    idp_down_at_the_first_request_gets_503_then_recovers,
    a_machine_token_has_the_client_id_as_subject_when_asked,
);

async fn valid_access_token_gets_200_naming_the_subject(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["message"], "Hello, alice!");
    assert_eq!(reply.body["client_id"], "portcullis-test");
    assert_eq!(reply.body["scopes"], serde_json::json!(["hello:read"]));
}

async fn no_token_gets_401_with_a_bare_challenge_and_health_stays_public(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let reply = service.get_with_authorization("/hello", &[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"));
    assert!(
        idp.stats().await.keys().all(|path| path == "/token"),
        "no request needed the IdP: {:?}",
        idp.stats().await
    );
    // The health report probes the issuer (it is what it is for) and needs no token.
    let health = service.get_with_authorization("/health", &[]).await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body, serde_json::json!({"status": "UP"}));
}

async fn token_for_another_audience_gets_401(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some(kit.other))
        .await
        .access_token;
    service
        .hello(&token)
        .await
        .assert_invalid_token("another audience (aud urn:portcullis:other)");
}

async fn valid_token_without_the_scope_gets_403_insufficient_scope(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let token = idp
        .user_token("alice", "orders:read", Some(kit.hello))
        .await
        .access_token;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"hello:read\""), "{challenge}");
}

async fn id_token_gets_401_invalid_token(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let tokens = idp
        .user_token("alice", "openid hello:read", Some(kit.hello))
        .await;
    let reply = service
        .hello(&tokens.id_token.expect("an ID token for openid"))
        .await;
    // Locally the ID token is recognised and explained; the IdP will not introspect it.
    let expected = match kit.mode {
        portcullis::config::Mode::Jwt => "so this is probably an ID token",
        _ => "the authorization server does not accept this token for introspection",
    };
    reply.assert_invalid_token(expected);
}

async fn expired_token_gets_401(kit: Kit) {
    let idp = Idp::start().await;
    let mut config = kit.config(&idp);
    config.jwt.leeway = Duration::ZERO;
    config.introspection.cache_ttl = Duration::from_secs(1);
    let service = Service::start(config).await;
    let token = idp
        .user_token("alice", "hello:read", Some(kit.short))
        .await
        .access_token;
    // `exp` is at most the whole second of issue + SHORT_TTL, so at most SHORT_TTL s from now.
    let issued_by = std::time::Instant::now();
    assert_eq!(service.hello(&token).await.status, 200, "valid while fresh");
    // Both the IdP (introspection) and the service (JWT) judge expiry by the real clock: wait
    // until the token has certainly expired and the 1 s cache entry has certainly ended.
    tokio::time::sleep_until(
        (issued_by + Duration::from_secs(Kit::SHORT_TTL) + Duration::from_millis(1500)).into(),
    )
    .await;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    let expected = if kit.mode == portcullis::config::Mode::Jwt {
        "expired"
    } else {
        "not active"
    };
    reply.assert_invalid_token(expected);
}

async fn idp_stopped_after_a_first_success_the_cached_decision_stands(kit: Kit) {
    let mut idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    idp.stop().await;
    // jwt: the keys are cached; introspect: the answer is cached (cache-ttl).
    let again = service.hello(&token).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["message"], "Hello, alice!");
}

async fn idp_down_at_the_first_request_gets_503_then_recovers(kit: Kit) {
    let mut idp = Idp::start().await;
    let token = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    idp.stop().await;
    let mut config = kit.config(&idp);
    config.discovery.retry_backoff = Duration::from_millis(200);
    // Lazy discovery: the service starts while the IdP is down.
    let service = Service::start(config).await;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.retry_after.as_deref(), Some("5"));
    assert_eq!(reply.body["error"], "temporarily_unavailable");
    assert!(
        reply.challenge.is_none(),
        "no challenge: the client's token is not at fault"
    );

    let failed_by = tokio::time::Instant::now();
    idp.restart_on_same_port().await;
    // The service remembers its last failure for discovery.retry-backoff (200 ms from a moment
    // before `failed_by`): make sure that has passed (the restart usually takes longer).
    tokio::time::sleep_until(failed_by + Duration::from_millis(250)).await;
    // The IdP keeps its keys but not its sessions: a token minted now works in both modes.
    let fresh = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let reply = service.hello(&fresh).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// A machine token: with `claims.client-id-as-subject`, the subject is the client id in every
/// mode (oidc-provider's introspection answers for such tokens carry no `sub`).
async fn a_machine_token_has_the_client_id_as_subject_when_asked(kit: Kit) {
    let idp = Idp::start().await;
    let token = idp.client_credentials_token("hello:read", kit.hello).await;
    let mut config = kit.config(&idp);
    config.claims.client_id_as_subject = true;
    let service = Service::start(config).await;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["subject"], "portcullis-test", "{reply:?}");
    assert_eq!(reply.body["client_id"], "portcullis-test", "{reply:?}");
}

/// Why the setting exists: without it, the same kind of token has a subject in `jwt` mode and
/// none in `introspect` mode (docs/introspection.md, "The principal in each mode").
#[tokio::test]
async fn without_the_setting_a_machine_tokens_subject_depends_on_the_mode() {
    let idp = Idp::start().await;
    let mut subjects = Vec::new();
    for kit in [Kit::JWT, Kit::INTROSPECT] {
        let token = idp.client_credentials_token("hello:read", kit.hello).await;
        let service = Service::start(kit.config(&idp)).await;
        let reply = service.hello(&token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        subjects.push(reply.body["subject"].clone());
    }
    assert_eq!(
        subjects,
        [
            serde_json::json!("portcullis-test"),
            serde_json::Value::Null
        ]
    );
}
