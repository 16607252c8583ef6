//! # portcullis-propagate
//!
//! How service A tells service B who is calling: with an **access token** B accepts, never an ID
//! token. Per downstream (`[[portcullis.downstream]]`, matched by base URL):
//!
//! - `relay`: the caller's access token, unchanged (B accepts A's audience);
//! - `exchange`: the caller's token exchanged (RFC 8693) for one addressed to B, cached per
//!   (token hash, audience) until it expires;
//! - `client-credentials`: A's own token, for calls not made on behalf of a user, cached until
//!   shortly before it expires and refreshed once under concurrency.
//!
//! A URL that matches no configured downstream gets no token: that is an error, never a silent
//! forward, so a token cannot leak to a third party. The caller's [`Principal`] is passed
//! explicitly (it survives `tokio::spawn`; no thread-locals): to [`Propagator::bearer_for`], or as
//! a request extension with the [`PropagationMiddleware`] for reqwest-middleware.
//!
//! No credential follows a redirect: [`outbound_client`] follows none (a `3xx` goes back to the
//! caller's code), and the token endpoint, like every IdP call, uses the shared client that
//! follows none either.
//!
//! [`Principal`]: portcullis_core::Principal

mod error;
mod middleware;
mod propagator;
mod token_endpoint;

pub use error::PropagationError;
pub use middleware::{PropagationMiddleware, outbound_client};
pub use propagator::{Downstream, Propagator};
/// The HTTP client stack the middleware plugs into.
pub use reqwest_middleware;
pub use token_endpoint::{IssuedToken, TokenEndpoint};
