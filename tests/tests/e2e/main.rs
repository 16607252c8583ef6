//! hello-api, protected by Portcullis, against the real OpenID Provider (oidc-provider), which
//! each test starts on a free loopback port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

/// Runs each named case (an `async fn(Kit)`) as `<case>::jwt` and `<case>::introspect`.
macro_rules! in_both_modes {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn jwt() {
                    super::$case(portcullis_e2e::Kit::JWT).await;
                }

                #[tokio::test]
                async fn introspect() {
                    super::$case(portcullis_e2e::Kit::INTROSPECT).await;
                }
            }
        )*
    };
}

mod both_modes;
mod dot;
mod faults;
mod hostile;
mod idp_guides;
mod introspection;
mod jwt;
mod microservices;
mod observability;
mod resource_metadata;
mod scopes;
mod shipped;
