//! hello-api's /hello behind tower-oauth2-resource-server 0.12: ISSUER, JWKS_URL, AUDIENCE, ADDR.
use axum::{routing::get, Extension, Json, Router};
use serde::Deserialize;
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;

#[derive(Clone, Debug, Deserialize)]
struct Claims {
    sub: String,
    scope: Option<String>,
}

async fn hello(
    Extension(c): Extension<Claims>,
) -> Result<Json<serde_json::Value>, axum::http::StatusCode> {
    if !c
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|x| x == "hello:read"))
    {
        return Err(axum::http::StatusCode::FORBIDDEN);
    }
    Ok(Json(
        serde_json::json!({"message": format!("Hello, {}!", c.sub)}),
    ))
}

#[tokio::main]
async fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is required"));
    let tenant = TenantConfiguration::builder(var("ISSUER"))
        .jwks_url(var("JWKS_URL"))
        .audiences(&[var("AUDIENCE")])
        .build()
        .await
        .expect("tenant");
    let server = OAuth2ResourceServer::<Claims>::builder()
        .add_tenant(tenant)
        .build()
        .await
        .expect("server");
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(server.into_layer());
    let listener = tokio::net::TcpListener::bind(var("ADDR"))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
