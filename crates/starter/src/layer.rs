//! The authentication middleware: [`AuthLayer`], [`AuthService`].
//!
//! For every request: resolve the token, validate it, enrich the principal, and put it into the
//! request extensions for the `Principal` extractor and the authorization layers. A bad token is
//! always refused here; a missing token is refused unless the layer allows anonymous requests.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use portcullis_core::context::log_error;
use portcullis_core::{AuthError, BoxFuture};
use tower_layer::Layer;
use tower_service::Service;

use crate::pipeline::Pipeline;

/// Authenticates every request of the service it wraps.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    pipeline: Arc<Pipeline>,
    allow_anonymous: bool,
}

impl AuthLayer {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Self {
        Self {
            pipeline,
            allow_anonymous: false,
        }
    }

    /// Lets requests without a token through, without a principal: handlers then take
    /// `Option<Principal>`, and `Principal` answers 401. A bad token is still refused.
    #[must_use]
    pub fn allow_anonymous(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            pipeline: self.pipeline.clone(),
            allow_anonymous: self.allow_anonymous,
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    pipeline: Arc<Pipeline>,
    allow_anonymous: bool,
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
        let pipeline = self.pipeline.clone();
        let allow_anonymous = self.allow_anonymous;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let outcome = pipeline.authenticate(&parts).await;
            let error = match outcome {
                Ok(Some(principal)) => {
                    parts.extensions.insert(principal);
                    None
                }
                Ok(None) if allow_anonymous => None,
                Ok(None) => Some(AuthError::missing_token()),
                Err(error) => Some(error),
            };
            if let Some(error) = error {
                log_error(&error);
                return Ok(pipeline.renderer().render(&error).map(Body::from));
            }
            parts.extensions.insert(pipeline.context());
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
