//! Introspection mode against django-oauth-toolkit, an authorization server that publishes its
//! metadata where the RFC does not put it (`{issuer}/.well-known/oauth-authorization-server`)
//! and has no OpenID document: discovery finds it, end to end.

use std::time::Duration;

use portcullis::Secret;
use portcullis::config::Mode;
use portcullis_e2e::dot::Dot;
use portcullis_e2e::{Service, config_for_issuer};

const API: &str = "https://hello.example.test/api";

#[tokio::test]
async fn introspection_against_django_oauth_toolkit_finds_its_appended_metadata() {
    let dot = Dot::start().await;
    let mut config = config_for_issuer(&dot.issuer);
    config.audience = vec![API.into()];
    config.mode = Mode::Introspect;
    config.introspection.client_id = Some("hello-api".into());
    config.introspection.client_secret = Some(Secret::new("hello-secret"));
    config.introspection.cache_ttl = Duration::ZERO;
    config.claims.client_id_as_subject = true;
    let service = Service::start(config).await;

    let token = dot.token("hello:read", API).await;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["subject"], "portcullis-test", "{reply:?}");
    assert_eq!(reply.body["client_id"], "portcullis-test");

    // Portcullis's own checks on its answers: another API's token, a missing scope.
    let other = dot
        .token("hello:read", "https://other.example.test/api")
        .await;
    service
        .hello(&other)
        .await
        .assert_invalid_token("the token is for another audience");
    let without_scope = dot.token("hello:write", API).await;
    assert_eq!(service.hello(&without_scope).await.status, 403);

    // Health finds the IdP where discovery does (there is no OpenID document).
    let (status, body) = service.get_text("/health").await;
    assert_eq!(status, 200, "{body}");

    // Revoked at the IdP: refused at once (no cache in this test).
    dot.revoke(&token).await;
    service
        .hello(&token)
        .await
        .assert_invalid_token("not active");
}

#[tokio::test]
async fn refused_credentials_at_django_oauth_toolkit_are_credentials_refused() {
    let dot = Dot::start().await;
    let mut config = config_for_issuer(&dot.issuer);
    config.audience = vec![API.into()];
    config.mode = Mode::Introspect;
    config.introspection.client_id = Some("hello-api".into());
    config.introspection.client_secret = Some(Secret::new("not-the-secret"));
    let service = Service::start(config).await;
    let reply = service.hello(&dot.token("hello:read", API).await).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("refused this service's own credentials"),
        "{reply:?}"
    );
}
