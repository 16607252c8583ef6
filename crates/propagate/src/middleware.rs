//! [`PropagationMiddleware`]: reqwest-middleware integration.

use std::sync::Arc;

use http::Extensions;
use http::header::{AUTHORIZATION, HeaderValue};
use portcullis_core::Principal;
use reqwest_middleware::{Middleware, Next};

use crate::{PropagationError, Propagator};

/// Attaches the token each downstream needs. Pass the caller explicitly with
/// `.with_extension(principal.clone())`; calls without one work only for `client-credentials`
/// downstreams. A URL under no configured downstream fails before anything is sent.
///
/// ```no_run
/// # async fn demo(propagator: std::sync::Arc<portcullis_propagate::Propagator>, principal: portcullis_core::Principal) -> Result<(), reqwest_middleware::Error> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(portcullis_propagate::PropagationMiddleware::new(propagator))
///     .build();
/// let stock = client.get("http://inventory.internal/items/7").with_extension(principal).send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PropagationMiddleware {
    propagator: Arc<Propagator>,
}

impl PropagationMiddleware {
    /// A middleware using `propagator`.
    pub fn new(propagator: Arc<Propagator>) -> Self {
        Self { propagator }
    }
}

#[async_trait::async_trait]
impl Middleware for PropagationMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let principal = extensions.get::<Principal>();
        let token = self
            .propagator
            .bearer_for(principal, request.url().as_str())
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                reqwest_middleware::Error::middleware(PropagationError::Misconfigured(
                    "the token is not a valid header value".into(),
                ))
            })?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        next.run(request, extensions).await
    }
}
