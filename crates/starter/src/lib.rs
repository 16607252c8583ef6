//! # Portcullis
//!
//! Make an axum service an OAuth 2.0 / OpenID Connect resource server in three steps: add this
//! crate, name the issuer in `config/default.toml`, mark routes with the scopes they need.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use portcullis::{Portcullis, Principal, require_scopes};
//!
//! async fn hello(principal: Principal) -> String {
//!     format!("Hello, {}!", principal.subject().unwrap_or("anonymous"))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // config/default.toml:  [portcullis]  issuer = "https://idp.example.com"  audience = "api://hello"
//! let portcullis = Portcullis::from_default_config().await?;
//! let app = Router::new()
//!     .route("/hello", get(hello))
//!     .route_layer(require_scopes(["hello:read"]))
//!     .layer(portcullis.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Requests without a token get `401` with `WWW-Authenticate: Bearer`; a bad token `401
//! invalid_token` with a description that says why; a token without the scope `403
//! insufficient_scope`; an unreachable issuer with nothing cached `503` with `Retry-After`.

mod authorize;
mod auto;
mod builder;
pub mod config;
#[cfg(feature = "dev-issuer")]
pub mod dev;
pub mod health;
mod layer;
pub mod metadata;
mod pipeline;
#[cfg(feature = "testing")]
pub mod testing;
mod wiring;

pub use authorize::{
    AuthorizeLayer, AuthorizeService, require_any_authority, require_any_scope,
    require_authorities, require_scopes,
};
pub use auto::AutoValidator;
pub use builder::{NO_SUBSCRIBER_NOTICE, Portcullis, PortcullisBuilder, StartupError};
pub use config::{ConfigEntry, ConfigError, ConfigErrors, ConfigLoader, LoadedConfig};
pub use health::Health;
pub use layer::{AuthLayer, AuthService};
pub use pipeline::Pipeline;

/// Whether this build contains the test kit's stand-in for token validation (the `testing`
/// feature, which `portcullis-test` turns on). `false` in every build that does not depend on
/// the kit, directly or through Cargo's feature unification: assert it in a test of the binary
/// you ship, as Portcullis's own end-to-end suite does.
pub const TEST_SUPPORT_COMPILED_IN: bool = cfg!(feature = "testing");

pub use portcullis_core as core;
pub use portcullis_core::authorize::RequireScopes;
pub use portcullis_core::config::PortcullisConfig;
pub use portcullis_core::{
    AuthError, Authorizer, BearerToken, Enricher, ErrorKind, ErrorRenderer, Principal, ScopePolicy,
    ScopeRequirement, ScopeToken, Scopes, TokenResolver, TokenValidator, UserInfo,
};
pub use portcullis_introspect_remote as introspect;
pub use portcullis_jwt_local as jwt;
pub use portcullis_macros::{requires_authorities, requires_scopes};
pub use portcullis_propagate as propagate;
pub use portcullis_userinfo as userinfo;

#[doc(hidden)]
pub mod __private {
    //! What `#[requires_scopes]` expands to; not a public API.
    pub use inventory;
    pub use portcullis_core::scope::DeclaredScopes;
}
