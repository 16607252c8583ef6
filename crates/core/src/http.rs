//! The shared HTTP client: timeouts, no redirects, bounded bodies, `Cache-Control` parsing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::observe::{IdpEndpoint, Telemetry};

/// Connection and size limits for calls to the authorization server.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for the whole exchange.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_response_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// Why a call to the authorization server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No connection (refused, DNS, TLS).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL called.
        url: String,
        /// The transport's reason.
        reason: String,
    },
    /// No answer in time.
    #[error("{url} did not answer within {timeout:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The limit that ran out.
        timeout: Duration,
    },
    /// An answer with a non-success status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body, for diagnosis.
        body: String,
    },
    /// A body larger than allowed.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL called.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A redirect (`3xx`): never followed, since a credential (client secret, token) would go
    /// with it.
    #[error(
        "{url} answered HTTP {status} redirecting to {location:?}; Portcullis follows no redirect (a credential would go with it): configure the final URL"
    )]
    Redirected {
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
        /// The `Location` header, as sent.
        location: String,
    },
    /// A body that is not the JSON expected.
    #[error("{url} sent a body that is not the expected JSON: {reason}")]
    InvalidJson {
        /// The URL called.
        url: String,
        /// The parser's reason.
        reason: String,
    },
}

/// A parsed answer and how long it may be cached (`Cache-Control: max-age`).
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// The parsed body.
    pub value: T,
    /// `max-age`, when the server gave one; zero for `no-store`/`no-cache`.
    pub max_age: Option<Duration>,
}

/// A whole answer: status, headers and the (bounded) body.
#[derive(Debug)]
pub struct Exchanged {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// The answer to an authenticated form POST ([`HttpClient::post_form`]).
#[derive(Debug)]
pub struct FormAnswer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
    /// The body as strict JSON (duplicate members and deep nesting refused, see
    /// [`crate::json`]); `None` when it is not JSON.
    pub json: Option<serde_json::Value>,
}

/// Why an authenticated form POST got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The client credentials could not be made (a `private_key_jwt` assertion that could not
    /// be signed): the configuration's to fix.
    #[error("{0}")]
    Credentials(String),
    /// The call failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// The HTTP client every Portcullis component shares. Every call is timed, classified and
/// recorded in the shared [`Telemetry`].
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    telemetry: Arc<Telemetry>,
}

impl HttpClient {
    /// Builds a client. Redirects are not followed: metadata, keys and introspection answers come
    /// from the URLs configured or discovered, not from wherever a response points, and a
    /// credential (client secret, client assertion, the caller's token) never goes with one. A
    /// `3xx` answer is [`FetchError::Redirected`].
    pub fn new(settings: HttpSettings) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            settings,
            telemetry: Arc::new(Telemetry::new()),
        })
    }

    /// The telemetry every component sharing this client reports to.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Sends `request` to `endpoint`, reads the whole (bounded) body and records the call: its
    /// latency, and a failure for a transport error or a non-success status. The answer comes back
    /// whatever its status, for the caller to interpret.
    pub async fn exchange(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Exchanged, FetchError> {
        let started = Instant::now();
        let span = tracing::debug_span!(target: "portcullis", "portcullis.idp", endpoint = endpoint.as_str(), url);
        let result = async {
            let response = request
                .send()
                .await
                .map_err(|e| self.transport_error(url, &e))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .map(|v| body_excerpt(v.as_bytes()))
                    .unwrap_or_default();
                return Err(FetchError::Redirected {
                    url: url.to_owned(),
                    status: status.as_u16(),
                    location,
                });
            }
            let headers = response.headers().clone();
            let body = self.read_body(url, response).await?;
            Ok::<_, FetchError>(Exchanged {
                status,
                headers,
                body,
            })
        }
        .instrument(span)
        .await;
        let outcome = match &result {
            // A 400 can be a normal answer about the token (RFC 7662 `invalid_token`): the caller
            // reports it as a failure when it is one.
            Ok(answer)
                if answer.status.is_success() || answer.status == StatusCode::BAD_REQUEST =>
            {
                Ok(())
            }
            Ok(answer) => Err(FetchError::Status {
                url: url.to_owned(),
                status: answer.status.as_u16(),
                body: body_excerpt(&answer.body),
            }),
            Err(e) => Err(e.clone()),
        };
        self.telemetry
            .idp_call(endpoint, started.elapsed(), outcome.as_ref().map(|_| ()));
        result
    }

    /// POSTs `form` to `url` as `application/x-www-form-urlencoded` with `Accept:
    /// application/json` (what every OAuth endpoint takes; Okta answers E0000021 otherwise),
    /// authenticated as `client` (a fresh assertion per call for `private_key_jwt`, addressed to
    /// the issuer or to `url`), and reads the answer whatever its status. The one way Portcullis
    /// calls the token and introspection endpoints.
    pub async fn post_form(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
        mut form: Vec<(&'static str, String)>,
        client: &crate::client_auth::ClientAuth,
        clock: &dyn crate::clock::Clock,
    ) -> Result<FormAnswer, PostError> {
        let credentials = client
            .credentials(url, clock)
            .map_err(PostError::Credentials)?;
        form.extend(credentials.form);
        let mut request = self
            .client
            .post(url)
            .header(http::header::ACCEPT, "application/json")
            .form(&form);
        if let Some(authorization) = credentials.authorization {
            request = request.header(http::header::AUTHORIZATION, authorization);
        }
        let answer = self.exchange(endpoint, url, request).await?;
        let json = crate::json::from_slice(&answer.body).ok();
        Ok(FormAnswer {
            status: answer.status,
            body: answer.body,
            json,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The underlying client, for crates of this workspace that send other requests (POST).
    #[doc(hidden)]
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// GETs `url` (with `Accept: application/json`) and parses the body.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
    ) -> Result<Fetched<T>, FetchError> {
        let request = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json");
        let answer = self.exchange(endpoint, url, request).await?;
        let max_age = answer
            .headers
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        if !answer.status.is_success() {
            let error = FetchError::Status {
                url: url.to_owned(),
                status: answer.status.as_u16(),
                body: body_excerpt(&answer.body),
            };
            if answer.status == StatusCode::BAD_REQUEST {
                self.telemetry
                    .answer_refused(endpoint, "status_4xx", error.to_string());
            }
            return Err(error);
        }
        let value = serde_json::from_slice(&answer.body).map_err(|e| {
            let error = FetchError::InvalidJson {
                url: url.to_owned(),
                reason: e.to_string(),
            };
            self.telemetry
                .answer_refused(endpoint, "invalid_json", error.to_string());
            error
        })?;
        Ok(Fetched { value, max_age })
    }

    /// Reads a body, refusing more than the configured limit.
    pub async fn read_body(
        &self,
        url: &str,
        mut response: reqwest::Response,
    ) -> Result<Bytes, FetchError> {
        let limit = self.settings.max_response_bytes;
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, &e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Classifies a transport error.
    pub fn transport_error(&self, url: &str, error: &reqwest::Error) -> FetchError {
        if error.is_timeout() {
            FetchError::Timeout {
                url: url.to_owned(),
                timeout: self.settings.timeout,
            }
        } else {
            let mut reason = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                reason.push_str(": ");
                reason.push_str(&inner.to_string());
                source = inner.source();
            }
            FetchError::Connect {
                url: url.to_owned(),
                reason,
            }
        }
    }
}

/// The first 200 characters of a body, printable, for error messages.
pub fn body_excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `max-age` from a `Cache-Control` value; `no-store`/`no-cache` count as zero.
pub fn parse_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            max_age = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_parsed() {
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_max_age("max-age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=banana"), None);
    }
}
