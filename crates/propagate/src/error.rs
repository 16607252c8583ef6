//! [`PropagationError`].

/// Why no token could be attached to an outbound call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropagationError {
    /// The URL is under no configured downstream: no token is sent to unknown parties.
    #[error(
        "{url} is not under any [[portcullis.downstream]] base-url; no token is sent to an unconfigured service"
    )]
    UnknownDownstream {
        /// The URL called.
        url: String,
    },
    /// `relay` and `exchange` act for a caller, and none was given.
    #[error(
        "downstream {downstream:?} ({strategy}) acts for the caller, but no principal was passed with the request"
    )]
    NoPrincipal {
        /// The downstream's name.
        downstream: String,
        /// Its strategy.
        strategy: &'static str,
    },
    /// The token endpoint refused (an OAuth error response).
    #[error("the token endpoint refused the {grant} request for downstream {downstream:?}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The downstream's name.
        downstream: String,
        /// Grant type.
        grant: &'static str,
        /// OAuth `error`.
        error: String,
        /// OAuth `error_description`.
        description: Option<String>,
    },
    /// The token endpoint could not be reached or answered garbage (after retries).
    #[error("the token endpoint is unavailable: {0}")]
    Unavailable(String),
    /// Configuration is wrong (no token endpoint, no client).
    #[error("propagation is misconfigured: {0}")]
    Misconfigured(String),
    /// The HTTP client under the middleware followed a redirect, so the token may have gone on
    /// to the new URL: the response is withheld. Build the client with
    /// [`crate::outbound_client`], which follows none.
    #[error(
        "the request to {url} with a Portcullis token was redirected to {to} by an HTTP client that follows redirects; the response is withheld: build the client with portcullis_propagate::outbound_client (or redirect::Policy::none())"
    )]
    RedirectFollowed {
        /// The URL the token was meant for.
        url: String,
        /// Where the client ended up.
        to: String,
    },
}
