//! hello-api, protected by Portcullis, against the real OpenID Provider (oidc-provider), which
//! each test starts on a free loopback port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

mod both_modes;
mod introspection;
mod jwt;
