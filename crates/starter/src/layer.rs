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
use portcullis_core::BoxFuture;
use portcullis_core::rules::{Access, RuleSet};
use tower_layer::Layer;
use tower_service::Service;

use crate::pipeline::Pipeline;

/// Authenticates every request of the service it wraps.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    pipeline: Arc<Pipeline>,
    rules: Arc<RuleSet>,
}

impl AuthLayer {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Self {
        let rules = pipeline.rules().clone();
        Self { pipeline, rules }
    }

    /// Lets requests that no `[[portcullis.rules]]` entry matches through without a token, and
    /// without a principal: handlers then take `Option<Principal>`, and `Principal` answers 401.
    /// A bad token is still refused. (Overrides `portcullis.default-rule`.)
    #[must_use]
    pub fn allow_anonymous(mut self) -> Self {
        self.rules = Arc::new((*self.rules).clone().with_default(Access::PermitAll));
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            pipeline: self.pipeline.clone(),
            rules: self.rules.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    pipeline: Arc<Pipeline>,
    rules: Arc<RuleSet>,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready handles this request (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if let Some(metadata) = self.pipeline.resource_metadata()
            && metadata.is_request_for(request.method(), request.uri().path())
        {
            let response = metadata.response().map(Body::from);
            return Box::pin(async move { Ok(response) });
        }
        let pipeline = self.pipeline.clone();
        let rules = self.rules.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match pipeline.admit(&parts, &rules).await {
                Ok(Some(principal)) => {
                    parts.extensions.insert(principal);
                }
                Ok(None) => {}
                Err(error) => {
                    return Ok(pipeline.renderer().render(&error).map(Body::from));
                }
            }
            parts.extensions.insert(pipeline.context());
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
