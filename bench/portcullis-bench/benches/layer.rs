//! The hot path through axum, without the network: one request, a cached token, from router to
//! response, side by side with the same router without authentication.
//!
//! - `no_auth`: a route answering hello-api's JSON with constants (the request carries the
//!   token header too, so both parse the same request);
//! - `passthrough_layer`: the same route behind a layer that does nothing (what axum's per-route
//!   layering costs by itself);
//! - `portcullis_layer`: behind `portcullis.layer()`, token cached;
//! - `portcullis_rule_scope`: the same, with a `[[portcullis.rules]]` scope requirement checked in
//!   the layer (how hello-api protects `/hello`);
//! - `portcullis_route_layer_scope`: the scope checked by a `require_scopes` route layer instead.
//!
//! `cargo bench --manifest-path bench/Cargo.toml -p portcullis-bench --bench layer`

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use portcullis::config::RuleConfig;
use portcullis::{Portcullis, require_scopes};
use portcullis_test::MockIssuer;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn constant() -> Json<Value> {
    Json(json!({"message": "Hello, alice!", "style": "bench", "subject": "alice",
        "client_id": "bench", "scopes": ["hello:read"], "authorities": Vec::<String>::new()}))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (issuer, token, plain, with_rule) = rt.block_on(async {
        let issuer = MockIssuer::start().await.unwrap();
        let token = issuer.token().subject("alice").scopes(["hello:read"]).jwt();
        let plain = issuer.portcullis().await.unwrap();
        let mut config = issuer.config();
        config.rules = vec![serde_json::from_value::<RuleConfig>(
            json!({"path": "/hello", "scopes": ["hello:read"]}),
        )
        .unwrap()];
        let with_rule = Portcullis::builder().config(config).build().await.unwrap();
        (issuer, token, plain, with_rule)
    });
    let routers: Vec<(&str, Router)> = vec![
        ("no_auth", Router::new().route("/hello", get(constant))),
        (
            "passthrough_layer",
            Router::new()
                .route("/hello", get(constant))
                .layer(tower::util::MapRequestLayer::new(|r: Request<Body>| r)),
        ),
        (
            "portcullis_layer",
            Router::new()
                .route("/hello", get(constant))
                .layer(plain.layer()),
        ),
        (
            "portcullis_rule_scope",
            Router::new()
                .route("/hello", get(constant))
                .layer(with_rule.layer()),
        ),
        (
            "portcullis_route_layer_scope",
            Router::new()
                .route("/hello", get(constant))
                .route_layer(require_scopes(["hello:read"]))
                .layer(plain.layer()),
        ),
    ];
    let request = || {
        Request::get("/hello")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let mut group = c.benchmark_group("layer");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (name, router) in routers {
        let status = rt.block_on(router.clone().oneshot(request())).unwrap().status();
        assert_eq!(status, 200, "{name}");
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                request,
                |req| {
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(req).await.unwrap();
                        axum::body::to_bytes(response.into_body(), 1 << 16)
                            .await
                            .unwrap()
                    }
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    drop(issuer);
}

criterion_group!(benches, bench);
criterion_main!(benches);
