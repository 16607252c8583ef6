//! Route requirements: [`require_scopes`], [`require_any_scope`], or any [`Authorizer`].
//!
//! Use with `route_layer`, inside the authentication layer:
//!
//! ```no_run
//! # async fn orders() {}
//! # async fn demo(portcullis: portcullis::Portcullis) {
//! use axum::{Router, routing::get};
//! let app: Router = Router::new()
//!     .route("/orders", get(orders))
//!     .route_layer(portcullis::require_scopes(["orders:read"]))
//!     .layer(portcullis.layer());
//! # }
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use portcullis_core::context::principal_of;
use portcullis_core::{
    AuthContext, AuthError, AuthRejection, Authorizer, Matching, ScopePolicy, Target,
};
use tower_layer::Layer;
use tower_service::Service;

/// Requires every listed scope. Panics at router construction when a literal is not a valid
/// scope token (RFC 6749 §3.3), like axum does for an invalid route.
pub fn require_scopes<I, S>(scopes: I) -> AuthorizeLayer<ScopePolicy>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    match ScopePolicy::all_of(scopes) {
        Ok(policy) => {
            portcullis_core::scope::declare(&policy);
            AuthorizeLayer::new(policy)
        }
        Err(e) => panic!("require_scopes: {e}"),
    }
}

/// Requires at least one of the listed scopes. Panics like [`require_scopes`].
pub fn require_any_scope<I, S>(scopes: I) -> AuthorizeLayer<ScopePolicy>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    match ScopePolicy::any_of(scopes) {
        Ok(policy) => {
            portcullis_core::scope::declare(&policy);
            AuthorizeLayer::new(policy)
        }
        Err(e) => panic!("require_any_scope: {e}"),
    }
}

/// Requires every listed authority (role, group; see `portcullis.claims.authorities`).
/// Panics at router construction on an empty or control-character value.
pub fn require_authorities<I, S>(authorities: I) -> AuthorizeLayer<ScopePolicy>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    match ScopePolicy::new(Matching::All, Target::Authorities, authorities) {
        Ok(policy) => AuthorizeLayer::new(policy),
        Err(e) => panic!("require_authorities: {e}"),
    }
}

/// Requires at least one of the listed authorities. Panics like [`require_authorities`].
pub fn require_any_authority<I, S>(authorities: I) -> AuthorizeLayer<ScopePolicy>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    match ScopePolicy::new(Matching::Any, Target::Authorities, authorities) {
        Ok(policy) => AuthorizeLayer::new(policy),
        Err(e) => panic!("require_any_authority: {e}"),
    }
}

/// Checks an [`Authorizer`] before the handler runs.
#[derive(Debug)]
pub struct AuthorizeLayer<A> {
    authorizer: Arc<A>,
}

impl<A> Clone for AuthorizeLayer<A> {
    fn clone(&self) -> Self {
        Self {
            authorizer: self.authorizer.clone(),
        }
    }
}

impl<A: Authorizer> AuthorizeLayer<A> {
    /// A layer for any authorizer.
    pub fn new(authorizer: A) -> Self {
        Self {
            authorizer: Arc::new(authorizer),
        }
    }
}

impl<S, A> Layer<S> for AuthorizeLayer<A> {
    type Service = AuthorizeService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService {
            inner,
            authorizer: self.authorizer.clone(),
        }
    }
}

/// The service [`AuthorizeLayer`] makes.
#[derive(Debug)]
pub struct AuthorizeService<S, A> {
    inner: S,
    authorizer: Arc<A>,
}

impl<S: Clone, A> Clone for AuthorizeService<S, A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            authorizer: self.authorizer.clone(),
        }
    }
}

impl<S, A, B> Service<Request<B>> for AuthorizeService<S, A>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: Authorizer,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = crate::AuthFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let context = parts.extensions.get::<AuthContext>();
        let decision = match (principal_of(&parts.extensions), context) {
            (Some(principal), _) => self.authorizer.authorize(principal, &parts),
            (None, Some(_)) => Err(AuthError::missing_token()),
            (None, None) => {
                let response = AuthRejection::layer_missing("a route requirement (require_scopes)")
                    .into_response();
                return crate::AuthFuture::ready(Ok(response));
            }
        };
        if let Err(error) = decision {
            let response: Response<Body> =
                AuthRejection::new(error, context, &parts.uri, &parts.headers).into_response();
            return crate::AuthFuture::ready(Ok(response));
        }
        // Decided synchronously: the service that was polled ready takes the request.
        crate::AuthFuture::inner(self.inner.call(Request::from_parts(parts, body)))
    }
}
