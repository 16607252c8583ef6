//! Runs hello-api. Configuration: `config/default.toml`, `config/{PORTCULLIS_PROFILE}.toml`,
//! `PORTCULLIS_*`; `ADDR` is the listen address (default 127.0.0.1:3000). With no issuer
//! configured and a loopback address it starts on the in-process development issuer (the
//! `dev-issuer` feature, on by default in this example) and prints a ready-to-paste `curl`; on
//! any other address it refuses to start without an issuer.

use std::process::ExitCode;
#[cfg(feature = "dev-issuer")]
use std::time::Duration;

use portcullis::Portcullis;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    // Before Portcullis is built: its counters register with the recorder installed then.
    let metrics = match hello_api::install_metrics() {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("cannot install the metrics recorder: {error}");
            return ExitCode::from(1);
        }
    };
    let builder = match Portcullis::builder().load_config() {
        Ok(builder) => builder,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr} (set ADDR to another address): {error}");
            return ExitCode::from(1);
        }
    };
    // With no issuer configured, the development issuer stands in, and only for a service that
    // listens on loopback (the builder refuses it on any other address).
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(error) => {
            eprintln!("cannot read the listen address of {addr}: {error}");
            return ExitCode::from(1);
        }
    };
    #[cfg(feature = "dev-issuer")]
    let builder = builder.dev_issuer_when_unconfigured(local);
    let portcullis = match builder.build().await {
        Ok(portcullis) => portcullis,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };

    tracing::info!("hello-api listening on http://{local}");
    #[cfg(feature = "dev-issuer")]
    if let Some(dev) = portcullis.dev_issuer() {
        let dev_token = dev.mint("dev-user", &["hello:read"], Duration::from_secs(3600));
        let curl = format!("curl -H 'Authorization: Bearer {dev_token}' http://{local}/hello");
        println!("\nDevelopment issuer: try (valid for one hour)\n\n{curl}\n");
    }

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(error) = axum::serve(listener, hello_api::app_with_metrics(&portcullis, metrics))
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {error}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
