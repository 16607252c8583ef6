//! hello-api: the smallest service Portcullis protects.
//!
//! - `GET /health`: public.
//! - `GET /hello`: needs a valid access token with the scope `hello:read`; answers with a
//!   greeting that names the subject.
//! - `GET /me`: needs a valid access token (any scope); answers with the subject and the
//!   caller's OIDC userinfo claims (fetched on demand, or already there when
//!   `portcullis.userinfo.enabled = true`).

use axum::routing::get;
use axum::{Json, Router};
use portcullis::{Portcullis, Principal, UserInfo, require_scopes};
use serde_json::{Value, json};

/// The application's routes, protected by `portcullis`.
pub fn app(portcullis: &Portcullis) -> Router {
    let protected = Router::new()
        .route("/hello", get(hello))
        .route_layer(require_scopes(["hello:read"]))
        .route("/me", get(me))
        .layer(portcullis.layer());
    Router::new().route("/health", get(health)).merge(protected)
}

async fn health() -> Json<Value> {
    Json(json!({"status": "up"}))
}

async fn hello(principal: Principal) -> Json<Value> {
    let name = principal.subject().unwrap_or("anonymous");
    Json(json!({
        "message": format!("Hello, {name}!"),
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "scopes": principal.scopes().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }))
}

async fn me(principal: Principal, userinfo: UserInfo) -> Json<Value> {
    Json(json!({
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "userinfo": userinfo.0,
    }))
}
