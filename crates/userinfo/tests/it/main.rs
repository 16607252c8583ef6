//! UserinfoClient against a local userinfo endpoint whose answers the test decides.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{BearerToken, EndpointSource, ErrorKind, ManualClock, Principal};
use portcullis_userinfo::UserinfoClient;
use serde_json::json;

const NOW: u64 = 1_800_000_000;

struct Endpoint {
    reply: Mutex<(StatusCode, &'static str, String)>,
    calls: AtomicUsize,
    last_authorization: Mutex<String>,
}

async fn userinfo(
    State(e): State<Arc<Endpoint>>,
    headers: HeaderMap,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    e.calls.fetch_add(1, Ordering::SeqCst);
    *e.last_authorization.lock().unwrap() = headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (status, content_type, body) = e.reply.lock().unwrap().clone();
    (status, [("content-type", content_type)], body)
}

async fn start(body: serde_json::Value) -> (Arc<Endpoint>, UserinfoClient, ManualClock) {
    let endpoint = Arc::new(Endpoint {
        reply: Mutex::new((StatusCode::OK, "application/json", body.to_string())),
        calls: AtomicUsize::new(0),
        last_authorization: Mutex::new(String::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/userinfo", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/userinfo", get(userinfo))
        .with_state(endpoint.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let clock = ManualClock::at_unix(NOW);
    let http = HttpClient::new(HttpSettings {
        timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let client = UserinfoClient::new(
        EndpointSource::Configured(url),
        http,
        Arc::new(clock.clone()),
        100,
    );
    (endpoint, client, clock)
}

fn principal(token: &str, sub: &str, exp: u64) -> Principal {
    let claims = json!({"sub": sub, "exp": exp, "scope": "a"});
    Principal::from_validated_claims(BearerToken::new(token), claims.as_object().unwrap().clone())
}

#[tokio::test]
async fn userinfo_is_fetched_with_the_token_and_cached_until_the_token_expires() {
    let (endpoint, client, clock) =
        start(json!({"sub": "alice", "name": "Alice", "scope": "admin"})).await;
    let p = principal("tok-1", "alice", NOW + 60);
    let claims = client.fetch(&p).await.unwrap();
    assert_eq!(claims["name"], "Alice");
    assert_eq!(*endpoint.last_authorization.lock().unwrap(), "Bearer tok-1");
    client.fetch(&p).await.unwrap();
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(61));
    client.fetch(&p).await.unwrap();
    assert_eq!(
        endpoint.calls.load(Ordering::SeqCst),
        2,
        "the entry ended with the token"
    );
    // Userinfo never grants scopes: the principal's scopes are the token's.
    assert!(!p.with_userinfo(claims).has_scope("admin"));
}

#[tokio::test]
async fn a_sub_mismatch_discards_the_answer() {
    let (_, client, _) = start(json!({"sub": "mallory", "name": "Mallory"})).await;
    let error = client
        .fetch(&principal("tok", "alice", NOW + 60))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        error.detail().unwrap().contains("does not match"),
        "{error:?}"
    );
}

#[tokio::test]
async fn refusals_signed_answers_and_garbage_are_failures_not_claims() {
    let (endpoint, client, _) = start(json!({})).await;
    let cases: [(StatusCode, &'static str, &str, &str); 3] = [
        (
            StatusCode::UNAUTHORIZED,
            "application/json",
            "{\"error\":\"invalid_token\"}",
            "refused the access token",
        ),
        (
            StatusCode::OK,
            "application/jwt",
            "eyJ.eyJ.sig",
            "signed JWT",
        ),
        (
            StatusCode::OK,
            "application/json",
            "[1,2]",
            "not a JSON object",
        ),
    ];
    for (i, (status, content_type, body, expected)) in cases.into_iter().enumerate() {
        *endpoint.reply.lock().unwrap() = (status, content_type, body.to_owned());
        let error = client
            .fetch(&principal(&format!("tok-{i}"), "alice", NOW + 60))
            .await
            .unwrap_err();
        assert!(error.detail().unwrap().contains(expected), "{error:?}");
    }
}

#[tokio::test]
async fn a_redirecting_userinfo_endpoint_gets_no_second_request_with_the_token() {
    // Another host (127.0.0.2) counts what reaches it; the endpoint redirects there.
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let other = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target = format!("http://{}/userinfo", other.local_addr().unwrap());
    let sink = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready("{}")
    });
    tokio::spawn(async move { axum::serve(other, sink).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/userinfo", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [("location", target)]) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = UserinfoClient::new(
        EndpointSource::Configured(url),
        HttpClient::new(HttpSettings::default()).unwrap(),
        Arc::new(ManualClock::at_unix(NOW)),
        100,
    );
    let error = client
        .fetch(&principal("the-token", "alice", NOW + 60))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        error.detail().unwrap().contains("follows no redirect"),
        "{error:?}"
    );
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}
