//! No credential follows a redirect (security review, item 1): real servers on loopback, one
//! downstream on 127.0.0.1 and an "elsewhere" host on 127.0.0.2, each recording what reached it.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use portcullis_core::config::DownstreamConfig;
use portcullis_core::{ManualClock, Principal};
use portcullis_propagate::{PropagationError, PropagationMiddleware, Propagator, outbound_client};

use super::principal;

const TOKEN: &str = "the-callers-token";

/// What reached a server: path and the Authorization header, if any.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Where a server redirects a path to (its own base URL given), or `None` for 200.
type Route = fn(&str, &str) -> Option<String>;

/// A server on `ip` that records every request and answers with `route(path)`: a redirect to
/// the `Location` given, or 200.
async fn server(ip: &str, route: Route) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {ip}: {e}"));
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let state = (seen.clone(), base.clone(), route);
    let app = axum::Router::new().fallback(
        |State((seen, base, route)): State<(Seen, String, Route)>, request: Request| async move {
            let path = request.uri().path().to_owned();
            let authorization = request
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned());
            seen.lock().unwrap().push((path.clone(), authorization));
            match route(&base, &path) {
                Some(location) => Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, location)
                    .body(Body::empty())
                    .unwrap(),
                None => Response::new(Body::from("ok")),
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app.with_state(state)).await });
    (base, seen)
}

fn relay_to(base: &str) -> Arc<Propagator> {
    let downstream = DownstreamConfig {
        name: "inventory".into(),
        base_url: format!("{base}/api"),
        ..Default::default()
    };
    Arc::new(
        Propagator::new(
            &[downstream],
            None,
            Arc::new(ManualClock::at_unix(1_800_000_000)),
            10,
        )
        .unwrap(),
    )
}

fn caller() -> Principal {
    principal(TOKEN)
}

/// Every request a server saw that carried the caller's token.
fn with_token(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(_, auth)| auth.as_deref().is_some_and(|a| a.contains(TOKEN)))
        .map(|(path, _)| path.clone())
        .collect()
}

/// The "elsewhere" host: every path redirects to another path of itself, so a client that
/// followed would come back with whatever it still carries.
fn elsewhere(base: &str, path: &str) -> Option<String> {
    (path == "/hop1").then(|| format!("{base}/hop2"))
}

#[tokio::test]
async fn a_cross_host_then_same_host_redirect_chain_never_carries_the_token() {
    let (other, other_seen) = server("127.0.0.2", elsewhere).await;
    static OTHER: Mutex<String> = Mutex::new(String::new());
    *OTHER.lock().unwrap() = other.clone();
    let (downstream, downstream_seen) = server("127.0.0.1", |_, path| {
        (path == "/api/start").then(|| format!("{}/hop1", OTHER.lock().unwrap()))
    })
    .await;
    let client = outbound_client(relay_to(&downstream)).unwrap();
    let response = client
        .get(format!("{downstream}/api/start"))
        .with_extension(caller())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "the redirect comes back to the caller"
    );
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("{other}/hop1").as_str()
    );
    assert_eq!(with_token(&downstream_seen), ["/api/start"]);
    assert!(
        other_seen.lock().unwrap().is_empty(),
        "nothing reaches the other host: {:?}",
        other_seen.lock().unwrap()
    );
}

#[tokio::test]
async fn a_same_host_redirect_outside_the_base_path_is_not_followed() {
    let (downstream, seen) = server("127.0.0.1", |base, path| {
        (path == "/api/x").then(|| format!("{base}/admin/steal"))
    })
    .await;
    let client = outbound_client(relay_to(&downstream)).unwrap();
    let response = client
        .get(format!("{downstream}/api/x"))
        .with_extension(caller())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(paths, ["/api/x"], "/admin/steal is outside the base path");
    // Calling the Location through the client is refused before anything is sent.
    let error = client
        .get(format!("{downstream}/admin/steal"))
        .with_extension(caller())
        .send()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not under any"), "{error}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_redirect_inside_the_base_path_comes_back_to_the_caller_who_may_follow_it() {
    // Decided: not followed either (one rule, no special case); the caller's code sees the 302
    // and may call the Location through the same client, which checks it like any URL.
    let (downstream, seen) = server("127.0.0.1", |base, path| {
        (path == "/api/old").then(|| format!("{base}/api/new"))
    })
    .await;
    let client = outbound_client(relay_to(&downstream)).unwrap();
    let response = client
        .get(format!("{downstream}/api/old"))
        .with_extension(caller())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(with_token(&seen), ["/api/old"]);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let followed = client
        .get(location)
        .with_extension(caller())
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    assert_eq!(with_token(&seen), ["/api/old", "/api/new"]);
}

#[tokio::test]
async fn the_middleware_on_a_client_that_follows_redirects_withholds_the_answer() {
    let (downstream, seen) = server("127.0.0.1", |base, path| {
        (path == "/api/old").then(|| format!("{base}/api/new"))
    })
    .await;
    // A client built by hand with reqwest's default policy (follows up to ten redirects).
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(PropagationMiddleware::new(relay_to(&downstream)))
        .build();
    let error = client
        .get(format!("{downstream}/api/old"))
        .with_extension(caller())
        .send()
        .await
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("expected the middleware's error, got {error}");
    };
    let error = error.downcast::<PropagationError>().unwrap();
    assert!(
        matches!(error, PropagationError::RedirectFollowed { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("outbound_client"), "{error}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_token_endpoint_follows_no_redirect_with_the_client_secret() {
    use portcullis_core::client_auth::ClientAuth;
    use portcullis_core::http::{HttpClient, HttpSettings};
    use portcullis_core::{EndpointSource, Secret};
    use portcullis_propagate::TokenEndpoint;

    let (other, other_seen) = server("127.0.0.2", |_, _| None).await;
    static OTHER: Mutex<String> = Mutex::new(String::new());
    *OTHER.lock().unwrap() = other.clone();
    let (idp, idp_seen) = server("127.0.0.1", |_, _| {
        Some(format!("{}/token", OTHER.lock().unwrap()))
    })
    .await;
    let endpoint = TokenEndpoint::new(
        EndpointSource::Configured(format!("{idp}/token")),
        ClientAuth::Basic {
            client_id: "orders-service".into(),
            secret: Secret::new("the-client-secret"),
        },
        HttpClient::new(HttpSettings::default()).unwrap(),
        Arc::new(ManualClock::at_unix(1_800_000_000)),
    );
    let error = endpoint
        .grant(
            vec![("grant_type", "client_credentials".into())],
            "inventory",
            "client_credentials",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, PropagationError::Misconfigured(_)),
        "a redirect is not retried as a transient failure: {error}"
    );
    assert!(error.to_string().contains("follows no redirect"), "{error}");
    assert_eq!(idp_seen.lock().unwrap().len(), 1, "asked once, not retried");
    assert!(other_seen.lock().unwrap().is_empty());
}
