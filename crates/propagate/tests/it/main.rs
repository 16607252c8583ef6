//! The propagator against a local token endpoint whose answers the test decides.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::collections::HashMap;
use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use portcullis_core::client_auth::ClientAuth;
use portcullis_core::config::{DownstreamConfig, Strategy};
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{BearerToken, EndpointSource, ManualClock, Principal, Secret};
use portcullis_propagate::{PropagationError, Propagator, TokenEndpoint};
use serde_json::json;

mod redirects;

struct Endpoint {
    calls: AtomicUsize,
    fail_next: AtomicUsize,
    forms: Mutex<Vec<HashMap<String, String>>>,
    /// `(Content-Type, Authorization)` of each call.
    heads: Mutex<Vec<(Option<String>, Option<String>)>>,
    /// Answers wait while this is false: a test closes it to hold the first call open while the
    /// concurrent callers arrive, instead of hoping a sleep is long enough.
    open: tokio::sync::watch::Sender<bool>,
}

impl Default for Endpoint {
    fn default() -> Self {
        Self {
            calls: AtomicUsize::default(),
            fail_next: AtomicUsize::default(),
            forms: Mutex::default(),
            heads: Mutex::default(),
            open: tokio::sync::watch::Sender::new(true),
        }
    }
}

async fn token(
    State(e): State<Arc<Endpoint>>,
    headers: axum::http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, String) {
    let header = |name| {
        headers
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    e.heads
        .lock()
        .unwrap()
        .push((header("content-type"), header("authorization")));
    let n = e.calls.fetch_add(1, Ordering::SeqCst);
    let _ = e.open.subscribe().wait_for(|open| *open).await;
    e.forms.lock().unwrap().push(form.clone());
    if e.fail_next.load(Ordering::SeqCst) > 0 {
        e.fail_next.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "busy".into());
    }
    if form.get("subject_token").map(String::as_str) == Some("twice") {
        // Two access tokens in one answer: which one a lenient parser keeps is its choice.
        return (
            StatusCode::OK,
            r#"{"access_token":"first","access_token":"second","token_type":"Bearer"}"#.into(),
        );
    }
    if form.get("subject_token").map(String::as_str) == Some("revoked") {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "subject_token is not active"})
                .to_string(),
        );
    }
    (
        StatusCode::OK,
        json!({"access_token": format!("issued-{n}"), "token_type": "Bearer", "expires_in": 300})
            .to_string(),
    )
}

struct Fixture {
    endpoint: Arc<Endpoint>,
    propagator: Propagator,
    clock: ManualClock,
}

async fn fixture() -> Fixture {
    let endpoint = Arc::new(Endpoint::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/token", post(token))
        .with_state(endpoint.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let clock = ManualClock::at_unix(1_800_000_000);
    let http = HttpClient::new(HttpSettings::default()).unwrap();
    let auth = ClientAuth::Basic {
        client_id: "orders-service".into(),
        secret: Secret::new("s"),
    };
    let token_endpoint = TokenEndpoint::new(
        EndpointSource::Configured(url),
        auth,
        http,
        Arc::new(clock.clone()),
    );
    let downstreams = vec![
        DownstreamConfig {
            name: "relayed".into(),
            base_url: "http://relay.test/api".into(),
            ..Default::default()
        },
        DownstreamConfig {
            name: "exchanged".into(),
            base_url: "http://inventory.test/items".into(),
            strategy: Strategy::Exchange,
            audience: Some("urn:inventory".into()),
            scopes: vec!["inventory:read".into()],
            ..Default::default()
        },
        DownstreamConfig {
            name: "own".into(),
            base_url: "http://inventory.test/stock".into(),
            strategy: Strategy::ClientCredentials,
            resource: Some("urn:inventory".into()),
            ..Default::default()
        },
    ];
    let propagator = Propagator::new(
        &downstreams,
        Some(Arc::new(token_endpoint)),
        Arc::new(clock.clone()),
        100,
    )
    .unwrap();
    Fixture {
        endpoint,
        propagator,
        clock,
    }
}

fn principal(token: &str) -> Principal {
    Principal::from_validated_claims(
        BearerToken::new(token),
        json!({"sub": "alice"}).as_object().unwrap().clone(),
    )
}

#[tokio::test]
async fn relay_sends_the_callers_token_and_needs_a_caller() {
    let f = fixture().await;
    let caller = principal("caller-token");
    let token = f
        .propagator
        .bearer_for(Some(&caller), "http://relay.test/api/orders/1")
        .await
        .unwrap();
    assert_eq!(token.expose(), "caller-token");
    let error = f
        .propagator
        .bearer_for(None, "http://relay.test/api/x")
        .await
        .unwrap_err();
    assert!(
        matches!(error, PropagationError::NoPrincipal { .. }),
        "{error}"
    );
    assert_eq!(f.endpoint.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unconfigured_url_gets_no_token() {
    let f = fixture().await;
    let caller = principal("caller-token");
    for url in [
        "http://evil.test/api",
        "http://relay.test/apix",
        "https://relay.test/api/x",
        "not a url",
    ] {
        let error = f
            .propagator
            .bearer_for(Some(&caller), url)
            .await
            .unwrap_err();
        assert!(
            matches!(error, PropagationError::UnknownDownstream { .. }),
            "{url}: {error}"
        );
    }
}

/// The exchange request checked field by field against RFC 8693 §2.1 (and RFC 6749 §2.3.1 for
/// the client authentication), independently of the test IdP's grant, which Portcullis's own
/// team wrote (oidc-provider has none): both halves could agree on a mistake.
#[tokio::test]
async fn the_exchange_request_has_the_shape_of_rfc8693_section_2_1() {
    use base64::Engine as _;
    let f = fixture().await;
    f.propagator
        .bearer_for(
            Some(&principal("alice-token")),
            "http://inventory.test/items/1",
        )
        .await
        .unwrap();
    let (content_type, authorization) = f.endpoint.heads.lock().unwrap()[0].clone();
    // §2.1: "the client makes a token exchange request to the token endpoint with an extension
    // grant type using the HTTP POST method ... using the application/x-www-form-urlencoded
    // format" (the route answers POST only).
    assert_eq!(
        content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    // RFC 6749 §2.3.1: client_secret_basic is Basic over the form-encoded id and secret.
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("orders-service:s")
    );
    assert_eq!(authorization.as_deref(), Some(expected.as_str()));
    let form = f.endpoint.forms.lock().unwrap()[0].clone();
    // REQUIRED: grant_type, subject_token, subject_token_type.
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(
        form.get("subject_token").map(String::as_str),
        Some("alice-token")
    );
    assert_eq!(
        form.get("subject_token_type").map(String::as_str),
        Some("urn:ietf:params:oauth:token-type:access_token"),
        "§3: the type identifier of an OAuth 2.0 access token"
    );
    // OPTIONAL and used: audience (the downstream's logical name), scope, requested_token_type.
    assert_eq!(
        form.get("audience").map(String::as_str),
        Some("urn:inventory")
    );
    assert_eq!(
        form.get("scope").map(String::as_str),
        Some("inventory:read")
    );
    assert_eq!(
        form.get("requested_token_type").map(String::as_str),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    // Nothing else: no actor token (this service is the client, §4.1 `act` is the IdP's to
    // add), no resource (none configured), no credential in the body alongside Basic.
    let mut names: Vec<&str> = form.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "audience",
            "grant_type",
            "requested_token_type",
            "scope",
            "subject_token",
            "subject_token_type"
        ]
    );
}

#[tokio::test]
async fn exchange_follows_rfc8693_and_is_cached_per_token_and_audience() {
    let f = fixture().await;
    let alice = principal("alice-token");
    let first = f
        .propagator
        .bearer_for(Some(&alice), "http://inventory.test/items/1")
        .await
        .unwrap();
    let again = f
        .propagator
        .bearer_for(Some(&alice), "http://inventory.test/items/2")
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(f.endpoint.calls.load(Ordering::SeqCst), 1);
    let form = f.endpoint.forms.lock().unwrap()[0].clone();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(form["subject_token"], "alice-token");
    assert_eq!(
        form["subject_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(
        form["requested_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(form["audience"], "urn:inventory");
    assert_eq!(form["scope"], "inventory:read");
    // Another caller: another exchange.
    let bob = f
        .propagator
        .bearer_for(
            Some(&principal("bob-token")),
            "http://inventory.test/items/1",
        )
        .await
        .unwrap();
    assert_ne!(bob, first);
    // Refused by the IdP: the error says so and is not cached.
    let error = f
        .propagator
        .bearer_for(Some(&principal("revoked")), "http://inventory.test/items/1")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid_grant"), "{error}");
}

#[tokio::test]
async fn an_answer_with_a_duplicate_member_is_refused_as_introspection_answers_are() {
    let f = fixture().await;
    let error = f
        .propagator
        .bearer_for(Some(&principal("twice")), "http://inventory.test/items/1")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("answered HTTP 200"),
        "the strict JSON parser refuses it: {error}"
    );
}

#[tokio::test]
async fn client_credentials_are_cached_until_shortly_before_expiry_and_fetched_once_under_concurrency()
 {
    let f = Arc::new(fixture().await);
    // The endpoint holds its answer until all twenty callers have asked.
    f.endpoint.open.send_replace(false);
    let asked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (f, asked) = (f.clone(), asked.clone());
            tokio::spawn(async move {
                let mut token =
                    Box::pin(f.propagator.bearer_for(None, "http://inventory.test/stock"));
                // Counted once the call has been polled (it has asked, or joined the one asking).
                let first = std::future::poll_fn(|cx| Poll::Ready(token.as_mut().poll(cx))).await;
                asked.fetch_add(1, Ordering::SeqCst);
                match first {
                    Poll::Ready(token) => token.unwrap(),
                    Poll::Pending => token.await.unwrap(),
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while asked.load(Ordering::SeqCst) < 20 || f.endpoint.calls.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the callers never asked"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    f.endpoint.open.send_replace(true);
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap());
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(f.endpoint.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        f.endpoint.forms.lock().unwrap()[0]["grant_type"],
        "client_credentials"
    );
    f.clock.advance(Duration::from_secs(260));
    f.propagator
        .bearer_for(None, "http://inventory.test/stock")
        .await
        .unwrap();
    assert_eq!(
        f.endpoint.calls.load(Ordering::SeqCst),
        1,
        "still fresh at 260 s of 300"
    );
    f.clock.advance(Duration::from_secs(15));
    let renewed = f
        .propagator
        .bearer_for(None, "http://inventory.test/stock")
        .await
        .unwrap();
    assert_ne!(renewed, tokens[0], "renewed 30 s before expiry");
    assert_eq!(f.endpoint.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let f = fixture().await;
    f.endpoint.fail_next.store(2, Ordering::SeqCst);
    let token = f
        .propagator
        .bearer_for(None, "http://inventory.test/stock")
        .await
        .unwrap();
    assert_eq!(token.expose(), "issued-2");
    assert_eq!(f.endpoint.calls.load(Ordering::SeqCst), 3);
    f.endpoint.fail_next.store(5, Ordering::SeqCst);
    f.clock.advance(Duration::from_secs(400));
    let error = f
        .propagator
        .bearer_for(None, "http://inventory.test/stock")
        .await
        .unwrap_err();
    assert!(matches!(error, PropagationError::Unavailable(_)), "{error}");
}
