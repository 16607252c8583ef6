use axum::{Router, routing::get};
use portcullis::{Portcullis, Principal, requires_scopes};

#[requires_scopes("hello:read")]
async fn hello(principal: Principal) -> String {
    format!("Hello, {}!", principal.subject().unwrap_or("anonymous"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init(); // the log: refusal reasons, startup decisions
    let portcullis = Portcullis::from_default_config().await?;
    let app = Router::new().route("/hello", get(hello)).layer(portcullis.layer());
    axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
    Ok(())
}
