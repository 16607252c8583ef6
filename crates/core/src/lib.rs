//! # portcullis-core
//!
//! The model and the seams of Portcullis, an OAuth 2.0 / OpenID Connect resource-server framework.
//!
//! A request flows through small roles, one trait each, in the order of the file names:
//!
//! 1. [`resolve`]: find the bearer token in the request ([`TokenResolver`], RFC 6750 §2).
//! 2. [`validate`]: check the token and produce a [`Principal`] ([`TokenValidator`]).
//! 3. [`enrich`]: add to the principal, for example userinfo claims ([`Enricher`]).
//! 4. [`principal`]: the validated caller, the same shape whichever validator made it.
//! 5. [`authorize`]: check the route's requirements ([`Authorizer`], [`ScopePolicy`]).
//! 6. [`error`]: every failure is an [`AuthError`]; [`ErrorRenderer`] turns it into the RFC 6750
//!    response, in one place.
//!
//! Around them: [`discovery`] (OIDC discovery with the RFC 8414 fallback), [`http`] (the shared,
//! bounded HTTP client), [`config`] (plain serde configuration types), [`clock`] (injected time)
//! and [`single_flight`] (one fetch for many waiters).

pub mod authorize;
pub mod cache_key;
pub mod claims;
pub mod client_auth;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod enrich;
pub mod error;
pub mod explain;
pub mod http;
pub mod json;
pub mod jws;
pub mod mapping;
pub mod observe;
pub mod principal;
pub mod resolve;
pub mod resource;
pub mod rules;
pub mod scope;
pub mod secret;
pub mod single_flight;
pub mod sync;
pub mod token_cache;
pub mod validate;

pub use authorize::{Authorizer, ScopeRequirement};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::PortcullisConfig;
pub use context::{AuthContext, AuthRejection};
pub use discovery::{
    Discovery, Endpoint, EndpointSource, FirstDocument, IssuerUrl, ProviderMetadata,
};
pub use enrich::{Enricher, NoEnrichment, UserInfo, UserinfoSource};
pub use error::{AuthError, ChallengeContext, ErrorKind, ErrorRenderer, Rfc6750Renderer};
pub use principal::Principal;
pub use resolve::{HeaderTokenResolver, TokenResolver};
pub use scope::{Matching, ScopePolicy, ScopeToken, Scopes, Target};
pub use secret::{BearerToken, Secret};
pub use validate::{BoxFuture, TokenValidator};

pub mod context;
#[cfg(feature = "axum")]
mod extract;
