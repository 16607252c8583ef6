//! The one place where [`AuthError`] becomes an HTTP response (RFC 6750 §3).

use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};

use super::{AuthError, ErrorKind};

/// Turns an error into the response the client sees. The auto-configured one is
/// [`Rfc6750Renderer`]; supply your own to change the body, never the status mapping.
pub trait ErrorRenderer: Send + Sync + 'static {
    /// Renders the response to one request; `context` holds what the challenge must name
    /// besides the error.
    fn render(&self, error: &AuthError, context: &ChallengeContext<'_>) -> Response<Bytes>;
}

/// What a challenge names besides the error, which depends on the request it answers.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ChallengeContext<'a> {
    /// The RFC 9728 metadata URL of this resource as the client reached it
    /// (`resource_metadata`, §5.1); `None` when none is published.
    pub resource_metadata: Option<&'a str>,
}

impl<'a> ChallengeContext<'a> {
    /// A context that names nothing more.
    pub fn none() -> Self {
        Self::default()
    }

    /// Names the metadata URL.
    #[must_use]
    pub fn with_resource_metadata(mut self, url: Option<&'a str>) -> Self {
        self.resource_metadata = url;
        self
    }
}

/// RFC 6750 responses: `WWW-Authenticate: Bearer` challenge and a small JSON body.
#[derive(Debug, Clone, Default)]
pub struct Rfc6750Renderer {
    realm: Option<String>,
}

impl Rfc6750Renderer {
    /// A renderer without realm.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `realm="…"` to every challenge.
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The `WWW-Authenticate` value for the error, when the kind carries a challenge; with
    /// `resource_metadata="…"` (RFC 9728 §5.1) when the context names the metadata URL: where a
    /// client finds which authorization server and scopes this resource wants.
    pub fn challenge(
        &self,
        error: &AuthError,
        context: &ChallengeContext<'_>,
    ) -> Option<HeaderValue> {
        if !error.kind().challenges() {
            return None;
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(("realm", quoted_string_safe(realm)));
        }
        if let Some(code) = error.kind().code() {
            params.push(("error", code.to_owned()));
            params.push(("error_description", quoted_string_safe(error.description())));
        }
        if let Some(scope) = error.required_scope() {
            params.push(("scope", quoted_string_safe(scope)));
        }
        if let Some(url) = context.resource_metadata {
            params.push(("resource_metadata", quoted_string_safe(url)));
        }
        let mut value = String::from("Bearer");
        for (i, (name, v)) in params.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let _ = write!(value, "{sep}{name}=\"{v}\"");
        }
        HeaderValue::from_str(&value).ok()
    }
}

impl ErrorRenderer for Rfc6750Renderer {
    fn render(&self, error: &AuthError, context: &ChallengeContext<'_>) -> Response<Bytes> {
        let mut body = serde_json::Map::new();
        if let Some(code) = error.kind().code() {
            body.insert("error".into(), code.into());
        }
        body.insert("error_description".into(), error.description().into());
        if let Some(scope) = error.required_scope() {
            body.insert("scope".into(), scope.into());
        }
        let body = serde_json::to_vec(&body).unwrap_or_default();

        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = error.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge(error, context) {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if error.kind() == ErrorKind::Unavailable {
            let secs = error
                .retry_after()
                .unwrap_or(super::DEFAULT_RETRY_AFTER)
                .as_secs()
                .max(1);
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// RFC 6750 §3: `error_description` and `scope` use only %x20-21 / %x23-5B / %x5D-7E, so a value
/// that came from a token can never break out of the quoted string.
fn quoted_string_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn header(response: &Response<Bytes>, name: http::header::HeaderName) -> Option<String> {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn every_kind_maps_to_its_rfc6750_status_and_challenge() {
        let renderer = Rfc6750Renderer::new();
        let table: Vec<(AuthError, StatusCode, Option<&str>)> = vec![
            (
                AuthError::missing_token(),
                StatusCode::UNAUTHORIZED,
                Some("Bearer"),
            ),
            (
                AuthError::invalid_request("two tokens"),
                StatusCode::BAD_REQUEST,
                Some(r#"Bearer error="invalid_request", error_description="two tokens""#),
            ),
            (
                AuthError::invalid_token("expired"),
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer error="invalid_token", error_description="expired""#),
            ),
            (
                AuthError::insufficient_scope("a b", "needs a and b"),
                StatusCode::FORBIDDEN,
                Some(
                    r#"Bearer error="insufficient_scope", error_description="needs a and b", scope="a b""#,
                ),
            ),
            (
                AuthError::unavailable("jwks down"),
                StatusCode::SERVICE_UNAVAILABLE,
                None,
            ),
            (
                AuthError::misconfigured("bad key"),
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
            ),
        ];
        for (error, status, challenge) in table {
            let response = renderer.render(&error, &ChallengeContext::none());
            assert_eq!(response.status(), status, "{error:?}");
            assert_eq!(
                header(&response, WWW_AUTHENTICATE).as_deref(),
                challenge,
                "{error:?}"
            );
            assert_eq!(
                header(&response, CONTENT_TYPE).as_deref(),
                Some("application/json")
            );
        }
    }

    #[test]
    fn missing_token_challenge_is_bare_but_may_carry_a_realm() {
        let renderer = Rfc6750Renderer::new().with_realm("orders");
        let response = renderer.render(&AuthError::missing_token(), &ChallengeContext::none());
        assert_eq!(
            header(&response, WWW_AUTHENTICATE).as_deref(),
            Some(r#"Bearer realm="orders""#)
        );
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert!(
            body.get("error").is_none(),
            "RFC 6750 §3.1: no error code without credentials"
        );
    }

    #[test]
    fn unavailable_carries_retry_after_and_hides_the_detail() {
        let response = Rfc6750Renderer::new().render(
            &AuthError::unavailable("connect to http://idp refused"),
            &ChallengeContext::none(),
        );
        assert_eq!(header(&response, RETRY_AFTER).as_deref(), Some("5"));
        let body = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!body.contains("idp"), "{body}");
        assert!(body.contains("temporarily_unavailable"));
    }

    #[test]
    fn the_metadata_url_comes_last_in_every_challenge_and_nowhere_else() {
        let url = "http://127.0.0.1:3000/.well-known/oauth-protected-resource";
        let context = ChallengeContext::none().with_resource_metadata(Some(url));
        let renderer = Rfc6750Renderer::new().with_realm("orders");
        let challenge =
            |error: &AuthError| header(&renderer.render(error, &context), WWW_AUTHENTICATE);
        assert_eq!(
            challenge(&AuthError::missing_token()).as_deref(),
            Some(format!(r#"Bearer realm="orders", resource_metadata="{url}""#).as_str())
        );
        assert_eq!(
            challenge(&AuthError::insufficient_scope("a", "needs a")).as_deref(),
            Some(
                format!(
                    r#"Bearer realm="orders", error="insufficient_scope", error_description="needs a", scope="a", resource_metadata="{url}""#
                )
                .as_str()
            )
        );
        assert_eq!(challenge(&AuthError::unavailable("down")), None);
        let body = renderer.render(&AuthError::missing_token(), &context);
        assert!(!String::from_utf8_lossy(body.body()).contains("resource_metadata"));
    }

    #[test]
    fn descriptions_cannot_break_out_of_the_quoted_string() {
        let error = AuthError::invalid_token("kid \"x\\\" , error=\"none\u{0}é");
        let challenge = Rfc6750Renderer::new()
            .challenge(&error, &ChallengeContext::none())
            .unwrap();
        let text = challenge.to_str().unwrap();
        assert_eq!(text.matches('"').count(), 4, "{text}");
        assert!(!text.contains('\\'));
    }
}
