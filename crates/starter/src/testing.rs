//! Test support (the `testing` feature, which `portcullis-test` turns on): a request may carry
//! claims that stand in for a validated token, so handler tests need no IdP and no token.
//!
//! The claims go through the service's claim mapping (`[portcullis.claims]`), the access rules
//! and the route requirements exactly as a token's would; only resolution and validation are
//! skipped. Never enable this feature in a build you ship: with it, code that can insert request
//! extensions can authenticate anyone. Portcullis logs a warning at startup when it is on.
//! (Cargo does not turn on a dev-dependency's features in a normal build.)

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
