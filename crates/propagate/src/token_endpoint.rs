//! Calls to the token endpoint (RFC 6749 §4.4, RFC 8693), with retries for transient failures.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::client_auth::ClientAuth;
use portcullis_core::http::{FetchError, HttpClient, PostError, body_excerpt};
use portcullis_core::observe::IdpEndpoint;
use portcullis_core::{BearerToken, Clock, EndpointSource};
use serde_json::Value;

use crate::PropagationError;

/// Attempts for a transient failure (transport error, 5xx), with back-off between them.
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// A token the endpoint issued.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The access token.
    pub token: BearerToken,
    /// When it expires (Unix seconds, by the injected clock).
    pub expires_at: i64,
}

/// The token endpoint, with this service's client authentication.
pub struct TokenEndpoint {
    endpoint: EndpointSource,
    client_auth: ClientAuth,
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("endpoint", &self.endpoint)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

impl TokenEndpoint {
    /// A token endpoint client.
    pub fn new(
        endpoint: EndpointSource,
        client_auth: ClientAuth,
        http: HttpClient,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            endpoint,
            client_auth,
            http,
            clock,
        }
    }

    /// The client this service authenticates as.
    pub fn client_id(&self) -> &str {
        self.client_auth.client_id()
    }

    /// Posts a grant; retries transport errors and 5xx twice with back-off. `downstream` and
    /// `grant` name the call in errors.
    pub async fn grant(
        &self,
        form: Vec<(&'static str, String)>,
        downstream: &str,
        grant: &'static str,
    ) -> Result<IssuedToken, PropagationError> {
        let mut attempt = 0;
        loop {
            match self.once(&form, downstream, grant).await {
                Err(PropagationError::Unavailable(why)) if attempt < BACKOFF.len() => {
                    tracing::warn!(target: "portcullis", downstream, grant, "token endpoint failed ({why}); retrying");
                    tokio::time::sleep(BACKOFF[attempt]).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once(
        &self,
        form: &[(&'static str, String)],
        downstream: &str,
        grant: &'static str,
    ) -> Result<IssuedToken, PropagationError> {
        let url = self.endpoint.resolve().await.map_err(|e| {
            let detail = e.detail().unwrap_or(e.description()).to_owned();
            match e.kind() {
                portcullis_core::ErrorKind::Misconfigured => {
                    PropagationError::Misconfigured(detail)
                }
                _ => PropagationError::Unavailable(detail),
            }
        })?;
        let answer = self
            .http
            .post_form(
                IdpEndpoint::Token,
                &url,
                form.to_vec(),
                &self.client_auth,
                &*self.clock,
            )
            .await
            .map_err(|e| match e {
                PostError::Credentials(why) => PropagationError::Misconfigured(why),
                // Not transient: retrying would not help, and the answer is not followed.
                PostError::Fetch(e @ FetchError::Redirected { .. }) => {
                    PropagationError::Misconfigured(e.to_string())
                }
                PostError::Fetch(other) => PropagationError::Unavailable(other.to_string()),
            })?;
        let status = answer.status.as_u16();
        let bytes = answer.body;
        let json = answer.json;
        match (status, json) {
            (200, Some(answer)) => {
                let token = answer
                    .get("access_token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        PropagationError::Unavailable(format!(
                            "{url} answered 200 without access_token"
                        ))
                    })?;
                let lifetime = answer
                    .get("expires_in")
                    .and_then(Value::as_i64)
                    .unwrap_or(300);
                Ok(IssuedToken {
                    token: BearerToken::new(token),
                    expires_at: self.clock.unix_seconds().saturating_add(lifetime),
                })
            }
            (400..=499, Some(answer)) if answer.get("error").is_some() => {
                Err(PropagationError::Refused {
                    downstream: downstream.to_owned(),
                    grant,
                    error: answer["error"].as_str().unwrap_or("?").to_owned(),
                    description: answer
                        .get("error_description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            }
            (500..=599, _) | (200, None) => Err(PropagationError::Unavailable(format!(
                "{url} answered HTTP {status}: {}",
                body_excerpt(&bytes)
            ))),
            _ => Err(PropagationError::Refused {
                downstream: downstream.to_owned(),
                grant,
                error: format!("HTTP {status}"),
                description: Some(body_excerpt(&bytes)),
            }),
        }
    }
}
