//! hello-api, protected by Portcullis, against the real OpenID Provider (oidc-provider).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use portcullis::Portcullis;
use portcullis_e2e::{AUDIENCE, Idp, Service, b64, config_for, decode_part};
use serde_json::json;

#[tokio::test]
async fn valid_jwt_access_token_gets_200_naming_the_subject() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    for (resource, alg) in [
        ("urn:portcullis:hello", "RS256"),
        ("urn:portcullis:hello:ps256", "PS256"),
        ("urn:portcullis:hello:es256", "ES256"),
        ("urn:portcullis:hello:eddsa", "EdDSA"),
    ] {
        let token = idp
            .user_token("alice", "openid hello:read", Some(resource))
            .await
            .access_token;
        let header = decode_part(token.split('.').next().unwrap());
        assert_eq!(header["typ"], "at+jwt", "the IdP issues RFC 9068 tokens");
        assert_eq!(header["alg"], alg);
        let reply = service.hello(&token).await;
        assert_eq!(reply.status, 200, "{alg}: {reply:?}");
        assert_eq!(reply.body["message"], "Hello, alice!");
        assert_eq!(reply.body["client_id"], "portcullis-test");
    }
    assert_eq!(
        idp.stats().await.get("/jwks").copied(),
        Some(1),
        "keys fetched once for all algorithms"
    );
}

#[tokio::test]
async fn token_from_another_issuer_signed_with_the_real_key_gets_401() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let real = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    let header = decode_part(real.split('.').next().unwrap());
    let mut claims = decode_part(real.split('.').nth(1).unwrap());
    // Control: re-signing the genuine claims with the IdP's key is accepted, so the refusal
    // below is the issuer check, not the forging.
    assert_eq!(
        service
            .hello(&idp.sign_rs256(&header, &claims))
            .await
            .status,
        200
    );
    claims["iss"] = json!("https://evil.example");
    service
        .hello(&idp.sign_rs256(&header, &claims))
        .await
        .assert_invalid_token("issued by https://evil.example");
}

#[tokio::test]
async fn tampered_signature_and_alg_none_and_hs256_with_the_public_key_get_401() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    let parts: Vec<&str> = token.split('.').collect();

    // Tampered: the subject changed, the signature kept.
    let mut claims = decode_part(parts[1]);
    claims["sub"] = json!("mallory");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    service
        .hello(&tampered)
        .await
        .assert_invalid_token("signature is invalid");

    // alg none, with and without the signature part.
    let none = b64(json!({"alg": "none", "typ": "at+jwt"})
        .to_string()
        .as_bytes());
    service
        .hello(&format!("{none}.{}.", parts[1]))
        .await
        .assert_invalid_token("alg none");
    service
        .hello(&format!("{none}.{}.{}", parts[1], parts[2]))
        .await
        .assert_invalid_token("alg none");

    // HS256 with the RSA public key as the HMAC secret: PEM bytes, then JWK JSON bytes.
    let keys = idp.keys();
    let kid = keys["rsa"]["jwk"]["kid"].as_str().unwrap();
    let header = b64(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})
        .to_string()
        .as_bytes());
    let input = format!("{header}.{}", parts[1]);
    let public_jwk =
        json!({"kty": "RSA", "n": keys["rsa"]["jwk"]["n"], "e": keys["rsa"]["jwk"]["e"]})
            .to_string();
    for secret in [
        keys["rsa"]["publicPem"].as_str().unwrap().as_bytes(),
        public_jwk.as_bytes(),
    ] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        service
            .hello(&format!("{input}.{}", b64(tag.as_ref())))
            .await
            .assert_invalid_token("HMAC");
    }
}

#[tokio::test]
async fn id_token_from_the_same_idp_gets_401_saying_it_is_an_id_token() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let tokens = idp
        .user_token("alice", "openid hello:read", Some("urn:portcullis:hello"))
        .await;
    let id_token = tokens
        .id_token
        .expect("the IdP returns an ID token for openid");
    let claims = decode_part(id_token.split('.').nth(1).unwrap());
    assert_eq!(
        claims["aud"], "portcullis-test",
        "an ID token's audience is the client"
    );
    service
        .hello(&id_token)
        .await
        .assert_invalid_token("an ID token's audience is the client");
}

#[tokio::test]
async fn opaque_token_in_jwt_mode_gets_401_that_names_introspection() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let opaque = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello:opaque"))
        .await
        .access_token;
    service.hello(&opaque).await.assert_invalid_token(
        "the token is opaque (not a JWT), which this API cannot read: ask the authorization server for a JWT access token for this API's audience, or use introspection",
    );
}

#[tokio::test]
async fn key_rotation_at_the_idp_is_accepted_after_one_jwks_refetch() {
    let mut idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let before = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    assert_eq!(service.hello(&before).await.status, 200);
    let old_kid = idp.keys()["rsa"]["jwk"]["kid"].clone();

    idp.restart_with_new_keys().await;
    let after = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    let new_kid = decode_part(after.split('.').next().unwrap())["kid"].clone();
    assert_ne!(old_kid, new_kid, "the IdP signs with a new key");
    let reply = service.hello(&after).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        idp.stats().await.get("/jwks").copied(),
        Some(1),
        "exactly one refetch after the rotation"
    );
    // The old key is gone from the new JWKS: its tokens are refused now.
    service
        .hello(&before)
        .await
        .assert_invalid_token("does not publish");
}

/// A fresh RS256 access token for alice signed with the RSA key of `keys` (a key file's
/// contents), valid for an hour from `now`: not a cached decision, a new signature to verify.
fn fresh_token_signed_with(idp: &Idp, keys: &serde_json::Value, now: u64) -> String {
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": keys["rsa"]["jwk"]["kid"]});
    let claims = json!({"iss": idp.issuer, "aud": AUDIENCE, "sub": "alice", "scope": "hello:read",
        "client_id": "portcullis-test", "iat": now, "exp": now + 3600,
        "jti": format!("fresh-{now}-{}", std::process::id())});
    portcullis_e2e::sign_rs256_input_with(
        keys,
        &format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        ),
    )
}

#[tokio::test]
async fn during_a_key_overlap_both_keys_verify_and_a_removed_key_ends_with_the_next_refresh() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let mut idp = Idp::start().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut config = config_for(&idp);
    // Keys are fresh for a minute (the least allowed), well within the tokens' five minutes.
    config.jwks.refresh_interval = Duration::from_secs(60);
    let (service, clock) = Service::start_with_clock(config).await;
    let before = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    assert_eq!(service.hello(&before).await.status, 200);
    let old_keys = idp.keys();

    // The IdP signs with a new key and still publishes the old one.
    idp.rotate_keys_keeping_the_old().await;
    let after = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    assert_ne!(
        decode_part(after.split('.').next().unwrap())["kid"],
        old_keys["rsa"]["jwk"]["kid"],
        "the IdP signs with the new key"
    );
    assert_eq!(service.hello(&after).await.status, 200, "the new key");
    assert_eq!(
        idp.stats().await.get("/jwks").copied(),
        Some(1),
        "one refetch"
    );
    let reply = service
        .hello(&fresh_token_signed_with(&idp, &old_keys, now))
        .await;
    assert_eq!(
        reply.status, 200,
        "the old key still verifies new tokens: {reply:?}"
    );
    assert_eq!(service.hello(&before).await.status, 200);

    // The overlap ends: the old key leaves the JWKS. The service learns it at its next refresh
    // (refresh-interval, 60 s by its clock); until then the cached set still holds it.
    idp.retire_old_keys().await;
    clock.advance(Duration::from_secs(61));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // Each request with a stale set starts a background refresh if none is running.
        let reply = service
            .hello(&fresh_token_signed_with(&idp, &old_keys, now))
            .await;
        if reply.status == 401 {
            reply.assert_invalid_token("does not publish");
            break;
        }
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "the removed key was still accepted 10 s after the refresh was due"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        idp.stats().await.get("/jwks").copied(),
        Some(2),
        "the refresh, then one refetch for the kid it no longer has"
    );
    // The cached decision for a token signed with the removed key ends with it (the token
    // itself is still within its five minutes); the new key's tokens are unaffected.
    service
        .hello(&before)
        .await
        .assert_invalid_token("does not publish");
    assert_eq!(service.hello(&after).await.status, 200);
}

#[tokio::test]
async fn eager_discovery_refuses_to_start_when_the_idp_is_down() {
    let mut idp = Idp::start().await;
    idp.stop().await;
    let mut config = config_for(&idp);
    config.discovery.eager = true;
    let error = Portcullis::builder()
        .config(config)
        .build()
        .await
        .expect_err("must not start");
    let text = error.to_string();
    assert!(text.contains("eager"), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
}

#[tokio::test]
async fn eager_discovery_fetches_metadata_and_keys_before_the_first_request() {
    let idp = Idp::start().await;
    let mut config = config_for(&idp);
    config.discovery.eager = true;
    let _portcullis = Portcullis::builder()
        .config(config)
        .build()
        .await
        .expect("starts");
    let stats = idp.stats().await;
    assert_eq!(
        stats.get("/.well-known/openid-configuration").copied(),
        Some(1)
    );
    assert_eq!(stats.get("/jwks").copied(), Some(1));
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_and_never_a_200() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    let truncated = &token[..token.len() - 20];
    let bad_base64 = format!(
        "{}.@@@.{}",
        token.split('.').next().unwrap(),
        token.split('.').nth(2).unwrap()
    );
    let cases: Vec<(Vec<Vec<u8>>, u16)> = vec![
        (vec![format!("Bearer {truncated}").into_bytes()], 401),
        (vec![format!("Bearer {bad_base64}").into_bytes()], 400),
        (vec![b"Bearer \xff\xfe\xfd".to_vec()], 400),
        (
            vec![
                format!("Bearer {token}").into_bytes(),
                format!("Bearer {token}").into_bytes(),
            ],
            400,
        ),
        (vec![b"Bearer".to_vec()], 400),
        (vec![b"Bearer a.b.c".to_vec()], 401),
        (
            vec![format!("Bearer {}", "a".repeat(20_000)).into_bytes()],
            401,
        ),
    ];
    for (values, expected) in cases {
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let reply = service.get_with_authorization("/hello", &refs).await;
        assert_eq!(
            reply.status,
            expected,
            "{:?}: {reply:?}",
            String::from_utf8_lossy(&values[0][..values[0].len().min(40)])
        );
        assert!(
            reply
                .challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Bearer error=")),
            "{reply:?}"
        );
    }
    // A 1 MB header is refused by the HTTP server before it reaches Portcullis; the service
    // stays up.
    let huge = format!("Bearer {}", "a".repeat(1024 * 1024));
    let reply = service
        .get_with_authorization("/hello", &[huge.as_bytes()])
        .await;
    assert!(reply.status == 431 || reply.status == 400, "{reply:?}");
    assert_eq!(
        service.hello(&token).await.status,
        200,
        "the service is still up"
    );
}

#[tokio::test]
async fn the_audience_is_checked_against_every_configured_audience() {
    let idp = Idp::start().await;
    let mut config = config_for(&idp);
    config.audience = vec!["urn:portcullis:other".into(), AUDIENCE.into()];
    let service = Service::start(config).await;
    for resource in ["urn:portcullis:hello", "urn:portcullis:other"] {
        let token = idp
            .user_token("bob", "hello:read", Some(resource))
            .await
            .access_token;
        assert_eq!(service.hello(&token).await.status, 200, "{resource}");
    }
    // An audience outside the list is refused, naming every accepted one.
    let third = idp
        .user_token("bob", "hello:read", Some("urn:portcullis:orders"))
        .await
        .access_token;
    let reply = service.hello(&third).await;
    reply.assert_invalid_token("another audience");
    assert!(
        reply.description().contains("urn:portcullis:other")
            && reply.description().contains(AUDIENCE),
        "{reply:?}"
    );
}
