//! Logging hygiene: tokens, client secrets, HMAC secrets and private keys never appear in logs,
//! errors or `Debug` output, whatever fails.
//!
//! Its own test binary (one test, one process): it measures or captures process-wide state
//! (RSS, the tracing dispatcher), which tests running in parallel beside it would disturb.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::time::Duration;

use portcullis::Secret;
use portcullis::config::{ClientAuthMethod, UserinfoFailure};
use portcullis::{Portcullis, PortcullisConfig};
use portcullis_e2e::{Idp, Kit, Service, capture_logs, log_text};

const CLIENT_SECRET: &str = "client-secret-that-must-never-be-logged";
const HMAC_SECRET: &str = "hmac-secret-that-must-never-be-logged-0123456789";

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_log_line_an_error_or_debug_output() {
    let (_guard, logs) = capture_logs();
    let idp = Idp::start().await;
    let mut secrets: Vec<String> = vec![CLIENT_SECRET.into(), HMAC_SECRET.into()];

    // Local validation: good, tampered and ID tokens.
    let service = Service::start(Kit::JWT.config(&idp)).await;
    let tokens = idp
        .user_token("alice", "openid hello:read", Some("urn:portcullis:hello"))
        .await;
    let tampered = format!("{}x", &tokens.access_token[..tokens.access_token.len() - 1]);
    let id_token = tokens.id_token.as_ref().unwrap();
    // Each path ran (and refused what it must) before the log is judged clean.
    assert_eq!(service.hello(&tokens.access_token).await.status, 200);
    service
        .hello(&tampered)
        .await
        .assert_invalid_token("signature");
    service
        .hello(id_token)
        .await
        .assert_invalid_token("ID token");
    secrets.extend([tokens.access_token.clone(), tampered, id_token.clone()]);

    // Introspection with a wrong secret, then with private_key_jwt; userinfo that fails.
    let opaque = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello:opaque"))
        .await
        .access_token;
    secrets.push(opaque.clone());
    let mut wrong = Kit::INTROSPECT.config(&idp);
    wrong.introspection.client_secret = Some(Secret::new(CLIENT_SECRET));
    assert_eq!(Service::start(wrong).await.hello(&opaque).await.status, 503);
    let key_file = idp.client_key_file();
    let mut jwt_auth = Kit::INTROSPECT.config(&idp);
    jwt_auth.introspection.client_id = Some("hello-api-jwt".into());
    jwt_auth.introspection.auth_method = ClientAuthMethod::PrivateKeyJwt;
    jwt_auth.introspection.private_key_file = Some(key_file.display().to_string());
    jwt_auth.userinfo.enabled = true;
    jwt_auth.userinfo.on_failure = UserinfoFailure::Continue;
    assert_eq!(
        Service::start(jwt_auth).await.hello(&opaque).await.status,
        200
    );
    let pem = std::fs::read_to_string(&key_file).unwrap();
    secrets.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_owned),
    );

    // Configuration errors that involve secrets.
    let mut bad = PortcullisConfig {
        issuer: Some(idp.issuer.clone()),
        audience: vec!["a".into()],
        ..Default::default()
    };
    bad.jwt.hmac_secret = Some(Secret::new(HMAC_SECRET));
    bad.introspection.client_secret = Some(Secret::new(CLIENT_SECRET));
    bad.jwt.algorithms = vec!["none".into()];
    let error = Portcullis::builder()
        .config(bad.clone())
        .build()
        .await
        .expect_err("invalid")
        .to_string();
    let debug = format!("{bad:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;

    let log = log_text(&logs);
    assert!(
        log.contains("request refused"),
        "the log did capture the refusals:\n{log}"
    );
    // The wrong client secret: 503 (above) and an error line that names the settings to fix.
    let line = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("introspection failed"))
        .unwrap_or_else(|| panic!("no error line for the refused client credentials:\n{log}"));
    assert!(
        line.contains("portcullis.introspection.client-secret"),
        "{line}"
    );
    assert!(line.contains("client-id (= hello-api)"), "{line}");
    // Each decision runs in a `portcullis.authenticate` span whose fields say who and why.
    let accepted = log
        .lines()
        .find(|l| l.contains("portcullis.authenticate{") && l.contains("request authenticated"))
        .unwrap_or_else(|| panic!("no span on an accepted request:\n{log}"));
    for field in [
        "subject=\"alice\"",
        "client_id=\"portcullis-test\"",
        "outcome=\"accepted\"",
    ] {
        assert!(accepted.contains(field), "{field} in {accepted}");
    }
    let refused = log
        .lines()
        .find(|l| l.contains("portcullis.authenticate{") && l.contains("reason=\"bad_signature\""))
        .unwrap_or_else(|| panic!("no span with the reason of the tampered token:\n{log}"));
    assert!(refused.contains("outcome=\"rejected\""), "{refused}");
    for secret in &secrets {
        for (what, text) in [("log", &log), ("error", &error), ("Debug", &debug)] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret ({} bytes) appears in the {what}",
                secret.len()
            );
        }
    }
}
