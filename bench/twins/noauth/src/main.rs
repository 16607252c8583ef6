//! The baseline: hello-api's /hello with no authentication, answering the same JSON shape
//! (constant values where hello-api reads the principal).
use axum::{Json, Router, routing::get};
use serde_json::json;

async fn hello() -> Json<serde_json::Value> {
    Json(json!({
        "message": "Hello, anonymous!",
        "style": "route layer",
        "subject": "anonymous",
        "client_id": "none",
        "scopes": ["hello:read"],
        "authorities": Vec::<String>::new(),
    }))
}

#[tokio::main]
async fn main() {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let app = Router::new().route("/hello", get(hello));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
