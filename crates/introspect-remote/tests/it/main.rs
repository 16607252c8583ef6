//! IntrospectionValidator against a strict local introspection server that behaves like Okta's:
//! a missing `Accept` or `Content-Type` is a 400 (E0000021), client credentials are checked
//! exactly, and the test decides every answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use portcullis_core::client_auth::ClientAuth;
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{
    AuthError, BearerToken, EndpointSource, ErrorKind, IssuerUrl, ManualClock, Principal, Secret,
};
use portcullis_introspect_remote::{IntrospectionSettings, IntrospectionValidator};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.example.test";
const NOW: u64 = 1_800_000_000;
const CLIENT_ID: &str = "orders api";
const SECRET: &str = "p@ss:w+rd/ü";

#[derive(Default)]
struct Server {
    answers: Mutex<HashMap<String, (StatusCode, String)>>,
    calls: AtomicUsize,
    last_form: Mutex<HashMap<String, String>>,
    /// The last request's `Authorization` header, as sent.
    last_authorization: Mutex<Option<String>>,
    delay: Mutex<Duration>,
}

async fn introspect(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    server.calls.fetch_add(1, Ordering::SeqCst);
    let delay = *server.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded")
        || !accept.contains("application/json")
    {
        return (
            StatusCode::BAD_REQUEST,
            json!({"errorCode": "E0000021", "errorSummary": "Bad request. Accept and/or Content-Type headers likely do not match supported values."}).to_string(),
        );
    }
    let form: HashMap<String, String> = url_decode_form(&body);
    *server.last_form.lock().unwrap() = form.clone();
    *server.last_authorization.lock().unwrap() = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    let authenticated = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(basic) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.trim_start_matches("Basic "))
                .unwrap();
            let text = String::from_utf8(decoded).unwrap();
            let (id, secret) = text.split_once(':').unwrap();
            let id: String = url_decode(id);
            let secret: String = url_decode(secret);
            id == CLIENT_ID && secret == SECRET
        }
        None => {
            form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").is_none_or(|s| s == SECRET)
        }
    };
    if !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}).to_string(),
        );
    }
    if form.get("token_type_hint").map(String::as_str) != Some("access_token") {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "hint"}).to_string(),
        );
    }
    let token = form.get("token").cloned().unwrap_or_default();
    server
        .answers
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or((StatusCode::OK, json!({"active": false}).to_string()))
}

fn url_decode(s: &str) -> String {
    url_decode_form(&format!("x={s}")).remove("x").unwrap()
}

fn url_decode_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode_component(k), decode_component(v)))
        .collect()
}

fn decode_component(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

struct Fixture {
    server: Arc<Server>,
    url: String,
    clock: ManualClock,
}

impl Fixture {
    async fn start() -> Self {
        let server = Arc::new(Server::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/introspect", post(introspect))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            server,
            url,
            clock: ManualClock::at_unix(NOW),
        }
    }

    fn answer(&self, token: &str, status: StatusCode, body: Value) {
        self.server
            .answers
            .lock()
            .unwrap()
            .insert(token.into(), (status, body.to_string()));
    }

    fn validator_with(
        &self,
        auth: ClientAuth,
        tweak: impl FnOnce(&mut IntrospectionSettings),
    ) -> IntrospectionValidator {
        let mut settings = IntrospectionSettings {
            issuer: IssuerUrl::parse(ISSUER, false).unwrap(),
            audiences: vec!["api://orders".to_string()].into(),
            accept_any_audience: false,
            allow_missing_aud: false,
            leeway: Duration::from_secs(60),
            cache_ttl: Duration::from_secs(300),
            inactive_cache_ttl: Duration::from_secs(10),
            cache_capacity: 1000,
            mapping: Default::default(),
        };
        tweak(&mut settings);
        let http = HttpClient::new(HttpSettings {
            timeout: Duration::from_millis(800),
            ..Default::default()
        })
        .unwrap();
        IntrospectionValidator::new(
            settings,
            EndpointSource::Configured(self.url.clone()),
            auth,
            http,
            Arc::new(self.clock.clone()),
        )
    }

    fn validator(&self) -> IntrospectionValidator {
        self.validator_with(basic(), |_| {})
    }

    fn calls(&self) -> usize {
        self.server.calls.load(Ordering::SeqCst)
    }
}

fn basic() -> ClientAuth {
    ClientAuth::Basic {
        client_id: CLIENT_ID.into(),
        secret: Secret::new(SECRET),
    }
}

fn active(extra: Value) -> Value {
    let mut body = json!({"active": true, "sub": "alice", "client_id": "web", "aud": "api://orders",
        "scope": "orders:read", "exp": NOW + 600, "iat": NOW, "token_type": "Bearer"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn check(validator: &IntrospectionValidator, token: &str) -> Result<Principal, AuthError> {
    validator.introspect(&BearerToken::new(token)).await
}

#[tokio::test]
async fn the_request_carries_the_right_headers_encoding_and_body_for_each_auth_method() {
    let f = Fixture::start().await;
    f.answer("t1", StatusCode::OK, active(json!({})));
    for auth in [
        basic(),
        ClientAuth::Post {
            client_id: CLIENT_ID.into(),
            secret: Secret::new(SECRET),
        },
        ClientAuth::None {
            client_id: CLIENT_ID.into(),
        },
    ] {
        let method = auth.method();
        let principal = check(&f.validator_with(auth, |_| {}), "t1")
            .await
            .unwrap_or_else(|e| panic!("{method}: {e:?}"));
        assert_eq!(principal.subject(), Some("alice"));
        assert!(principal.has_scope("orders:read"));
        assert_eq!(
            principal.issuer(),
            ISSUER,
            "the configured issuer fills in a missing iss"
        );
        let form = f.server.last_form.lock().unwrap().clone();
        assert_eq!(form["token"], "t1");
        assert_eq!(form["token_type_hint"], "access_token");
        // The client authentication on the wire is the configured method's, and only that.
        let authorization = f.server.last_authorization.lock().unwrap().clone();
        match method {
            "client_secret_basic" => {
                // RFC 6749 §2.3.1: id and secret form-urlencoded before base64.
                let expected = base64::engine::general_purpose::STANDARD
                    .encode("orders+api:p%40ss%3Aw%2Brd%2F%C3%BC");
                assert_eq!(authorization, Some(format!("Basic {expected}")), "{method}");
                assert!(!form.contains_key("client_id") && !form.contains_key("client_secret"));
            }
            "client_secret_post" => {
                assert_eq!(authorization, None, "{method}");
                assert_eq!(form["client_id"], CLIENT_ID);
                assert_eq!(form["client_secret"], SECRET);
            }
            "none" => {
                assert_eq!(authorization, None, "{method}");
                assert_eq!(form["client_id"], CLIENT_ID);
                assert!(!form.contains_key("client_secret"), "{method}");
            }
            other => panic!("untested method {other}"),
        }
    }
}

#[tokio::test]
async fn a_strict_server_refuses_a_request_without_the_headers_and_we_send_them() {
    // Proof that the strict server really refuses a header-less request (as Okta does)...
    let f = Fixture::start().await;
    let response = reqwest_like_post(&f.url, "token=x").await;
    assert_eq!(response.0, 400);
    assert!(response.1.contains("E0000021"));
    // ...and that the validator's request passes it.
    f.answer("t1", StatusCode::OK, active(json!({})));
    check(&f.validator(), "t1").await.unwrap();
}

async fn reqwest_like_post(url: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /introspect HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out)
}

#[tokio::test]
async fn wrong_client_credentials_are_503_naming_the_settings_not_401() {
    let f = Fixture::start().await;
    f.answer("t1", StatusCode::OK, active(json!({})));
    let validator = f.validator_with(
        ClientAuth::Basic {
            client_id: CLIENT_ID.into(),
            secret: Secret::new("wrong"),
        },
        |_| {},
    );
    let error = check(&validator, "t1").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.reason().as_str(), "credentials_refused");
    let detail = error.detail().unwrap();
    assert!(
        detail.contains("portcullis.introspection.client-secret"),
        "{detail}"
    );
    assert!(
        !detail.contains("wrong"),
        "the secret is never printed: {detail}"
    );
    // The eager startup check reports the same reason before any request.
    let startup = validator.check_credentials().await.unwrap_err();
    assert_eq!(startup.reason().as_str(), "credentials_refused");
    assert_eq!(startup.detail(), error.detail());
}

#[tokio::test]
async fn token_refusals_by_the_idp_are_401_other_400s_are_503() {
    let f = Fixture::start().await;
    f.answer(
        "jwt",
        StatusCode::BAD_REQUEST,
        json!({"error": "unsupported_token_type"}),
    );
    f.answer(
        "odd",
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request"}),
    );
    let v = f.validator();
    assert_eq!(
        check(&v, "jwt").await.unwrap_err().kind(),
        ErrorKind::InvalidToken
    );
    let odd = check(&v, "odd").await.unwrap_err();
    assert_eq!(odd.kind(), ErrorKind::Unavailable);
    assert!(odd.detail().unwrap().contains("our request"), "{odd:?}");
}

#[tokio::test]
async fn idp_failures_are_503_and_never_cached() {
    let f = Fixture::start().await;
    let v = f.validator();
    for (status, body) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "oops".to_owned()),
        (StatusCode::OK, "not json".to_owned()),
    ] {
        f.server
            .answers
            .lock()
            .unwrap()
            .insert("t".into(), (status, body));
        let error = check(&v, "t").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{error:?}");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(5)));
    }
    f.answer("t", StatusCode::OK, active(json!({})));
    check(&v, "t").await.unwrap();
    // Slow: cut off by the timeout.
    *f.server.delay.lock().unwrap() = Duration::from_secs(3);
    let started = std::time::Instant::now();
    assert_eq!(
        check(&v, "other").await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_refused_connection_is_503() {
    let mut f = Fixture::start().await;
    // A port this test bound and released: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    f.url = format!("http://127.0.0.1:{port}/introspect");
    let validator = f.validator();
    let error = check(&validator, "t").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        error.detail().unwrap().contains("cannot connect"),
        "{error:?}"
    );
}

#[tokio::test]
async fn answers_are_cached_until_the_ttl_or_the_token_expiry_whichever_is_first() {
    let f = Fixture::start().await;
    f.answer("long", StatusCode::OK, active(json!({"exp": NOW + 3600})));
    f.answer("short", StatusCode::OK, active(json!({"exp": NOW + 30})));
    let v = f.validator();
    check(&v, "long").await.unwrap();
    check(&v, "short").await.unwrap();
    assert_eq!(f.calls(), 2);
    f.clock.advance(Duration::from_secs(31));
    check(&v, "long").await.unwrap();
    assert_eq!(f.calls(), 2, "long is still cached");
    check(&v, "short").await.unwrap();
    assert_eq!(
        f.calls(),
        3,
        "short was asked again: its entry ended at its exp"
    );
    f.clock.advance(Duration::from_secs(270));
    check(&v, "long").await.unwrap();
    assert_eq!(f.calls(), 4, "cache-ttl (5 min) ended");
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly() {
    let f = Fixture::start().await;
    let v = f.validator();
    assert!(
        check(&v, "dead")
            .await
            .unwrap_err()
            .description()
            .contains("not active")
    );
    check(&v, "dead").await.unwrap_err();
    assert_eq!(f.calls(), 1);
    f.clock.advance(Duration::from_secs(11));
    check(&v, "dead").await.unwrap_err();
    assert_eq!(f.calls(), 2);
}

#[tokio::test]
async fn concurrent_first_requests_for_one_token_make_one_call() {
    let f = Fixture::start().await;
    f.answer("new", StatusCode::OK, active(json!({})));
    *f.server.delay.lock().unwrap() = Duration::from_millis(100);
    let v = Arc::new(f.validator());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let v = v.clone();
            tokio::spawn(async move {
                check(&v, "new")
                    .await
                    .map(|p| p.subject().map(str::to_owned))
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().as_deref(), Some("alice"));
    }
    assert_eq!(f.calls(), 1);
}

#[tokio::test]
async fn refresh_tokens_and_missing_aud_are_refused_unless_relaxed() {
    let f = Fixture::start().await;
    f.answer(
        "refresh",
        StatusCode::OK,
        json!({"active": true, "sub": "alice", "client_id": "web", "token_type": "refresh_token"}),
    );
    f.answer(
        "no-aud",
        StatusCode::OK,
        json!({"active": true, "sub": "alice", "token_type": "bearer", "scp": ["orders:read"]}),
    );
    let v = f.validator();
    assert!(
        check(&v, "refresh")
            .await
            .unwrap_err()
            .description()
            .contains("refresh_token")
    );
    assert!(
        check(&v, "no-aud")
            .await
            .unwrap_err()
            .description()
            .contains("no audience")
    );
    let relaxed = f.validator_with(basic(), |s| s.allow_missing_aud = true);
    let principal = check(&relaxed, "no-aud").await.unwrap();
    assert!(
        principal.has_scope("orders:read"),
        "scp as an array feeds the scopes"
    );
}

#[tokio::test]
async fn the_answer_cache_stays_within_its_capacity() {
    let f = Fixture::start().await;
    let v = f.validator_with(basic(), |s| s.cache_capacity = 50);
    for i in 0..400 {
        let token = format!("token-{i}");
        f.answer(&token, StatusCode::OK, active(json!({})));
        check(&v, &token).await.unwrap();
    }
    assert!(
        v.cached_answers() <= 50,
        "{} answers cached",
        v.cached_answers()
    );
    assert_eq!(f.calls(), 400);
}

#[tokio::test]
async fn by_default_a_revoked_token_stops_working_within_30_seconds() {
    let defaults = IntrospectionSettings::from_config(
        &portcullis_core::config::PortcullisConfig::default(),
        IssuerUrl::parse(ISSUER, false).unwrap(),
    );
    assert_eq!(defaults.cache_ttl, Duration::from_secs(30));
    let f = Fixture::start().await;
    let v = f.validator_with(basic(), |s| s.cache_ttl = defaults.cache_ttl);
    f.answer("t", StatusCode::OK, active(json!({"exp": NOW + 3600})));
    check(&v, "t").await.unwrap();
    // Revoked at the IdP.
    f.answer("t", StatusCode::OK, json!({"active": false}));
    f.clock.advance(Duration::from_secs(29));
    check(&v, "t").await.expect("still cached");
    f.clock.advance(Duration::from_secs(2));
    assert!(
        check(&v, "t")
            .await
            .unwrap_err()
            .description()
            .contains("not active"),
        "30 s after it was cached, the revocation is seen"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_tokens_cannot_evict_active_answers() {
    let f = Fixture::start().await;
    // The default lifetimes: active answers 30 s, refusals 10 s.
    let v = f.validator_with(basic(), |s| {
        s.cache_capacity = 1024;
        s.cache_ttl = Duration::from_secs(30);
    });
    let active_tokens: Vec<String> = (0..16).map(|i| format!("active-{i}")).collect();
    for token in &active_tokens {
        f.answer(token, StatusCode::OK, active(json!({"exp": NOW + 3600})));
        check(&v, token).await.unwrap();
    }
    assert_eq!(f.calls(), 16);
    // 25 s later the active answers die sooner than fresh refusals would: in a shared cache the
    // flood would push them out first.
    f.clock.advance(Duration::from_secs(25));
    for i in 0..2000 {
        check(&v, &format!("unknown-{i}")).await.unwrap_err();
    }
    assert_eq!(f.calls(), 16 + 2000);
    for token in &active_tokens {
        check(&v, token).await.unwrap();
    }
    assert_eq!(
        f.calls(),
        16 + 2000,
        "every active answer is still cached after the flood"
    );
}

#[tokio::test]
async fn cache_capacity_zero_introspects_every_request() {
    let f = Fixture::start().await;
    let v = f.validator_with(basic(), |s| s.cache_capacity = 0);
    f.answer("t", StatusCode::OK, active(json!({})));
    for _ in 0..5 {
        check(&v, "t").await.unwrap();
        check(&v, "dead").await.unwrap_err();
    }
    assert_eq!(f.calls(), 10, "no answer is kept, active or not");
    assert_eq!(v.cached_answers(), 0);
    assert!(v.lookup_verified(b"t").is_none());
}

#[tokio::test]
async fn a_redirecting_introspection_endpoint_gets_neither_token_nor_secret_elsewhere() {
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let other = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target = format!("http://{}/introspect", other.local_addr().unwrap());
    let sink = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready(r#"{"active": true}"#)
    });
    tokio::spawn(async move { axum::serve(other, sink).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { (StatusCode::PERMANENT_REDIRECT, [("location", target)]) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut f = Fixture::start().await;
    f.url = url;
    let error = check(&f.validator(), "the-token").await.unwrap_err();
    assert_eq!(
        error.kind(),
        portcullis_core::ErrorKind::Unavailable,
        "{error:?}"
    );
    assert!(
        error.detail().unwrap().contains("follows no redirect"),
        "{error:?}"
    );
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}
