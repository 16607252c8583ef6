//! Memory under many distinct tokens: 1,000,000 distinct JWTs through the verified-token cache and
//! 200,000 distinct opaque tokens through the introspection cache, each capped at 10,000 entries.
//! Prints the entry counts and the process RSS.
//!
//! `cargo bench --manifest-path bench/Cargo.toml -p portcullis-bench --bench memory`

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::config::PortcullisConfig;
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{BearerToken, EndpointSource, IssuerUrl, Secret, SystemClock};
use portcullis_jwt_local::{JwtSettings, JwtValidator};
use serde_json::json;

const SECRET: &str = "memory-benchmark-hmac-secret-0123456789abcdef";

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let answer = json!({"active": true, "sub": "alice", "aud": "api", "scope": "a", "iss": issuer, "exp": exp});
    let app = axum::Router::new()
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(json!({"keys": []})) }),
        )
        .route(
            "/introspect",
            axum::routing::post(move || std::future::ready(axum::Json(answer.clone()))),
        );
    rt.spawn(async move { axum::serve(listener, app).await });

    let mut config = PortcullisConfig {
        audience: vec!["api".into()],
        ..Default::default()
    };
    config.jwt.algorithms = vec!["HS256".into()];
    config.jwt.hmac_secret = Some(Secret::new(SECRET));
    let issuer_url = IssuerUrl::parse(&issuer, false).unwrap();
    let settings = JwtSettings::from_config(&config, issuer_url.clone()).unwrap();
    let http = HttpClient::new(HttpSettings::default()).unwrap();
    let jwt = JwtValidator::new(
        settings,
        EndpointSource::Configured(format!("{issuer}/jwks")),
        http.clone(),
        Arc::new(SystemClock),
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#);

    let start_rss = rss_mib();
    let started = Instant::now();
    for i in 0..1_000_000u64 {
        let claims = json!({"iss": issuer, "aud": "api", "sub": format!("user-{i}"), "exp": exp, "scope": "a"});
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        let token = BearerToken::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())));
        rt.block_on(jwt.validate_token(&token)).unwrap();
    }
    println!(
        "jwt: 1,000,000 distinct tokens in {:.1?}; cached {} (capacity {}); RSS {:.1} MiB -> {:.1} MiB",
        started.elapsed(),
        jwt.cached_tokens(),
        config.jwt.cache_capacity,
        start_rss,
        rss_mib()
    );

    let mid_rss = rss_mib();
    let introspection = portcullis_introspect_remote::IntrospectionValidator::new(
        portcullis_introspect_remote::IntrospectionSettings::from_config(&config, issuer_url),
        EndpointSource::Configured(format!("{issuer}/introspect")),
        portcullis_core::client_auth::ClientAuth::None {
            client_id: "bench".into(),
        },
        http,
        Arc::new(SystemClock),
    );
    let started = Instant::now();
    for i in 0..200_000u64 {
        let token = BearerToken::new(format!("opaque-{i:037}"));
        rt.block_on(introspection.introspect(&token)).unwrap();
    }
    println!(
        "introspection: 200,000 distinct tokens in {:.1?}; cached {} (capacity {}); RSS {:.1} MiB -> {:.1} MiB",
        started.elapsed(),
        introspection.cached_answers(),
        config.introspection.cache_capacity,
        mid_rss,
        rss_mib()
    );
}
