//! # portcullis-jwt-local
//!
//! Local validation of JWT access tokens: OIDC discovery → JWKS → signature → claims.
//!
//! - [`jwks`]: parses a JWK Set into verification keys, skipping unusable keys one by one.
//! - [`store`]: fetches and caches the keys; refetches on an unknown `kid` with single-flight
//!   and a cooldown; keeps the last good keys when a refresh fails; never holds a lock across I/O.
//! - [`header`] and [`claims`]: the JOSE header and claim checks, as one linear list each, with
//!   a description a client developer can act on (RFC 8725, RFC 9068).
//! - [`validator`]: [`JwtValidator`], the [`TokenValidator`](portcullis_core::TokenValidator).
//!
//! Signatures use jsonwebtoken with the `aws_lc_rs` backend only.

pub mod claims;
pub mod header;
pub mod jwks;
pub mod settings;
pub mod store;
pub mod validator;

pub use settings::JwtSettings;
pub use store::JwksStore;
pub use validator::JwtValidator;
