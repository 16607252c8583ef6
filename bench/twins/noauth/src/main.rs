//! The baseline: hello-api without authentication. The same route table (so routing costs the
//! same), and /hello answering the same JSON shape with constant values where hello-api reads
//! the principal.
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// What hello-api's handler does with the principal, done with constants: the same formatting,
/// the same collections, the same JSON.
fn greeting(style: &str) -> Json<Value> {
    let (subject, client_id, scopes): (Option<&str>, Option<&str>, &[&str]) =
        (Some("anonymous"), Some("none"), &["hello:read"]);
    let authorities: &[String] = &[];
    let name = subject.unwrap_or("anonymous");
    Json(json!({
        "message": format!("Hello, {name}!"),
        "style": style,
        "subject": subject,
        "client_id": client_id,
        "scopes": scopes.iter().copied().collect::<Vec<_>>(),
        "authorities": authorities,
    }))
}

async fn hello() -> Json<Value> {
    greeting("route layer")
}

async fn other() -> Json<Value> {
    greeting("other")
}

#[tokio::main]
async fn main() {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({"status": "UP"})) }))
        .route("/metrics", get(|| async { "" }))
        .route("/hello", get(hello))
        .route("/greetings/layered", get(other))
        .route("/greetings/annotated", get(other))
        .route("/greetings/typed", get(other))
        .route("/greetings/any", get(other))
        .route("/greetings", post(other))
        .route("/greetings/admin", get(other))
        .route("/me", get(other));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
