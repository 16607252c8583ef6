//! The test kit, used as a user would: handler tests with claims and no token, and with real
//! tokens from the mock issuer in both modes. Also the runnable example the README points to.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis::config::{AuthorityClaim, Mode};
use portcullis::{Portcullis, Principal, UserInfo, requires_authorities, requires_scopes};
use portcullis_test::{MockIssuer, MockJwt, RequestExt};

mod common;
use common::{bearer, call, get_req};

#[requires_scopes("orders:read")]
async fn orders(principal: Principal) -> String {
    format!("orders of {}", principal.subject().unwrap_or("?"))
}

#[requires_authorities("ROLE_admin")]
async fn admin(principal: Principal) -> String {
    format!("admin {}", principal.subject().unwrap_or("?"))
}

async fn me(principal: Principal, userinfo: UserInfo) -> String {
    format!(
        "{} {}",
        principal.subject().unwrap_or("?"),
        userinfo.get("name").and_then(|v| v.as_str()).unwrap_or("-")
    )
}

fn app(portcullis: &Portcullis) -> Router {
    Router::new()
        .route("/orders", get(orders))
        .route("/admin", get(admin))
        .route("/me", get(me))
        .layer(portcullis.layer())
}

#[tokio::test]
async fn claims_without_a_token_pass_the_route_requirement_they_satisfy() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = app(&issuer.portcullis().await.unwrap());
    let request = get_req("/orders").with_jwt(MockJwt::subject("alice").scopes(["orders:read"]));
    let (status, body, _) = call(&app, request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "orders of alice"));
    // No IdP call was needed.
    assert_eq!(issuer.introspection_calls(), 0);
}

#[tokio::test]
async fn claims_without_the_scope_get_403_with_the_scope_named() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = app(&issuer.portcullis().await.unwrap());
    let request = get_req("/orders").with_jwt(MockJwt::subject("alice").scopes(["other"]));
    let (status, _, challenge) = call(&app, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let challenge = challenge.unwrap();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("scope=\"orders:read\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn claims_go_through_the_services_authority_mapping() {
    let issuer = MockIssuer::start().await.unwrap();
    let mut config = issuer.config();
    config.claims.authorities = vec![AuthorityClaim {
        path: "realm_access.roles".into(),
        prefix: "ROLE_".into(),
    }];
    let portcullis = Portcullis::builder()
        .config(config)
        .test_authentication()
        .build()
        .await
        .unwrap();
    let app = app(&portcullis);
    let admin_claims = serde_json::json!({"roles": ["admin"]});
    let request =
        get_req("/admin").with_jwt(MockJwt::subject("root").claim("realm_access", admin_claims));
    assert_eq!(call(&app, request).await.0, StatusCode::OK);
    let request = get_req("/admin").with_jwt(
        MockJwt::subject("guest").claim("realm_access", serde_json::json!({"roles": ["user"]})),
    );
    assert_eq!(call(&app, request).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn without_claims_the_layer_still_answers_401() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = app(&issuer.portcullis().await.unwrap());
    let (status, _, challenge) = call(&app, get_req("/orders")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn test_claims_are_refused_unless_the_service_opted_in_by_code() {
    // This binary is built with the `testing` feature on, as feature unification would turn it
    // on in a workspace build: the feature alone must not let test claims through.
    let issuer = MockIssuer::start().await.unwrap();
    let portcullis = Portcullis::builder()
        .config(issuer.config())
        .build()
        .await
        .unwrap();
    let app = app(&portcullis);
    let request = get_req("/orders").with_jwt(MockJwt::subject("mallory").scopes(["orders:read"]));
    let (status, body, challenge) = call(&app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    // Only the test extension, without the context the kit adds for layer-less routers.
    let mut request = get_req("/orders");
    request
        .extensions_mut()
        .insert(portcullis::testing::TestAuthentication {
            claims: MockJwt::subject("mallory")
                .scopes(["orders:read"])
                .claims()
                .clone(),
        });
    assert_eq!(call(&app, request).await.0, StatusCode::UNAUTHORIZED);
    // A bare Principal extension does not authenticate an anonymous route either.
    let anonymous = Router::new()
        .route(
            "/who",
            get(|p: Option<Principal>| async move {
                p.map_or("anonymous".to_owned(), |p| {
                    p.subject().unwrap_or("?").to_owned()
                })
            }),
        )
        .layer(portcullis.layer().allow_anonymous());
    let mut request = get_req("/who");
    request
        .extensions_mut()
        .insert(MockJwt::subject("mallory").principal());
    let (status, body, _) = call(&anonymous, request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
}

#[tokio::test]
async fn a_router_without_the_layer_sees_the_principal_too() {
    let app = Router::new().route(
        "/who",
        get(|p: Principal| async move { p.subject().unwrap_or("?").to_owned() }),
    );
    let request = get_req("/who").with_jwt(MockJwt::subject("carol"));
    let (status, body, _) = call(&app, request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "carol"));
}

#[tokio::test]
async fn real_jwts_from_the_mock_issuer_are_validated_end_to_end() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = app(&issuer.portcullis().await.unwrap());
    let good = issuer.token().subject("bob").scopes(["orders:read"]).jwt();
    let (status, body, _) = call(&app, bearer("/orders", &good)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "orders of bob"));

    let expired = issuer
        .token()
        .scopes(["orders:read"])
        .expired(Duration::from_secs(600))
        .jwt();
    let (status, _, challenge) = call(&app, bearer("/orders", &expired)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains("expired"));

    let elsewhere = issuer
        .token()
        .scopes(["orders:read"])
        .audience("api://other")
        .jwt();
    let (status, _, challenge) = call(&app, bearer("/orders", &elsewhere)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains("another audience"));
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_revocation_is_seen() {
    let issuer = MockIssuer::start().await.unwrap();
    let portcullis = Portcullis::builder()
        .config(issuer.config_with_mode(Mode::Introspect))
        .build()
        .await
        .unwrap();
    let app = app(&portcullis);
    let token = issuer
        .token()
        .subject("dave")
        .scopes(["orders:read"])
        .opaque();
    let (status, body, _) = call(&app, bearer("/orders", &token)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "orders of dave"));
    assert_eq!(issuer.introspection_calls(), 1);

    let revoked = issuer.token().scopes(["orders:read"]).opaque();
    issuer.revoke(&revoked);
    let (status, _, challenge) = call(&app, bearer("/orders", &revoked)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains("not active"));
}

#[tokio::test]
async fn userinfo_comes_from_the_mock_issuer() {
    let issuer = MockIssuer::start().await.unwrap();
    issuer.set_userinfo("erin", serde_json::json!({"name": "Erin Example"}));
    let app = app(&issuer.portcullis().await.unwrap());
    let token = issuer.token().subject("erin").jwt();
    let (status, body, _) = call(&app, bearer("/me", &token)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "erin Erin Example")
    );
}
