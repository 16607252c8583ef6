//! Helpers shared by the kit's test binaries.
#![allow(dead_code, reason = "each binary uses some of them")]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

/// Sends `request` to `app`: status, body and `WWW-Authenticate`.
pub(crate) async fn call(
    app: &Router,
    request: Request<Body>,
) -> (StatusCode, String, Option<String>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        challenge,
    )
}

/// `GET path`.
pub(crate) fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// `GET path` with `Authorization: Bearer <token>`.
pub(crate) fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}
