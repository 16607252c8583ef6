//! Runs one of the three services: `microservices gateway|orders|inventory`.
//!
//! Configuration: `examples/microservices/config/default.toml` plus `{service}.toml` (the
//! service name is the profile), then `PORTCULLIS_*`; `ADDR` is the listen address. See
//! `examples/microservices/run.sh`.

use std::process::ExitCode;

use portcullis::{ConfigLoader, Portcullis};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let Some(service) = std::env::args()
        .nth(1)
        .filter(|s| ["gateway", "orders", "inventory"].contains(&s.as_str()))
    else {
        eprintln!("usage: microservices gateway|orders|inventory");
        return ExitCode::from(2);
    };
    let dir = std::env::var("PORTCULLIS_CONFIG_DIR")
        .unwrap_or_else(|_| "examples/microservices/config".into());
    let loaded = match ConfigLoader::new().dir(&dir).profile(&service).load() {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let portcullis = match Portcullis::builder().loaded_config(loaded).build().await {
        Ok(p) => p,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let app = match service.as_str() {
        "gateway" => microservices::gateway(&portcullis),
        "orders" => microservices::orders(&portcullis),
        _ => microservices::inventory(&portcullis),
    };
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        "{service} listening on http://{}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or(addr)
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
