//! Remote validation (RFC 7662) and userinfo against the real IdP: client authentication
//! methods, revocation, refused credentials, single-flight, eager checks, userinfo, auto mode.

use std::time::Duration;

use portcullis::Portcullis;
use portcullis::Secret;
use portcullis::config::{ClientAuthMethod, Mode};
use portcullis_e2e::{Idp, Service, introspect_config_for};

const OPAQUE: &str = "urn:portcullis:hello:opaque";

#[tokio::test]
async fn every_client_authentication_method_works_against_the_real_idp() {
    let idp = Idp::start().await;
    let token = idp
        .user_token("alice", "hello:read", Some(OPAQUE))
        .await
        .access_token;
    let key_file = idp.client_key_file();
    for (client, method) in [
        ("hello-api", ClientAuthMethod::ClientSecretBasic),
        ("hello-api-post", ClientAuthMethod::ClientSecretPost),
        ("hello-api-public", ClientAuthMethod::None),
        ("hello-api-jwt", ClientAuthMethod::PrivateKeyJwt),
    ] {
        let mut config = introspect_config_for(&idp);
        config.introspection.client_id = Some(client.into());
        config.introspection.auth_method = method;
        config.introspection.private_key_file = Some(key_file.display().to_string());
        let service = Service::start(config).await;
        let reply = service.hello(&token).await;
        assert_eq!(reply.status, 200, "{method:?}: {reply:?}");
        assert_eq!(reply.body["message"], "Hello, alice!");
        // The method on the wire, as the IdP received it (it accepts basic and post alike).
        let log = idp.client_auth_log().await;
        let call = log
            .iter()
            .rev()
            .find(|r| r["client_id"] == client && r["path"] == "/token/introspection")
            .unwrap_or_else(|| panic!("{method:?}: no introspection call by {client}: {log:?}"));
        let (basic, secret_in_body, assertion) = match method {
            ClientAuthMethod::ClientSecretBasic => (true, false, false),
            ClientAuthMethod::ClientSecretPost => (false, true, false),
            ClientAuthMethod::PrivateKeyJwt => (false, false, true),
            _ => (false, false, false),
        };
        assert_eq!(call["basic"], basic, "{method:?}: {call}");
        assert_eq!(call["secret_in_body"], secret_in_body, "{method:?}: {call}");
        assert_eq!(
            !call["assertion_type"].is_null(),
            assertion,
            "{method:?}: {call}"
        );
    }
    assert_eq!(
        idp.stats().await.get("/token/introspection").copied(),
        Some(4)
    );
}

/// `private_key_jwt` assertions go to the issuer by default, and to the introspection endpoint
/// with `client-assertion-audience = "endpoint"` (Okta); the IdP checks `aud` and accepts both.
#[tokio::test]
async fn the_client_assertion_names_the_issuer_or_the_introspection_endpoint() {
    use portcullis::config::ClientAssertionAudience;
    let idp = Idp::start().await;
    let token = idp
        .user_token("alice", "hello:read", Some(OPAQUE))
        .await
        .access_token;
    let key_file = idp.client_key_file();
    for (audience, expected) in [
        (ClientAssertionAudience::Issuer, idp.issuer.clone()),
        (
            ClientAssertionAudience::Endpoint,
            format!("{}/token/introspection", idp.issuer),
        ),
    ] {
        let mut config = introspect_config_for(&idp);
        config.introspection.client_id = Some("hello-api-jwt".into());
        config.introspection.auth_method = ClientAuthMethod::PrivateKeyJwt;
        config.introspection.private_key_file = Some(key_file.display().to_string());
        config.introspection.client_assertion_audience = audience;
        let service = Service::start(config).await;
        let reply = service.hello(&token).await;
        assert_eq!(reply.status, 200, "{audience:?}: {reply:?}");
        let log = idp.client_auth_log().await;
        let call = log
            .iter()
            .rev()
            .find(|r| r["client_id"] == "hello-api-jwt" && r["path"] == "/token/introspection")
            .unwrap_or_else(|| panic!("{audience:?}: no introspection call: {log:?}"));
        assert_eq!(
            call["assertion_aud"],
            expected.as_str(),
            "{audience:?}: {call}"
        );
        assert_eq!(call["status"], 200, "{call}");
    }
}

#[tokio::test]
async fn a_revoked_token_gets_401_once_its_cache_entry_ends() {
    let idp = Idp::start().await;
    let mut config = introspect_config_for(&idp);
    config.introspection.cache_ttl = Duration::from_secs(10);
    // The service's clock is the test's: "still cached" and "cache entry ended" do not depend
    // on where in a second the requests land.
    let (service, clock) = Service::start_with_clock(config).await;
    let token = idp
        .user_token("alice", "hello:read", Some(OPAQUE))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    idp.revoke(&token).await;
    // The documented revocation delay: the cached answer stands until cache-ttl ends.
    clock.advance(Duration::from_secs(9));
    assert_eq!(
        service.hello(&token).await.status,
        200,
        "still cached at 9 s of 10"
    );
    clock.advance(Duration::from_secs(2));
    service
        .hello(&token)
        .await
        .assert_invalid_token("not active");
}

/// The error log line that names the setting is asserted in `tests/log_hygiene.rs` (its own
/// process, so that capturing the log is reliable).
#[tokio::test]
async fn a_wrong_client_secret_gets_503_not_401() {
    let idp = Idp::start().await;
    let mut config = introspect_config_for(&idp);
    config.introspection.client_secret = Some(Secret::new("not-the-secret"));
    let service = Service::start(config).await;
    let token = idp
        .user_token("alice", "hello:read", Some(OPAQUE))
        .await
        .access_token;
    let reply = service.hello(&token).await;
    assert_eq!(
        reply.status, 503,
        "never a 401 that makes the client drop a good token: {reply:?}"
    );
    assert_eq!(reply.retry_after.as_deref(), Some("5"));
    assert!(reply.challenge.is_none());
    // What happened, not "unreachable": the IdP refused this service's credentials.
    let description = reply.body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains("refused this service's own credentials"),
        "{reply:?}"
    );
    assert!(!description.contains("unreachable"), "{reply:?}");
}

#[tokio::test]
async fn eager_discovery_reports_bad_client_credentials_before_the_first_request() {
    let idp = Idp::start().await;
    let mut config = introspect_config_for(&idp);
    config.discovery.eager = true;
    config.introspection.client_secret = Some(Secret::new("not-the-secret"));
    let error = Portcullis::builder()
        .config(config)
        .build()
        .await
        .expect_err("must not start")
        .to_string();
    assert!(error.contains("refused our client credentials"), "{error}");
    assert!(error.contains("(credentials_refused)"), "{error}");
    assert!(
        error.contains("portcullis.introspection.client-secret"),
        "{error}"
    );
    assert!(
        !error.contains("retry later"),
        "the operator's message, not the client's: {error}"
    );
    // With the right secret, the same check passes.
    let mut good = introspect_config_for(&idp);
    good.discovery.eager = true;
    Portcullis::builder()
        .config(good)
        .build()
        .await
        .expect("starts");
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_new_token_make_one_introspection_call() {
    let idp = Idp::start().await;
    let service = std::sync::Arc::new(Service::start(introspect_config_for(&idp)).await);
    let token = idp
        .user_token("alice", "hello:read", Some(OPAQUE))
        .await
        .access_token;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (service, token) = (service.clone(), token.clone());
            tokio::spawn(async move { service.hello(&token).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        idp.stats().await.get("/token/introspection").copied(),
        Some(1)
    );
}

#[tokio::test]
async fn userinfo_claims_are_visible_in_a_handler_on_demand_and_eagerly() {
    let idp = Idp::start().await;
    // The test IdP serves userinfo only for tokens issued without a resource, and those carry
    // no aud: this service accepts that on purpose.
    let token = idp
        .user_token("alice", "openid profile", None)
        .await
        .access_token;
    for eager in [false, true] {
        let mut config = introspect_config_for(&idp);
        config.introspection.allow_missing_aud = true;
        config.userinfo.enabled = eager;
        let service = Service::start(config).await;
        for _ in 0..2 {
            let reply = service.me(&token).await;
            assert_eq!(reply.status, 200, "eager={eager}: {reply:?}");
            assert_eq!(reply.body["subject"], "alice");
            assert_eq!(reply.body["userinfo"]["name"], "Test user alice");
            assert_eq!(reply.body["userinfo"]["sub"], "alice");
        }
    }
    assert_eq!(
        idp.stats().await.get("/me").copied(),
        Some(2),
        "one userinfo call per service: cached per token"
    );
}

#[tokio::test]
async fn userinfo_failure_continues_by_default_and_fails_when_configured() {
    let idp = Idp::start().await;
    // A token with an audience: the IdP's userinfo refuses it.
    let token = idp
        .user_token("alice", "openid hello:read", Some(OPAQUE))
        .await
        .access_token;
    let mut config = introspect_config_for(&idp);
    config.userinfo.enabled = true;
    let service = Service::start(config.clone()).await;
    let asked = || async { idp.stats().await.get("/me").copied().unwrap_or(0) };
    assert_eq!(asked().await, 0);
    assert_eq!(
        service.hello(&token).await.status,
        200,
        "on-failure = continue"
    );
    assert_eq!(
        asked().await,
        1,
        "userinfo was asked, and its refusal ignored"
    );
    config.userinfo.on_failure = portcullis::config::UserinfoFailure::Fail;
    let strict = Service::start(config).await;
    let reply = strict.hello(&token).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.retry_after.is_some(), "{reply:?}");
    assert_eq!(asked().await, 2, "the 503 is userinfo's refusal");
}

#[tokio::test]
async fn auto_mode_validates_jwts_locally_and_introspects_opaque_tokens() {
    let idp = Idp::start().await;
    let mut config = introspect_config_for(&idp);
    config.mode = Mode::Auto;
    let service = Service::start(config).await;
    let jwt = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    let opaque = idp
        .user_token("bob", "hello:read", Some(OPAQUE))
        .await
        .access_token;
    assert_eq!(service.hello(&jwt).await.body["message"], "Hello, alice!");
    assert_eq!(service.hello(&opaque).await.body["message"], "Hello, bob!");
    let stats = idp.stats().await;
    assert_eq!(stats.get("/jwks").copied(), Some(1), "{stats:?}");
    assert_eq!(
        stats.get("/token/introspection").copied(),
        Some(1),
        "only the opaque token was introspected: {stats:?}"
    );
}
