//! [`Reason`]: why a request failed, as a stable name for metrics labels, log fields and tools.

use super::ErrorKind;

/// Why a request failed, more precisely than its [`ErrorKind`]. The names are stable (they are
/// metric label values) and few (a bounded set, never built from input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// No bearer token.
    MissingToken,
    /// Malformed or duplicate credentials in the request.
    MalformedRequest,
    /// The token is not a well-formed JWT (or not one this validator reads).
    MalformedToken,
    /// The token is longer than `token.max-size`.
    TokenTooLarge,
    /// The header names an algorithm outside the allow-list (or `none`).
    AlgorithmNotAllowed,
    /// The header's `typ` (or another header member) is not acceptable.
    BadHeader,
    /// No key of the issuer's JWKS matches the token.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is missing or names another issuer.
    WrongIssuer,
    /// `exp` is missing or past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `aud` is missing or names another audience.
    WrongAudience,
    /// A claim has the wrong type.
    BadClaim,
    /// The token is an ID token, not an access token.
    IdToken,
    /// The introspection endpoint answered `active: false`.
    Inactive,
    /// The token lacks a scope the resource needs.
    InsufficientScope,
    /// The caller lacks an authority, or the resource denies everyone.
    Forbidden,
    /// The authorization server could not be reached or answered badly.
    IdpUnavailable,
    /// The authorization server refused this service's own client credentials (introspection,
    /// userinfo): the operator's to fix; the token was never checked.
    CredentialsRefused,
    /// The server is misconfigured.
    Misconfigured,
    /// A token rejected for a reason without a name of its own (a custom validator's).
    Other,
}

impl Reason {
    /// The reason an error of `kind` has unless a step names a better one.
    pub const fn default_for(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::MissingToken => Self::MissingToken,
            ErrorKind::InvalidRequest => Self::MalformedRequest,
            ErrorKind::InvalidToken => Self::Other,
            ErrorKind::InsufficientScope => Self::InsufficientScope,
            ErrorKind::Unavailable => Self::IdpUnavailable,
            ErrorKind::Misconfigured => Self::Misconfigured,
        }
    }

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedRequest => "malformed_request",
            Self::MalformedToken => "malformed_token",
            Self::TokenTooLarge => "token_too_large",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::BadHeader => "bad_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongAudience => "wrong_audience",
            Self::BadClaim => "bad_claim",
            Self::IdToken => "id_token",
            Self::Inactive => "inactive",
            Self::InsufficientScope => "insufficient_scope",
            Self::Forbidden => "forbidden",
            Self::IdpUnavailable => "idp_unavailable",
            Self::CredentialsRefused => "credentials_refused",
            Self::Misconfigured => "misconfigured",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
