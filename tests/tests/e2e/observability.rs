//! The health report against the real IdP: up, and down with the reason when the IdP goes away.

use portcullis::config::ShowDetails;
use portcullis_e2e::{Idp, Kit, Service};

#[tokio::test]
async fn health_reports_the_issuer_and_the_age_of_the_keys() {
    let idp = Idp::start().await;
    let mut config = Kit::JWT.config(&idp);
    config.health.show_details = ShowDetails::Always;
    let service = Service::start(config).await;
    // Before any request the keys are not fetched yet (lazy discovery): UNKNOWN, still healthy.
    let health = service.get_with_authorization("/health", &[]).await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body["status"], "UP");
    assert_eq!(health.body["components"]["jwks"]["status"], "UNKNOWN");

    let token = idp
        .user_token("alice", "hello:read", Some(Kit::JWT.hello))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    let health = service.get_with_authorization("/health", &[]).await;
    assert_eq!(health.status, 200, "{health:?}");
    let components = &health.body["components"];
    assert_eq!(components["issuer"]["status"], "UP", "{health:?}");
    assert_eq!(
        components["issuer"]["details"]["url"],
        format!("{}/.well-known/openid-configuration", idp.issuer)
    );
    assert_eq!(components["jwks"]["status"], "UP", "{health:?}");
    assert!(components["jwks"]["details"]["keys"].as_u64().unwrap() >= 1);
    assert!(
        components["jwks"]["details"]["age_seconds"]
            .as_u64()
            .unwrap()
            < 60
    );
    assert!(components.get("introspection").is_none(), "jwt mode");
}

#[tokio::test]
async fn health_goes_down_with_the_idp_and_names_the_last_introspection_error() {
    let mut idp = Idp::start().await;
    let mut config = Kit::INTROSPECT.config(&idp);
    config.health.show_details = ShowDetails::Always;
    let service = Service::start(config).await;
    let first = idp
        .user_token("alice", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    let second = idp
        .user_token("bob", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    assert_eq!(service.hello(&first).await.status, 200);
    idp.stop().await;
    assert_eq!(service.hello(&second).await.status, 503);

    let health = service.get_with_authorization("/health", &[]).await;
    assert_eq!(health.status, 503, "{health:?}");
    assert_eq!(health.body["status"], "DOWN");
    let components = &health.body["components"];
    assert_eq!(components["issuer"]["status"], "DOWN", "{health:?}");
    assert!(
        components["issuer"]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{health:?}"
    );
    let introspection = &components["introspection"];
    assert_eq!(introspection["status"], "DOWN", "{health:?}");
    assert_eq!(introspection["details"]["errors"], 1, "{health:?}");
    let message = introspection["details"]["last_error"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("cannot connect"), "{message}");
    assert!(!message.contains(&second), "no token in the report");
}

#[tokio::test]
async fn by_default_health_shows_the_status_and_nothing_an_outsider_could_use() {
    let mut idp = Idp::start().await;
    let service = Service::start(Kit::INTROSPECT.config(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    let health = service.get_with_authorization("/health", &[]).await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body, serde_json::json!({"status": "UP"}));
    idp.stop().await;
    let other = "an-unknown-token-that-needs-introspection";
    assert_eq!(service.hello(other).await.status, 503);
    let health = service.get_with_authorization("/health", &[]).await;
    assert_eq!(health.status, 503, "{health:?}");
    assert_eq!(
        health.body,
        serde_json::json!({"status": "DOWN"}),
        "no IdP URL, client id or IdP error body for the public"
    );
}
