//! # portcullis-test
//!
//! Test your Portcullis-protected handlers the way Spring's `jwt()` request post-processor and
//! its mock issuers let you, in two styles:
//!
//! 1. **No token at all** ([`RequestExt::with_jwt`]): the request carries claims that stand in
//!    for a validated token. They go through your `[portcullis.claims]` mapping, your access
//!    rules and your route requirements exactly as a token's would; only token resolution and
//!    signature checks are skipped. Fast, no I/O.
//! 2. **Real tokens from a mock issuer** ([`MockIssuer`]): an OpenID Provider on `127.0.0.1:0`
//!    with discovery, a JWKS, RFC 7662 introspection and userinfo, and a [`TokenBuilder`] for
//!    JWT or opaque access tokens. The whole stack runs, as in production.
//!
//! ```no_run
//! use axum::{Router, routing::get, body::Body, http::Request};
//! use portcullis::{Principal, requires_scopes};
//! use portcullis_test::{MockIssuer, MockJwt, RequestExt};
//! use tower::ServiceExt;
//!
//! #[requires_scopes("orders:read")]
//! async fn orders(principal: Principal) -> String {
//!     format!("orders of {}", principal.subject().unwrap_or("?"))
//! }
//!
//! # async fn run() {
//! let issuer = MockIssuer::start().await.unwrap();
//! let portcullis = issuer.portcullis().await.unwrap();
//! let app = Router::new().route("/orders", get(orders)).layer(portcullis.layer());
//!
//! // 1. Claims, no token:
//! let request = Request::get("/orders")
//!     .body(Body::empty())
//!     .unwrap()
//!     .with_jwt(MockJwt::subject("alice").scopes(["orders:read"]));
//! assert_eq!(app.clone().oneshot(request).await.unwrap().status(), 200);
//!
//! // 2. A real signed token:
//! let token = issuer.token().subject("bob").scopes(["orders:read"]).jwt();
//! let request = Request::get("/orders")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(Body::empty())
//!     .unwrap();
//! assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
//! # }
//! ```
//!
//! Add it under `[dev-dependencies]` only: it turns on Portcullis's `testing` feature, which
//! must never reach a shipped build.

mod issuer;

pub use issuer::{
    CLIENT_ID, CLIENT_SECRET, DEFAULT_AUDIENCE, MockIssuer, TokenBuilder, decode_claims,
};

use std::sync::Arc;

use portcullis::AuthContext;
use portcullis::testing::{TEST_TOKEN, TestAuthentication};
use portcullis::unstable::core::context::ContextShared;
use portcullis::unstable::core::mapping::ClaimMapping;
use portcullis::{BearerToken, Principal};
use serde_json::{Map, Value};

/// Claims for a request without a token ([`RequestExt::with_jwt`]) or for a [`Principal`]
/// ([`MockJwt::principal`]). Defaults: `sub` as given, `iss` `https://issuer.test`, `exp` one
/// hour ahead.
#[derive(Debug, Clone)]
pub struct MockJwt {
    claims: Map<String, Value>,
}

impl MockJwt {
    /// Claims for `subject`.
    pub fn subject(subject: impl Into<String>) -> Self {
        let mut claims = Map::new();
        claims.insert("sub".into(), subject.into().into());
        claims.insert("iss".into(), "https://issuer.test".into());
        claims.insert("exp".into(), (portcullis::dev::unix_now() + 3600).into());
        Self { claims }
    }

    /// Sets `scope` (space-delimited, as RFC 9068 has it).
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claims.insert("scope".into(), joined.join(" ").into());
        self
    }

    /// Sets `client_id`.
    #[must_use]
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", client_id.into())
    }

    /// Sets any claim (`roles`, `groups`, `realm_access`, …); your `[portcullis.claims]`
    /// mapping turns them into authorities as it would a token's.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// The claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// A principal with these claims and the default claim mapping, for code that takes a
    /// `Principal` directly.
    pub fn principal(&self) -> Principal {
        ClaimMapping::default().principal(BearerToken::new(TEST_TOKEN), self.claims.clone())
    }
}

/// Puts claims into a request in place of a token.
pub trait RequestExt: Sized {
    /// The request carries `jwt`'s claims as if it had sent a valid token with them. Under
    /// `portcullis.layer()` they pass through your claim mapping, access rules and route
    /// requirements (a missing scope still answers 403); without the layer, the `Principal`
    /// extractor finds them too.
    #[must_use]
    fn with_jwt(self, jwt: MockJwt) -> Self;
}

impl<B> RequestExt for http::Request<B> {
    fn with_jwt(mut self, jwt: MockJwt) -> Self {
        let principal = jwt.principal();
        let extensions = self.extensions_mut();
        extensions.insert(TestAuthentication { claims: jwt.claims });
        // For routers without the layer: the extractors need a context with the principal.
        let context = AuthContext::new(ContextShared {
            renderer: Arc::new(portcullis::Rfc6750Renderer::new()),
            userinfo: None,
            telemetry: None,
            resource: None,
        });
        extensions.insert(context.with_principal(principal));
        self
    }
}

/// docs/testing.md's Rust blocks, compiled and run as doctests (they use this kit, so they run
/// in the kit's own cargo invocation; the other documents' blocks run with `portcullis-e2e`).
#[cfg(doctest)]
#[doc = include_str!("../../../docs/testing.md")]
struct TestingGuide;
