//! Metrics through the `metrics` facade, scraped from hello-api's `/metrics` in Prometheus text
//! format, against the real IdP.
//!
//! Its own test binary: the metrics recorder is process-wide.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use portcullis::Portcullis;
use portcullis_e2e::{Idp, Kit, Service};

/// The value of the sample `name{labels}` (labels as rendered, in order), 0 when absent.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn validations_caches_and_idp_calls_are_counted_and_scraped() {
    let metrics = hello_api::install_metrics().unwrap();
    let mut idp = Idp::start().await;

    // Local validation: accepted twice (the second from the cache), refused twice.
    let portcullis = Portcullis::builder()
        .config(Kit::JWT.config(&idp))
        .build()
        .await
        .unwrap();
    let service =
        Service::serve_router(hello_api::app_with_metrics(&portcullis, metrics.clone())).await;
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::JWT.hello))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    assert_eq!(service.hello(&token).await.status, 200);
    assert_eq!(service.hello("not-a-jwt").await.status, 401);
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    assert_eq!(service.hello(&forged).await.status, 401);
    let other = idp
        .user_token("alice", "hello:read", Some(Kit::JWT.other))
        .await
        .access_token;
    assert_eq!(service.hello(&other).await.status, 401);

    // Introspection: one answer, then the IdP goes away.
    let introspecting = Portcullis::builder()
        .config(Kit::INTROSPECT.config(&idp))
        .build()
        .await
        .unwrap();
    let opaque_service = Service::serve(&introspecting).await;
    let opaque = idp
        .user_token("bob", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    let later = idp
        .user_token("bob", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    assert_eq!(opaque_service.hello(&opaque).await.status, 200);
    idp.stop().await;
    assert_eq!(opaque_service.hello(&later).await.status, 503);

    // Hot-path counts are batched per instance; the scrape handler flushes hello-api's own, and
    // a second instance in the same process is flushed by its owner.
    introspecting.telemetry().record_gauges();
    let (status, scrape) = service.get_text("/metrics").await;
    assert_eq!(status, 200);
    let accepted = r#"portcullis_validations_total{outcome="accepted",reason="none"}"#;
    assert_eq!(sample(&scrape, accepted), 3.0, "{scrape}");
    for (reason, count) in [
        ("malformed_token", 1.0),
        ("bad_signature", 1.0),
        ("wrong_audience", 1.0),
    ] {
        let series =
            format!(r#"portcullis_validations_total{{outcome="rejected",reason="{reason}"}}"#);
        assert_eq!(sample(&scrape, &series), count, "{series}\n{scrape}");
    }
    let unavailable =
        r#"portcullis_validations_total{outcome="unavailable",reason="idp_unavailable"}"#;
    assert_eq!(sample(&scrape, unavailable), 1.0, "{scrape}");

    let jwt_hits = r#"portcullis_cache_lookups_total{cache="jwt",result="hit"}"#;
    assert_eq!(sample(&scrape, jwt_hits), 1.0, "{scrape}");
    let introspection_misses =
        r#"portcullis_cache_lookups_total{cache="introspection",result="miss"}"#;
    assert_eq!(sample(&scrape, introspection_misses), 2.0, "{scrape}");

    let jwks_calls = r#"portcullis_idp_request_duration_seconds_count{endpoint="jwks"}"#;
    assert_eq!(sample(&scrape, jwks_calls), 1.0, "{scrape}");
    assert!(
        scrape.contains(
            r#"portcullis_idp_request_duration_seconds_bucket{endpoint="jwks",le="0.1"}"#
        ),
        "IdP latency is a histogram: {scrape}"
    );
    let introspection_errors =
        r#"portcullis_idp_errors_total{endpoint="introspection",kind="connect"}"#;
    assert_eq!(sample(&scrape, introspection_errors), 1.0, "{scrape}");

    assert!(sample(&scrape, "portcullis_jwks_keys") >= 1.0, "{scrape}");
    assert!(scrape.contains("portcullis_jwks_age_seconds "), "{scrape}");
    assert!(
        !scrape.contains(&token) && !scrape.contains(&opaque),
        "no token in metrics"
    );
}
