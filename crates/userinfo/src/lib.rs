//! # portcullis-userinfo
//!
//! OIDC userinfo enrichment (OpenID Connect Core §5.3): the userinfo endpoint is called with the
//! caller's access token, its `sub` must equal the token's `sub` (§5.3.2), and the claims are
//! kept apart from the token's: they never override access-token claims and never grant scopes.
//!
//! - [`UserinfoClient`]: fetches and caches per token hash until the token expires; also the
//!   [`UserinfoSource`](portcullis_core::UserinfoSource) behind the lazy `UserInfo` extractor.
//! - [`UserinfoEnricher`]: the eager [`Enricher`](portcullis_core::Enricher)
//!   (`userinfo.enabled = true`), with a failure policy.

mod client;
mod enricher;

pub use client::UserinfoClient;
pub use enricher::UserinfoEnricher;
