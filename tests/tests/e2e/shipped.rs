//! This suite runs the build users ship: the test kit is not a dependency of this invocation
//! (README, "Run the tests"), so its stand-in for token validation is not compiled in, and
//! nothing a request carries in-process stands in for a validated token.

use axum::extract::Request;
use portcullis::BearerToken;
use portcullis::{Portcullis, Principal};
use portcullis_e2e::{AUDIENCE, Idp, Service, config_for};

#[test]
#[allow(
    clippy::assertions_on_constants,
    reason = "the constant is what Cargo's feature unification made of this build: the check"
)]
fn this_suite_runs_the_feature_set_that_ships() {
    assert!(
        !portcullis::TEST_SUPPORT_COMPILED_IN,
        "the starter's `testing` feature is compiled into the end-to-end suite: a package in this \
         cargo invocation depends on portcullis-test. Test the kit in its own invocation \
         (README, \"Run the tests\")"
    );
}

#[tokio::test]
async fn a_principal_placed_in_the_request_and_the_kits_placeholder_token_never_authenticate() {
    let idp = Idp::start().await;
    let portcullis = Portcullis::builder()
        .config(config_for(&idp))
        .build()
        .await
        .unwrap();
    // A middleware in front of Portcullis (mistaken or hostile) puts a principal with the right
    // scope in the request, as the test kit's extension once did.
    let claims = serde_json::json!({"iss": idp.issuer, "aud": AUDIENCE, "sub": "mallory",
        "scope": "hello:read", "exp": u32::MAX});
    let forged = Principal::from_validated_claims(
        BearerToken::new("portcullis-test-principal"),
        claims.as_object().unwrap().clone(),
    );
    let app = hello_api::app(&portcullis).layer(axum::middleware::map_request(
        move |mut request: Request| {
            let forged = forged.clone();
            async move {
                request.extensions_mut().insert(forged);
                request
            }
        },
    ));
    let service = Service::serve_router(app).await;

    // With the kit's placeholder as the bearer token: an invalid token, not mallory.
    let reply = service.hello("portcullis-test-principal").await;
    assert_eq!(reply.status, 401, "{reply:?}");
    reply.assert_invalid_token("");
    // With no token at all: a bare challenge.
    let reply = service.get_with_authorization("/hello", &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"), "{reply:?}");
    // A real token of the IdP still works through the same router.
    let token = idp
        .user_token("alice", "hello:read", Some(AUDIENCE))
        .await
        .access_token;
    let reply = service.hello(&token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["message"], "Hello, alice!");
}
