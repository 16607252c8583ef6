//! Test support (the `testing` feature, which `portcullis-test` turns on): a request may carry
//! claims that stand in for a validated token, so handler tests need no IdP and no token.
//!
//! The claims go through the service's claim mapping (`[portcullis.claims]`), the access rules
//! and the route requirements exactly as a token's would; only resolution and validation are
//! skipped. They count only in a `Portcullis` whose code asked for it at startup
//! ([`crate::PortcullisBuilder::test_authentication`], which `MockIssuer::portcullis` calls, and
//! which logs a warning): the feature alone, which Cargo's feature unification can turn on in a
//! workspace build, leaves every request to the real pipeline, and a request extension alone is
//! never enough.

use serde_json::{Map, Value};

/// Claims standing in for a validated access token. Insert into the request extensions (with
/// `portcullis_test::RequestExt::with_jwt`).
#[derive(Debug, Clone)]
pub struct TestAuthentication {
    /// The token's claims.
    pub claims: Map<String, Value>,
}

/// The token string of a test principal (a placeholder: no token was sent).
pub const TEST_TOKEN: &str = "portcullis-test-principal";
