//! The authentication middleware: [`AuthLayer`], [`AuthService`].
//!
//! The layer answers `GET /.well-known/oauth-protected-resource` (RFC 9728) itself, without a
//! token. For every other request: find what the access rules ask of it (`[[portcullis.rules]]`, else
//! `default-rule`), resolve the token, validate it, enrich the principal, check the rule, and put
//! the principal into the request extensions for the `Principal` extractor and the route
//! requirements. A bad token is always refused here; a missing token only where the rule permits
//! all.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use portcullis_core::AuthContext;
use portcullis_core::rules::{Access, RuleSet};
use tower_layer::Layer;
use tower_service::Service;

use crate::pipeline::Pipeline;

/// Authenticates every request of the service it wraps.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

/// What every clone of the service shares (axum clones the service per request: one `Arc`).
#[derive(Debug)]
struct Shared {
    pipeline: Arc<Pipeline>,
    rules: Arc<RuleSet>,
    context: AuthContext,
}

impl AuthLayer {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Self {
        let rules = pipeline.rules().clone();
        Self::with(pipeline, rules)
    }

    fn with(pipeline: Arc<Pipeline>, rules: Arc<RuleSet>) -> Self {
        let context = pipeline.context();
        Self {
            shared: Arc::new(Shared {
                pipeline,
                rules,
                context,
            }),
        }
    }

    /// Lets requests that no `[[portcullis.rules]]` entry matches through without a token, and
    /// without a principal: handlers then take `Option<Principal>`, and `Principal` answers 401.
    /// A bad token is still refused. (Overrides `portcullis.default-rule`.)
    #[must_use]
    pub fn allow_anonymous(self) -> Self {
        let rules = Arc::new((*self.shared.rules).clone().with_default(Access::PermitAll));
        Self::with(self.shared.pipeline.clone(), rules)
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

pub use crate::future::AuthFuture;

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AuthFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let shared = &self.shared;
        if let Some(metadata) = shared.pipeline.resource_metadata()
            && metadata.is_request_for(request.method(), request.uri().path())
            && let Some(response) = metadata.response(request.uri(), request.headers())
        {
            let response = response.map(Body::from);
            return AuthFuture::ready(Ok(response));
        }
        if let Some(principal) = shared.pipeline.admit_verified(&request, &shared.rules) {
            request
                .extensions_mut()
                .insert(shared.context.with_principal(principal));
            // Decided synchronously: the service that was polled ready takes the request now.
            return AuthFuture::inner(self.inner.call(request));
        }
        let (mut parts, body) = request.into_parts();
        // The clone that was polled ready handles this request (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = shared.clone();
        AuthFuture::boxed(Box::pin(async move {
            let context = match shared.pipeline.admit(&parts, &shared.rules).await {
                Ok(Some(principal)) => shared.context.with_principal(principal),
                Ok(None) => shared.context.clone(),
                Err(error) => {
                    let response = shared.pipeline.render(&error, &parts.uri, &parts.headers);
                    return Ok(response.map(Body::from));
                }
            };
            parts.extensions.insert(context);
            inner.call(Request::from_parts(parts, body)).await
        }))
    }
}
