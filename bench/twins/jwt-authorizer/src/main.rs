//! hello-api's /hello behind jwt-authorizer 0.15 (axum 0.7): JWKS_URL, ISSUER, AUDIENCE, ADDR.
use axum::{routing::get, Json, Router};
use jwt_authorizer::{JwtAuthorizer, JwtClaims, Validation};
use serde::Deserialize;

#[derive(Clone, Deserialize)]
struct Claims {
    sub: String,
    scope: Option<String>,
}

#[tokio::main]
async fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is required"));
    let validation = Validation::new()
        .iss(&[var("ISSUER")])
        .aud(&[var("AUDIENCE")]);
    let auth = JwtAuthorizer::<Claims>::from_jwks_url(&var("JWKS_URL"))
        .validation(validation)
        .check(|c: &Claims| {
            c.scope
                .as_deref()
                .is_some_and(|s| s.split(' ').any(|x| x == "hello:read"))
        })
        .layer()
        .await
        .expect("authorizer");
    let app = Router::new()
        .route(
            "/hello",
            get(|JwtClaims(c): JwtClaims<Claims>| async move {
                Json(serde_json::json!({"message": format!("Hello, {}!", c.sub)}))
            }),
        )
        .layer(auth);
    let listener = tokio::net::TcpListener::bind(var("ADDR"))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
