//! # portcullis-introspect-remote
//!
//! Remote validation of access tokens by RFC 7662 token introspection, the same `Principal` as
//! local JWT validation.
//!
//! - The request done right: `POST`, `Content-Type: application/x-www-form-urlencoded`,
//!   `Accept: application/json`, `token` and `token_type_hint=access_token`, and client
//!   authentication by `client_secret_basic` (form-urlencoded before base64), `client_secret_post`,
//!   `none` or `private_key_jwt` ([`portcullis_core::client_auth`]).
//! - [`response`]: the answer's checks (`active`, `token_type`, `iss`, `exp`, `nbf`, `aud`), tolerant
//!   of what real IdPs send.
//! - [`validator`]: [`IntrospectionValidator`] with a bounded cache keyed by a keyed hash of the
//!   token, single-flight for concurrent first requests, and failures that are `503`, never `200`,
//!   never a `401` that makes a client discard a good token.

pub mod response;
pub mod validator;

pub use validator::{IntrospectionSettings, IntrospectionValidator};
