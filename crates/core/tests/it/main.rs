//! Discovery against small local servers: the RFC 8414 fallback, the exact issuer match, and
//! failures that must be 503 (IdP trouble) or 500 (our configuration), never a pass.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{Discovery, ErrorKind, IssuerUrl, ManualClock};
use serde_json::json;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn discovery(issuer: &str, clock: &ManualClock) -> Discovery {
    let http = HttpClient::new(HttpSettings {
        timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .unwrap();
    Discovery::new(
        IssuerUrl::parse(issuer, false).unwrap(),
        http,
        Arc::new(clock.clone()),
        Duration::from_secs(2),
    )
}

#[tokio::test]
async fn falls_back_to_rfc8414_when_there_is_no_openid_configuration() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/tenant");
    let doc = json!({"issuer": issuer, "jwks_uri": format!("{base}/keys"), "introspection_endpoint": format!("{base}/introspect")});
    let app = Router::new().route(
        "/.well-known/oauth-authorization-server/tenant",
        get(move || std::future::ready(axum::Json(doc.clone()))),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let metadata = discovery(&issuer, &ManualClock::at_unix(0))
        .metadata()
        .await
        .unwrap();
    assert_eq!(
        metadata.jwks_uri.as_deref(),
        Some(format!("{base}/keys").as_str())
    );
    assert!(metadata.introspection_endpoint.is_some());
}

#[tokio::test]
async fn an_issuer_that_differs_is_a_misconfiguration() {
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(|| async {
            axum::Json(
                json!({"issuer": "https://someone-else.example", "jwks_uri": "https://x/keys"}),
            )
        }),
    );
    let url = serve(app).await;
    let error = discovery(&url, &ManualClock::at_unix(0))
        .metadata()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Misconfigured);
    assert!(
        error.detail().unwrap().contains("someone-else"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_endpoint_only_in_the_appended_document_is_found_and_its_absence_names_every_url() {
    use portcullis_core::{Endpoint, EndpointSource};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/o");
    // The OpenID document (no introspection), nothing at the RFC 8414 place, and the appended
    // form with the introspection endpoint: django-oauth-toolkit with OpenID on, mounted at /o.
    let oidc = json!({"issuer": issuer, "jwks_uri": format!("{base}/o/keys")});
    let oauth =
        json!({"issuer": issuer, "introspection_endpoint": format!("{base}/o/introspect/")});
    let app = Router::new()
        .route(
            "/o/.well-known/openid-configuration",
            get(move || std::future::ready(axum::Json(oidc.clone()))),
        )
        .route(
            "/o/.well-known/oauth-authorization-server",
            get(move || std::future::ready(axum::Json(oauth.clone()))),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let found = Arc::new(discovery(&issuer, &ManualClock::at_unix(0)));
    assert_eq!(
        EndpointSource::Discovered(found.clone(), Endpoint::Introspection)
            .resolve()
            .await
            .unwrap(),
        format!("{base}/o/introspect/")
    );
    // No document names a userinfo endpoint: the error lists each URL and what it said.
    let error = EndpointSource::Discovered(found, Endpoint::Userinfo)
        .resolve()
        .await
        .unwrap_err();
    let detail = error.detail().unwrap();
    for expected in [
        format!("{base}/o/.well-known/openid-configuration (no userinfo_endpoint)"),
        format!("{base}/.well-known/oauth-authorization-server/o answered 404"),
        format!("{base}/o/.well-known/oauth-authorization-server (no userinfo_endpoint)"),
        "portcullis.userinfo.endpoint".to_owned(),
    ] {
        assert!(detail.contains(&expected), "{expected:?} in {detail}");
    }
}

#[tokio::test]
async fn a_later_document_that_names_another_issuer_supplies_nothing() {
    use portcullis_core::{Endpoint, EndpointSource};
    // Mix-up: the OpenID document is the issuer's, the appended one claims another issuer and
    // points introspection (with our client secret) at a host of its choosing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/o");
    let oidc = json!({"issuer": issuer, "jwks_uri": format!("{base}/o/keys")});
    let evil = json!({"issuer": "https://evil.example", "introspection_endpoint": "https://evil.example/steal"});
    let app = Router::new()
        .route(
            "/o/.well-known/openid-configuration",
            get(move || std::future::ready(axum::Json(oidc.clone()))),
        )
        .route(
            "/o/.well-known/oauth-authorization-server",
            get(move || std::future::ready(axum::Json(evil.clone()))),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let found = Arc::new(discovery(&issuer, &ManualClock::at_unix(0)));
    let error = EndpointSource::Discovered(found, Endpoint::Introspection)
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Misconfigured);
    assert!(
        error.detail().unwrap().contains("evil.example"),
        "{error:?}"
    );
}

#[tokio::test]
async fn no_document_at_any_place_names_each_url_and_the_issuer_setting() {
    let url = serve(Router::new()).await;
    let error = discovery(&url, &ManualClock::at_unix(0))
        .metadata()
        .await
        .unwrap_err();
    let detail = error.detail().unwrap();
    assert!(
        detail.contains(&format!(
            "{url}/.well-known/openid-configuration answered 404"
        )) && detail.contains(&format!(
            "{url}/.well-known/oauth-authorization-server answered 404"
        )),
        "{detail}"
    );
}

#[tokio::test]
async fn no_document_at_either_place_names_the_issuer_setting() {
    let url = serve(Router::new()).await;
    let error = discovery(&url, &ManualClock::at_unix(0))
        .metadata()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Misconfigured);
    assert!(
        error.detail().unwrap().contains("portcullis.issuer"),
        "{error:?}"
    );
}

#[tokio::test]
async fn idp_trouble_is_unavailable_and_retried_after_the_backoff() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => (StatusCode::INTERNAL_SERVER_ERROR, "boom".to_owned()),
                    1 => (StatusCode::OK, "garbage{".to_owned()),
                    _ => (StatusCode::OK, String::new()),
                }
            }
        }),
    );
    let url = serve(app).await;
    let clock = ManualClock::at_unix(0);
    let discovery = discovery(&url, &clock);
    let first = discovery.metadata().await.unwrap_err();
    assert_eq!(first.kind(), ErrorKind::Unavailable);
    assert!(first.detail().unwrap().contains("500"));
    // Within the back-off: the same error, no new request.
    assert_eq!(
        discovery.metadata().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(3));
    let garbage = discovery.metadata().await.unwrap_err();
    assert_eq!(garbage.kind(), ErrorKind::Unavailable);
    assert!(
        garbage.detail().unwrap().contains("not the expected JSON"),
        "{garbage:?}"
    );
}

#[tokio::test]
async fn an_oversized_or_slow_answer_is_cut_off() {
    let big = "x".repeat(2 * 1024 * 1024);
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || std::future::ready(big.clone())),
        )
        .route(
            "/slow/.well-known/openid-configuration",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let url = serve(app).await;
    let error = discovery(&url, &ManualClock::at_unix(0))
        .metadata()
        .await
        .unwrap_err();
    assert!(
        error.detail().unwrap().contains("more than 1048576 bytes"),
        "{error:?}"
    );
    let started = std::time::Instant::now();
    let error = discovery(&format!("{url}/slow"), &ManualClock::at_unix(0))
        .metadata()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        error.detail().unwrap().contains("did not answer"),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_discovered_plain_http_endpoint_on_a_public_host_is_refused_naming_document_and_field() {
    // The issuer itself is on loopback (allowed over http); the document points elsewhere.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": "http://keys.example.com/jwks",
        "introspection_endpoint": "https://idp.example.com/introspect",
        "userinfo_endpoint": "ftp://idp.example.com/userinfo",
        "token_endpoint": format!("{issuer}/token"),
    });
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(move || std::future::ready(axum::Json(doc.clone()))),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let discovery = discovery(&issuer, &ManualClock::at_unix(0));
    let error = discovery
        .endpoint(portcullis_core::Endpoint::Jwks)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Misconfigured);
    let detail = error.detail().unwrap();
    assert!(
        detail.contains(&format!("{issuer}/.well-known/openid-configuration"))
            && detail.contains("jwks_uri")
            && detail.contains("http://keys.example.com/jwks")
            && detail.contains("https")
            && detail.contains("portcullis.jwks-uri"),
        "{detail}"
    );
    let error = discovery
        .endpoint(portcullis_core::Endpoint::Userinfo)
        .await
        .unwrap_err();
    assert!(error.detail().unwrap().contains("userinfo_endpoint"));
    // https anywhere and http on loopback pass, as for configured endpoints.
    assert!(
        discovery
            .endpoint(portcullis_core::Endpoint::Introspection)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        discovery
            .endpoint(portcullis_core::Endpoint::Token)
            .await
            .unwrap()
            .is_some()
    );
    // With the dangerous setting, plain http is allowed, as for configured endpoints.
    let http = HttpClient::new(HttpSettings::default()).unwrap();
    let dangerous = Discovery::new(
        IssuerUrl::parse(&issuer, true).unwrap(),
        http,
        Arc::new(ManualClock::at_unix(0)),
        Duration::from_secs(2),
    );
    assert_eq!(
        dangerous
            .endpoint(portcullis_core::Endpoint::Jwks)
            .await
            .unwrap()
            .as_deref(),
        Some("http://keys.example.com/jwks")
    );
}

#[tokio::test]
async fn an_idp_call_with_a_credential_follows_no_redirect() {
    // Where a redirect would lead: another loopback host that records what reaches it.
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let elsewhere = serve(Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready("stolen")
    }))
    .await;
    for status in [301u16, 302, 303, 307, 308] {
        let target = format!("{elsewhere}/steal");
        let idp = serve(Router::new().fallback(move || {
            let target = target.clone();
            async move {
                (
                    StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::LOCATION, target)],
                )
            }
        }))
        .await;
        let http = HttpClient::new(HttpSettings::default()).unwrap();
        let url = format!("{idp}/introspect");
        let request = http
            .reqwest()
            .post(&url)
            .header(
                axum::http::header::AUTHORIZATION,
                "Basic c2VjcmV0OnNlY3JldA==",
            )
            .form(&[("token", "the-token")]);
        let error = http
            .exchange(
                portcullis_core::observe::IdpEndpoint::Introspection,
                &url,
                request,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, portcullis_core::http::FetchError::Redirected { status: s, .. } if s == status),
            "{status}: {error}"
        );
        assert!(error.to_string().contains("/steal"), "{error}");
    }
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "no request followed a redirect"
    );
}
