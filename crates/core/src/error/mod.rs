//! Request errors and their one mapping to RFC 6750.
//!
//! Every failure on the request path is an [`AuthError`] with an [`ErrorKind`]. The kind alone
//! decides the HTTP status and the `WWW-Authenticate` challenge ([`ErrorKind::status`],
//! [`ErrorKind::code`]); [`Rfc6750Renderer`] builds the response. The client sees `description`; logs also
//! see `detail`, which may name internals (URLs, settings) that clients must not.

mod reason;
mod render;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

pub use reason::Reason;
pub use render::{ChallengeContext, ErrorRenderer, Rfc6750Renderer};

/// The RFC 6750 §3.1 error codes, and the one this crate adds for 503.
pub mod codes {
    /// The request is malformed: duplicate or unparsable credentials.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// The token is expired, revoked, malformed, or invalid for other reasons.
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// The token lacks the scope the resource needs.
    pub const INSUFFICIENT_SCOPE: &str = "insufficient_scope";
    /// The token could not be checked now (RFC 6749 §4.1.2.1 vocabulary); not a challenge code.
    pub const TEMPORARILY_UNAVAILABLE: &str = "temporarily_unavailable";
    /// The server is misconfigured; not a challenge code.
    pub const SERVER_ERROR: &str = "server_error";
}

/// What went wrong, as far as the HTTP answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No credentials at all: 401 with a bare `Bearer` challenge (RFC 6750 §3.1).
    MissingToken,
    /// Malformed or duplicate credentials: 400 `invalid_request`.
    InvalidRequest,
    /// The token is not acceptable: 401 `invalid_token`.
    InvalidToken,
    /// The token is valid but lacks scope: 403 `insufficient_scope`.
    InsufficientScope,
    /// The token could not be checked (issuer unreachable, nothing cached decides): 503.
    Unavailable,
    /// The server is misconfigured: 500. Never caused by the client.
    Misconfigured,
}

impl ErrorKind {
    /// The HTTP status for this kind.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error code for the body and, where one belongs, the challenge.
    pub const fn code(self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest => Some(codes::INVALID_REQUEST),
            Self::InvalidToken => Some(codes::INVALID_TOKEN),
            Self::InsufficientScope => Some(codes::INSUFFICIENT_SCOPE),
            Self::Unavailable => Some(codes::TEMPORARILY_UNAVAILABLE),
            Self::Misconfigured => Some(codes::SERVER_ERROR),
        }
    }

    /// Whether the response carries a `WWW-Authenticate: Bearer` challenge.
    pub const fn challenges(self) -> bool {
        matches!(
            self,
            Self::MissingToken
                | Self::InvalidRequest
                | Self::InvalidToken
                | Self::InsufficientScope
        )
    }
}

/// Default `Retry-After` for [`ErrorKind::Unavailable`].
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A request-path failure: the kind decides the status; the description tells the client why;
/// the detail tells the operator.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: ErrorKind,
    reason: Reason,
    description: Cow<'static, str>,
    detail: Option<String>,
    scope: Option<String>,
    retry_after: Option<Duration>,
}

impl AuthError {
    fn new(kind: ErrorKind, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            reason: Reason::default_for(kind),
            description: description.into(),
            detail: None,
            scope: None,
            retry_after: None,
        }
    }

    /// No bearer token in the request.
    pub fn missing_token() -> Self {
        Self::new(
            ErrorKind::MissingToken,
            "this resource needs a bearer access token",
        )
    }

    /// Malformed or duplicate credentials.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, description)
    }

    /// The token is not acceptable; `description` says why, in words a client developer acts on.
    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidToken, description)
    }

    /// The token lacks scope. `scope` is what the resource needs (space-delimited).
    pub fn insufficient_scope(
        scope: impl Into<String>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::forbidden(Some(scope.into()), description)
    }

    /// 403: the caller lacks what the resource needs. `scope` is set when the need is scopes
    /// (it becomes the challenge's `scope` attribute); authority requirements leave it out.
    pub fn forbidden(scope: Option<String>, description: impl Into<Cow<'static, str>>) -> Self {
        let mut error = Self::new(ErrorKind::InsufficientScope, description);
        if scope.is_none() {
            error.reason = Reason::Forbidden;
        }
        error.scope = scope;
        error
    }

    /// The token could not be checked now. `detail` (logged, not sent) names the cause.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            ErrorKind::Unavailable,
            "the token cannot be checked right now because the authorization server is unreachable; retry later",
        );
        error.detail = Some(detail.into());
        error.retry_after = Some(DEFAULT_RETRY_AFTER);
        error
    }

    /// The authorization server refused this service's own client credentials, so the token
    /// could not be checked: 503 with `Retry-After` (the client's token is not at fault), reason
    /// `credentials_refused`. `detail` (logged, not sent) names the settings to fix.
    pub fn credentials_refused(detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            ErrorKind::Unavailable,
            "the token cannot be checked right now because the authorization server refused this service's own credentials (not the token's fault); retry later",
        );
        error.detail = Some(detail.into());
        error.retry_after = Some(DEFAULT_RETRY_AFTER);
        error.with_reason(Reason::CredentialsRefused)
    }

    /// The server is misconfigured. `detail` (logged, not sent) names the setting.
    pub fn misconfigured(detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            ErrorKind::Misconfigured,
            "the server's authentication is misconfigured",
        );
        error.detail = Some(detail.into());
        error
    }

    /// Adds a detail for the log (never sent to the client).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Names the precise reason (for metrics, logs and `portcullis inspect`); the kind and the
    /// response stay as they are.
    #[must_use]
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = reason;
        self
    }

    /// Sets `Retry-After` (for [`ErrorKind::Unavailable`]).
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The precise reason: a stable, low-cardinality name such as `expired` or `wrong_audience`.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        self.kind.status()
    }

    /// The client-facing description (`error_description`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The operator-facing detail, when there is more to say than the description.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The scope the resource needs (for `insufficient_scope`).
    pub fn required_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// How long the client should wait before retrying (for 503).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("AuthError");
        s.field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("description", &self.description);
        if let Some(detail) = &self.detail {
            s.field("detail", detail);
        }
        if let Some(scope) = &self.scope {
            s.field("scope", scope);
        }
        s.finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind.code(), &self.detail) {
            (Some(code), Some(detail)) => write!(f, "{code}: {} ({detail})", self.description),
            (Some(code), None) => write!(f, "{code}: {}", self.description),
            (None, _) => f.write_str(&self.description),
        }
    }
}

impl std::error::Error for AuthError {}
