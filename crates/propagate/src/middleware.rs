//! [`PropagationMiddleware`]: reqwest-middleware integration, and [`outbound_client`], the
//! client it must run on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::Extensions;
use http::header::{AUTHORIZATION, HeaderValue, LOCATION};
use portcullis_core::Principal;
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};

use crate::{PropagationError, Propagator};

/// The HTTP client for calls to downstreams: the [`PropagationMiddleware`] on a reqwest client
/// that **follows no redirect**. A token is attached only for a URL under a configured
/// downstream, and a redirect answer (`3xx`) comes back to your code as it is: Portcullis never
/// sends a token to wherever a response points, not even to another path of the same host. Call
/// the `Location` again through this client if you trust it; the downstream check then applies
/// to the new URL.
///
/// ```no_run
/// # async fn demo(propagator: std::sync::Arc<portcullis_propagate::Propagator>, principal: portcullis_core::Principal) -> Result<(), Box<dyn std::error::Error>> {
/// let client = portcullis_propagate::outbound_client(propagator)?;
/// let stock = client.get("http://inventory.internal/items/7").with_extension(principal).send().await?;
/// # Ok(()) }
/// ```
pub fn outbound_client(
    propagator: Arc<Propagator>,
) -> Result<ClientWithMiddleware, PropagationError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            PropagationError::Misconfigured(format!("cannot build the outbound HTTP client: {e}"))
        })?;
    Ok(reqwest_middleware::ClientBuilder::new(client)
        .with(PropagationMiddleware::new(propagator))
        .build())
}

/// Attaches the token each downstream needs. Pass the caller explicitly with
/// `.with_extension(principal.clone())`; calls without one work only for `client-credentials`
/// downstreams. A URL under no configured downstream fails before anything is sent.
///
/// Use it through [`outbound_client`]: on a reqwest client that follows redirects, a redirect
/// would carry the token on (reqwest strips `Authorization` only when the host changes). If it
/// finds that the client followed one, the middleware answers with
/// [`PropagationError::RedirectFollowed`] instead of the response, and logs an error.
#[derive(Debug, Clone)]
pub struct PropagationMiddleware {
    propagator: Arc<Propagator>,
    /// Per downstream: whether a redirect answer was logged already (once, at `warn`).
    redirect_logged: Arc<[AtomicBool]>,
}

impl PropagationMiddleware {
    /// A middleware using `propagator`.
    pub fn new(propagator: Arc<Propagator>) -> Self {
        let redirect_logged = propagator
            .downstreams()
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Self {
            propagator,
            redirect_logged,
        }
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
        let sent = request.url().clone();
        let response = next.run(request, extensions).await?;
        if response.url() != &sent {
            let error = PropagationError::RedirectFollowed {
                url: sent.to_string(),
                to: response.url().to_string(),
            };
            tracing::error!(target: "portcullis", "{error}");
            return Err(reqwest_middleware::Error::middleware(error));
        }
        if response.status().is_redirection() {
            self.log_redirect(&sent, &response);
        }
        Ok(response)
    }
}

impl PropagationMiddleware {
    /// Logs a redirect answer once per downstream (at `warn`, with the target host), then at
    /// `debug`: the answer goes back to the caller's code, not followed.
    fn log_redirect(&self, sent: &url::Url, response: &reqwest::Response) {
        let Ok((index, downstream)) = self.propagator.downstream_for(sent.as_str()) else {
            return;
        };
        let target = response
            .headers()
            .get(LOCATION)
            .and_then(|location| location.to_str().ok())
            .and_then(|location| sent.join(location).ok());
        let host = target
            .as_ref()
            .and_then(|url| url.host_str())
            .unwrap_or("(no valid Location)");
        let first = self
            .redirect_logged
            .get(index)
            .is_some_and(|logged| !logged.swap(true, Ordering::Relaxed));
        if first {
            tracing::warn!(target: "portcullis", downstream = %downstream.name, status = response.status().as_u16(), location_host = host, "a downstream answered with a redirect; Portcullis does not follow redirects with a token, so the answer goes back to the caller (logged once per downstream)");
        } else {
            tracing::debug!(target: "portcullis", downstream = %downstream.name, status = response.status().as_u16(), location_host = host, "redirect answer returned to the caller, not followed");
        }
    }
}
