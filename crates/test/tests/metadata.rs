//! RFC 9728 protected-resource metadata through the test kit. Its own test binary: the scopes a
//! process's route layers declare are process-wide (one process is one service), so only here,
//! apart from the other kit tests' routes, can `scopes_supported` be checked exactly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests: a failed unwrap is a failed test"
)]

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis::{Portcullis, Principal, requires_scopes};
use portcullis_test::{MockIssuer, MockJwt, RequestExt};

use common::{bearer, call, get_req};

mod common;

#[requires_scopes("orders:read")]
async fn orders(principal: Principal) -> String {
    format!("orders of {}", principal.subject().unwrap_or("?"))
}

use portcullis::require_scopes;

const RESOURCE: &str = "http://127.0.0.1:9/api";
const METADATA_URL: &str = "http://127.0.0.1:9/.well-known/oauth-protected-resource/api";

async fn metadata_app(issuer: &MockIssuer, resource: Option<&str>) -> Router {
    let mut config = issuer.config();
    config.resource_metadata.resource = resource.map(str::to_owned);
    config.resource_metadata.resource_name = Some("Orders API".into());
    let portcullis = Portcullis::builder()
        .config(config)
        .test_authentication()
        .build()
        .await
        .unwrap();
    Router::new()
        .route("/orders", get(orders))
        .route("/stock", get(|| async { "stock" }))
        .route_layer(require_scopes(["stock:write"]))
        .layer(portcullis.layer())
}

#[tokio::test]
async fn the_layer_serves_the_document_without_a_token() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = metadata_app(&issuer, Some(RESOURCE)).await;
    let (status, body, _) = call(&app, get_req("/.well-known/oauth-protected-resource/api")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(
        doc["authorization_servers"],
        serde_json::json!([issuer.issuer()])
    );
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert_eq!(doc["resource_name"], "Orders API");
    let scopes: Vec<&str> = doc["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    // Exactly: from #[requires_scopes] (collected at link time) and from the route layer, and
    // nothing else (this binary declares nothing more).
    assert_eq!(scopes, ["orders:read", "stock:write"]);
}

#[tokio::test]
async fn every_challenge_names_the_metadata() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = metadata_app(&issuer, Some(RESOURCE)).await;
    let (status, _, challenge) = call(&app, get_req("/orders")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some(format!("Bearer resource_metadata=\"{METADATA_URL}\"").as_str())
    );
    let (status, _, challenge) = call(&app, bearer("/orders", "not-a-jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = challenge.unwrap();
    assert!(
        challenge.contains("invalid_token")
            && challenge.contains(&format!("resource_metadata=\"{METADATA_URL}\"")),
        "{challenge}"
    );
    let request = get_req("/orders").with_jwt(MockJwt::subject("x"));
    let (status, _, challenge) = call(&app, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge.unwrap().contains("resource_metadata="));
}

fn from_host(path: &str, host: &str) -> axum::http::Request<axum::body::Body> {
    let mut request = get_req(path);
    request.headers_mut().insert("host", host.parse().unwrap());
    request
}

#[tokio::test]
async fn without_a_resource_the_origin_each_request_reached_is_published() {
    let issuer = MockIssuer::start().await.unwrap();
    // The audience api://test is not a URL, and no resource is configured.
    let app = metadata_app(&issuer, None).await;
    for (host, origin) in [
        ("127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("localhost:8080", "http://localhost:8080"),
        ("Orders.Example.com", "https://orders.example.com"),
    ] {
        let metadata_url = format!("{origin}/.well-known/oauth-protected-resource");
        let (status, body, _) = call(
            &app,
            from_host("/.well-known/oauth-protected-resource", host),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["resource"], origin, "{host}");
        assert_eq!(
            doc["authorization_servers"],
            serde_json::json!([issuer.issuer()])
        );
        let (status, _, challenge) = call(&app, from_host("/orders", host)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenge.as_deref(),
            Some(format!("Bearer resource_metadata=\"{metadata_url}\"").as_str()),
            "{host}"
        );
        // Refusals raised after the layer (a route requirement) name it too.
        let request = from_host("/stock", host).with_jwt(MockJwt::subject("x"));
        let (status, _, challenge) = call(&app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let challenge = challenge.unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"insufficient_scope\"")
                && challenge.ends_with(&format!(", resource_metadata=\"{metadata_url}\"")),
            "{challenge}"
        );
    }
    // The configured path form is not served when the resource has no path.
    let (status, _, _) = call(
        &app,
        from_host(
            "/.well-known/oauth-protected-resource/api",
            "127.0.0.1:3000",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_request_without_a_usable_host_gets_no_metadata_url() {
    let issuer = MockIssuer::start().await.unwrap();
    let app = metadata_app(&issuer, None).await;
    for host in [None, Some("evil.example/x"), Some("user@evil.example")] {
        let request = |path: &str| match host {
            Some(host) => from_host(path, host),
            None => get_req(path),
        };
        let (status, _, challenge) = call(&app, request("/orders")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{host:?}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{host:?}");
        // No document for an unknown origin: the request is an ordinary one, and needs a token.
        let (status, _, challenge) =
            call(&app, request("/.well-known/oauth-protected-resource")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{host:?}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{host:?}");
    }
}

#[tokio::test]
async fn turned_off_nothing_is_published() {
    let issuer = MockIssuer::start().await.unwrap();
    let mut config = issuer.config();
    config.resource_metadata.enabled = false;
    let portcullis = Portcullis::builder()
        .config(config)
        .test_authentication()
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route("/orders", get(orders))
        .layer(portcullis.layer());
    let (status, _, challenge) = call(
        &app,
        from_host("/.well-known/oauth-protected-resource", "127.0.0.1:3000"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn a_resource_that_is_not_a_url_stops_startup() {
    let issuer = MockIssuer::start().await.unwrap();
    let mut config = issuer.config();
    config.resource_metadata.resource = Some("orders api".into());
    let error = Portcullis::builder()
        .config(config)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("portcullis.resource-metadata.resource"),
        "{error}"
    );
}
