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
mod future;
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
pub use layer::{AuthFuture, AuthLayer, AuthService};
pub use pipeline::Pipeline;

/// Whether this build contains the test kit's stand-in for token validation (the `testing`
/// feature, which `portcullis-test` turns on). `false` in every build that does not depend on
/// the kit, directly or through Cargo's feature unification: assert it in a test of the binary
/// you ship, as Portcullis's own end-to-end suite does.
pub const TEST_SUPPORT_COMPILED_IN: bool = cfg!(feature = "testing");

pub use portcullis_core::authorize::RequireScopes;
pub use portcullis_core::config::PortcullisConfig;
pub use portcullis_core::{
    AuthContext, AuthError, Authorizer, BearerToken, BoxFuture, ChallengeContext, Clock, Enricher,
    ErrorKind, ErrorRenderer, HeaderTokenResolver, ManualClock, Matching, Principal,
    Rfc6750Renderer, ScopePolicy, ScopeRequirement, ScopeToken, Scopes, Secret, SystemClock,
    Target, TokenResolver, TokenValidator, UserInfo, UserinfoSource,
};
pub use portcullis_macros::{requires_authorities, requires_scopes};

/// Errors: the one [`AuthError`] type, its kinds and precise reasons (a closed set, safe as
/// metric labels), and its one rendering as an RFC 6750 response.
pub mod error {
    pub use portcullis_core::error::{
        AuthError, ChallengeContext, ErrorKind, ErrorRenderer, Reason, Rfc6750Renderer, codes,
    };
}

/// Metrics and health: the names of the metrics Portcullis records (through the `metrics`
/// facade) and the telemetry the health report reads.
pub mod observe {
    pub use portcullis_core::observe::{Telemetry, names};
}

/// Identity propagation to downstream services: `[[portcullis.downstream]]`, the outbound
/// client, and the reqwest-middleware it plugs into.
pub mod propagate {
    pub use portcullis_propagate::{
        Downstream, PropagationError, PropagationMiddleware, Propagator, outbound_client,
        reqwest_middleware,
    };
}

/// The building blocks below the starter, for the test kit, the CLI, benchmarks and the
/// project's own tests. **Not covered by semantic versioning**: anything here may change in
/// any release. Applications use the items at the crate root and in the modules above.
#[doc(hidden)]
pub mod unstable {
    pub use portcullis_core as core;
    pub use portcullis_introspect_remote as introspect;
    pub use portcullis_jwt_local as jwt;
    pub use portcullis_propagate as propagate;
    pub use portcullis_userinfo as userinfo;
}

#[doc(hidden)]
pub mod __private {
    //! What `#[requires_scopes]` expands to; not a public API.
    pub use inventory;
    pub use portcullis_core::scope::DeclaredScopes;
}
