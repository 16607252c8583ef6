//! The hostile-token suite: every case against the full stack, in `jwt` and `introspect` mode,
//! asserting the exact status and `WWW-Authenticate` (or, where a number in the description
//! depends on the clock, its fixed start). An attacker's server on loopback counts every
//! request: `jku`, `x5u`, `jwk` and `x5c` are never fetched nor trusted. In introspect mode most
//! token cases only show that the IdP refuses to introspect a JWT; the answer cases at the end
//! (oidc-provider's own answers, altered in its response hook) are decided by Portcullis alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis::config::Mode;
use portcullis_e2e::{Idp, Kit, Service, b64, decode_part};
use serde_json::{Value, json};

/// What a case expects.
#[derive(Debug, Clone)]
enum Expect {
    /// Status and the exact challenge (`None`: no `WWW-Authenticate`).
    Exact(u16, Option<String>),
    /// 401 `invalid_token` whose description starts with this.
    InvalidTokenStarting(String),
}

fn invalid(description: &str) -> Expect {
    Expect::Exact(
        401,
        Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{description}\""
        )),
    )
}

fn invalid_request(description: &str) -> Expect {
    Expect::Exact(
        400,
        Some(format!(
            "Bearer error=\"invalid_request\", error_description=\"{description}\""
        )),
    )
}

/// Introspection answers for JWT-shaped strings the IdP refuses to introspect.
fn idp_refuses() -> Expect {
    invalid("the authorization server does not accept this token for introspection")
}

struct Case {
    name: &'static str,
    /// Raw `Authorization` values (several = several headers); empty = none.
    headers: Vec<Vec<u8>>,
    /// Path and query.
    path: String,
    jwt: Expect,
    introspect: Expect,
}

fn bearer(token: &str) -> Vec<Vec<u8>> {
    vec![format!("Bearer {token}").into_bytes()]
}

fn token_case(name: &'static str, token: String, jwt: Expect, introspect: Expect) -> Case {
    Case {
        name,
        headers: bearer(&token),
        path: "/hello".into(),
        jwt,
        introspect,
    }
}

struct Attacker {
    url: String,
    hits: Arc<AtomicUsize>,
}

async fn attacker() -> Attacker {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    Attacker { url, hits }
}

fn with_header(header: &Value, changes: Value) -> Value {
    let mut header = header.clone();
    for (k, v) in changes.as_object().unwrap() {
        header[k] = v.clone();
    }
    header
}

fn with_claims(claims: &Value, changes: Value, remove: &[&str]) -> Value {
    let mut claims = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    for k in remove {
        claims.as_object_mut().unwrap().remove(*k);
    }
    claims
}

/// `valid` is a token the mode under test accepts (a JWT for jwt, an opaque one for introspect).
async fn cases(idp: &Idp, attacker: &Attacker, valid: &str) -> Vec<Case> {
    let real = idp
        .user_token("alice", "openid hello:read", Some("urn:portcullis:hello"))
        .await;
    let token = real.access_token.clone();
    let parts: Vec<&str> = token.split('.').collect();
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    let keys = idp.keys();
    let rsa_kid = keys["rsa"]["jwk"]["kid"].as_str().unwrap().to_owned();
    let ec_kid = keys["ec"]["jwk"]["kid"].as_str().unwrap().to_owned();
    let now = claims["iat"].as_i64().unwrap();
    let forged = |h: Value, c: Value| idp.sign_rs256(&h, &c);
    let unsigned =
        |h: Value, rest: &str| format!("{}.{}{rest}", b64(h.to_string().as_bytes()), parts[1]);
    // Claims given as raw text (duplicate members cannot be built as a Value), signed for real.
    let raw_claims = |text: &str| {
        idp.sign_rs256_input(&format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(text.as_bytes())
        ))
    };
    let hmac = |secret: &[u8]| {
        let h = b64(json!({"alg": "HS256", "typ": "at+jwt", "kid": rsa_kid})
            .to_string()
            .as_bytes());
        let input = format!("{h}.{}", parts[1]);
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(tag.as_ref()))
    };
    let attacker_key = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let point = aws_lc_rs::signature::KeyPair::public_key(&attacker_key)
        .as_ref()
        .to_vec();
    let attacker_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "attacker", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    let attacker_signed = |h: Value| {
        let input = format!("{}.{}", b64(h.to_string().as_bytes()), parts[1]);
        let sig = attacker_key
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    };
    let jwk_public =
        json!({"kty": "RSA", "n": keys["rsa"]["jwk"]["n"], "e": keys["rsa"]["jwk"]["e"]})
            .to_string();
    let long_kid = "k".repeat(10_000);
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));

    let mut cases = vec![token_case(
        "valid control",
        valid.to_owned(),
        Expect::Exact(200, None),
        Expect::Exact(200, None),
    )];
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "typ": "at+jwt"});
        cases.push(token_case(
            "alg none, no signature",
            unsigned(h.clone(), "."),
            invalid("unsigned tokens (alg none) are never accepted"),
            idp_refuses(),
        ));
        cases.push(token_case(
            "alg none, with signature",
            unsigned(h, &format!(".{}", parts[2])),
            invalid("unsigned tokens (alg none) are never accepted"),
            idp_refuses(),
        ));
    }
    let hs = "HMAC-signed tokens (HS256) are not accepted; this API verifies signatures with the issuer's public keys";
    cases.push(token_case(
        "HS256 with the RSA public key (PEM)",
        hmac(keys["rsa"]["publicPem"].as_str().unwrap().as_bytes()),
        invalid(hs),
        idp_refuses(),
    ));
    cases.push(token_case(
        "HS256 with the RSA public key (JWK)",
        hmac(jwk_public.as_bytes()),
        invalid(hs),
        idp_refuses(),
    ));
    let not_published = |kid: &str| {
        invalid(&format!(
            "the token was signed with a key (kid {kid}) that the issuer does not publish"
        ))
    };
    cases.push(token_case(
        "embedded jwk",
        attacker_signed(
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jwk": attacker_jwk}),
        ),
        not_published("attacker"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "embedded jwk under the real kid",
        attacker_signed(
            json!({"alg": "ES256", "typ": "at+jwt", "kid": ec_kid, "jwk": attacker_jwk}),
        ),
        invalid("the token's signature is invalid"),
        idp_refuses(),
    ));
    for (name, param) in [("jku", "jku"), ("x5u", "x5u")] {
        let h = json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", param: format!("{}/keys", attacker.url)});
        cases.push(token_case(
            name,
            attacker_signed(h),
            not_published("attacker"),
            idp_refuses(),
        ));
    }
    cases.push(token_case(
        "x5c",
        attacker_signed(json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "x5c": ["MIIBszCCAVmgAwIBAgIUfake"]})),
        not_published("attacker"),
        idp_refuses(),
    ));
    for kid in [
        "../../../../etc/passwd",
        "' OR '1'='1",
        "<script>alert(1)</script>",
        "kid\u{0}null",
    ] {
        let shown: String = kid
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        cases.push(token_case(
            "hostile kid",
            forged(with_header(&header, json!({"kid": kid})), claims.clone()),
            not_published(&shown),
            idp_refuses(),
        ));
    }
    cases.push(token_case(
        "very long kid",
        forged(
            with_header(&header, json!({"kid": long_kid})),
            claims.clone(),
        ),
        not_published(&format!("{}...", "k".repeat(64))),
        idp_refuses(),
    ));
    let issuer = &idp.issuer;
    let claim_cases: Vec<(&'static str, Value, &[&str], Expect)> = vec![
        (
            "expired",
            json!({"exp": now - 3600}),
            &[],
            Expect::InvalidTokenStarting("the token expired ".into()),
        ),
        (
            "nbf in the future",
            json!({"nbf": now + 3600}),
            &[],
            Expect::InvalidTokenStarting("the token is not valid for another ".into()),
        ),
        (
            "iat far in the future",
            json!({"iat": now + 86_400}),
            &[],
            Expect::InvalidTokenStarting("the token claims to be issued ".into()),
        ),
        (
            "wrong iss",
            json!({"iss": "https://evil.example"}),
            &[],
            invalid(&format!(
                "the token was issued by https://evil.example, not by the issuer this API trusts ({issuer})"
            )),
        ),
        (
            "missing iss",
            json!({}),
            &["iss"],
            invalid("the token has no issuer (iss)"),
        ),
        (
            "iss of the wrong type",
            json!({"iss": 42}),
            &[],
            invalid("the token's issuer (iss) is not a string"),
        ),
        (
            "wrong aud",
            json!({"aud": "urn:portcullis:other"}),
            &[],
            invalid(
                "the token is for another audience (aud urn:portcullis:other); this API accepts urn:portcullis:hello",
            ),
        ),
        (
            "missing aud",
            json!({}),
            &["aud"],
            invalid("the token has no audience (aud); this API accepts only tokens issued for it"),
        ),
        (
            "missing exp",
            json!({}),
            &["exp"],
            invalid("the token has no expiry (exp)"),
        ),
        (
            "exp of the wrong type",
            json!({"exp": "tomorrow"}),
            &[],
            invalid("the token's exp is not a NumericDate (seconds since 1970)"),
        ),
    ];
    for (name, changes, remove, expect) in claim_cases {
        cases.push(token_case(
            name,
            forged(header.clone(), with_claims(&claims, changes, remove)),
            expect,
            idp_refuses(),
        ));
    }
    cases.push(token_case(
        "ID token as access token",
        real.id_token.clone().unwrap(),
        invalid("the audience is not this API (aud portcullis-test; this API accepts urn:portcullis:hello); an ID token's audience is the client, so this is probably an ID token: call APIs with an access token issued for this API"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "typ of another JWT kind",
        forged(
            with_header(&header, json!({"typ": "logout+jwt"})),
            claims.clone(),
        ),
        invalid("the token type (typ) is logout+jwt, not an access token (at+jwt)"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "unknown crit",
        forged(with_header(&header, json!({"crit": ["x-portcullis-test"], "x-portcullis-test": 1})), claims.clone()),
        invalid("the token header marks parameters as critical (crit: x-portcullis-test) that this API does not understand"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "signature stripped",
        format!("{}.{}.", parts[0], parts[1]),
        invalid("the token has no signature"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "signature truncated",
        format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]),
        invalid("the token's signature is invalid"),
        idp_refuses(),
    ));
    let mut flipped = parts[2].as_bytes().to_vec();
    flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
    cases.push(token_case(
        "signature bit-flipped",
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            String::from_utf8(flipped).unwrap()
        ),
        invalid("the token's signature is invalid"),
        idp_refuses(),
    ));
    let es256 = json!({"alg": "ES256", "typ": "at+jwt", "kid": ec_kid});
    cases.push(token_case(
        "ECDSA r = s = 0 (CVE-2022-21449)",
        format!(
            "{}.{}.{}",
            b64(es256.to_string().as_bytes()),
            parts[1],
            b64(&[0u8; 64])
        ),
        invalid("the token's signature is invalid"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "token alg differs from the key's alg",
        forged(
            json!({"alg": "RS256", "typ": "at+jwt", "kid": ec_kid}),
            claims.clone(),
        ),
        invalid(&format!(
            "the token's algorithm RS256 does not match its key (kid {ec_kid} is for [ES256])"
        )),
        idp_refuses(),
    ));
    cases.push(token_case(
        "JWE (five parts)",
        format!("{}.{}.{}.{}.{}", b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#), "a", "b", "c", "d"),
        invalid("the token is an encrypted JWT (JWE, five parts), which this API cannot read: ask the authorization server for a signed JWT access token for this API's audience, or use introspection"),
        idp_refuses(),
    ));
    // What Auth0 issues when the client names no audience: a JWE with `alg: dir`, so its
    // encrypted-key part is empty.
    cases.push(token_case(
        "Auth0's opaque token (JWE, dir)",
        format!(
            "{}..{}.{}.{}",
            b64(br#"{"alg":"dir","enc":"A256GCM","iss":"https://tenant.eu.auth0.com/"}"#),
            "aXYtaXYtaXYtaXY",
            "Y2lwaGVydGV4dA",
            "dGFndGFndGFndGFn"
        ),
        invalid("the token is an encrypted JWT (JWE, five parts), which this API cannot read: ask the authorization server for a signed JWT access token for this API's audience, or use introspection"),
        idp_refuses(),
    ));
    cases.push(token_case(
        "base64 of a wrong length",
        "a.b.c".into(),
        invalid("the token header is malformed: not base64url"),
        invalid("the token is not active: the authorization server reports it expired, revoked or unknown"),
    ));
    cases.push(token_case(
        "duplicate JSON members",
        raw_claims(&format!(r#"{{"iss":"{issuer}","aud":"urn:portcullis:hello","exp":{},"sub":"mallory","sub":"alice","scope":"hello:read"}}"#, now + 300)),
        Expect::InvalidTokenStarting("the token claims are malformed: duplicate member 'sub'".into()),
        idp_refuses(),
    ));
    cases.push(token_case(
        "deeply nested JSON",
        raw_claims(&deep),
        Expect::InvalidTokenStarting("the token claims are malformed: ".into()),
        idp_refuses(),
    ));
    let same = |name: &'static str, headers: Vec<Vec<u8>>, path: &str, expect: Expect| Case {
        name,
        headers,
        path: path.into(),
        jwt: expect.clone(),
        introspect: expect,
    };
    cases.push(same("non-base64url bytes", bearer(&format!("{}.{}!.{}", parts[0], parts[1], parts[2])), "/hello",
        invalid_request("the Bearer credentials are malformed: a token is one word of the characters A-Z a-z 0-9 - . _ ~ + / and trailing =")));
    cases.push(same(
        "two Authorization headers",
        [bearer(&token), bearer(&token)].concat(),
        "/hello",
        invalid_request("the request has more than one Authorization header"),
    ));
    cases.push(same(
        "token in the query string",
        vec![],
        &format!("/hello?access_token={token}"),
        Expect::Exact(401, Some("Bearer".into())),
    ));
    cases.push(same(
        "empty bearer",
        vec![b"Bearer ".to_vec()],
        "/hello",
        invalid_request("the Bearer credentials are empty"),
    ));
    cases.push(same(
        "tab after the scheme",
        vec![format!("Bearer\t{token}").into_bytes()],
        "/hello",
        invalid_request(
            "the Bearer credentials are malformed: a space separates the scheme and the token",
        ),
    ));
    cases.push(same(
        "two spaces after the scheme",
        vec![format!("bEaReR  {valid}").into_bytes()],
        "/hello",
        Expect::Exact(200, None),
    ));
    // The valid token is cached before the cases run (see `run`): a decision taken from the cache
    // must never excuse a malformed request.
    cases.push(same(
        "two Authorization headers with a cached token",
        [bearer(valid), bearer(valid)].concat(),
        "/hello",
        invalid_request("the request has more than one Authorization header"),
    ));
    cases.push(same(
        "a cached token with a trailing comma",
        vec![format!("Bearer {valid},").into_bytes()],
        "/hello",
        invalid_request("the Bearer credentials are malformed: a token is one word of the characters A-Z a-z 0-9 - . _ ~ + / and trailing ="),
    ));
    cases.push(same(
        "a cached token and more words",
        vec![format!("Bearer {valid} {valid}").into_bytes()],
        "/hello",
        invalid_request("the Bearer credentials are malformed: a token is one word of the characters A-Z a-z 0-9 - . _ ~ + / and trailing ="),
    ));
    cases.push(same(
        "a cached token after a tab",
        vec![format!("Bearer\t{valid}").into_bytes()],
        "/hello",
        invalid_request(
            "the Bearer credentials are malformed: a space separates the scheme and the token",
        ),
    ));
    cases.push(same(
        "a cached token under another scheme",
        vec![format!("DPoP {valid}").into_bytes()],
        "/hello",
        Expect::Exact(401, Some("Bearer".into())),
    ));
    let big = format!("{}.{}.{}", parts[0], "A".repeat(20_000), parts[2]);
    let too_big = invalid(&format!(
        "the token is {} bytes long; this resource accepts at most 16384",
        big.len()
    ));
    cases.push(same("a 20 KB token", bearer(&big), "/hello", too_big));
    cases.push(same(
        "a 1 MB header",
        bearer(&"A".repeat(1024 * 1024)),
        "/hello",
        Expect::Exact(431, None),
    ));
    cases
}

async fn run(kit: Kit) {
    let idp = Idp::start().await;
    let attacker = attacker().await;
    let service = Service::start(kit.config(&idp)).await;
    let valid = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    // Cached from here on: the cases that carry it check the hot path refuses what the full
    // path refuses.
    assert_eq!(service.hello(&valid).await.status, 200);
    let cases = cases(&idp, &attacker, &valid).await;
    let mut failures = Vec::new();
    for case in &cases {
        let expect = if kit.mode == Mode::Jwt {
            &case.jwt
        } else {
            &case.introspect
        };
        let refs: Vec<&[u8]> = case.headers.iter().map(Vec::as_slice).collect();
        let reply = service.get_with_authorization(&case.path, &refs).await;
        let ok = match expect {
            Expect::Exact(status, challenge) => {
                reply.status == *status && reply.challenge == *challenge
            }
            Expect::InvalidTokenStarting(start) => {
                let prefix = format!("Bearer error=\"invalid_token\", error_description=\"{start}");
                reply.status == 401
                    && reply
                        .challenge
                        .as_deref()
                        .is_some_and(|c| c.starts_with(&prefix))
            }
        };
        if !ok {
            failures.push(format!(
                "{}: expected {expect:?}, got {} {:?}",
                case.name, reply.status, reply.challenge
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        attacker.hits.load(Ordering::SeqCst),
        0,
        "no request ever reached the attacker's server"
    );
    assert_eq!(
        service
            .hello(
                &idp.user_token("bob", "hello:read", Some(kit.hello))
                    .await
                    .access_token
            )
            .await
            .status,
        200,
        "still up"
    );
}

#[tokio::test]
async fn hostile_tokens_in_jwt_mode() {
    run(Kit::JWT).await;
}

#[tokio::test]
async fn hostile_tokens_in_introspect_mode() {
    run(Kit::INTROSPECT).await;
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_at_most_one_jwks_fetch_per_interval() {
    let idp = Idp::start().await;
    let service = Arc::new(Service::start(Kit::JWT.config(&idp)).await);
    let token = idp
        .user_token("alice", "hello:read", Some("urn:portcullis:hello"))
        .await
        .access_token;
    assert_eq!(service.hello(&token).await.status, 200);
    let header = decode_part(token.split('.').next().unwrap());
    let claims = decode_part(token.split('.').nth(1).unwrap());
    let forged: Vec<String> = (0..200)
        .map(|i| {
            idp.sign_rs256(
                &with_header(&header, json!({"kid": format!("flood-{i}")})),
                &claims,
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = forged
        .into_iter()
        .map(|t| {
            let service = service.clone();
            tokio::spawn(async move { service.hello(&t).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401);
    }
    // jwks.unknown-kid-min-interval is 1 s: one refetch per started second of flooding.
    let seconds = started.elapsed().as_secs();
    let fetches = idp.stats().await.get("/jwks").copied().unwrap_or(0);
    assert!(
        (2..=2 + seconds).contains(&fetches),
        "{fetches} JWKS fetches in {seconds} s: the first, and at most one refetch per second of the flood"
    );
}

#[tokio::test]
async fn keys_that_must_not_verify_are_skipped_at_the_full_stack() {
    use portcullis_e2e::fake_idp::FakeIdp;
    let idp = FakeIdp::start().await;
    // The IdP's real key, also published as an encryption key and next to a 1024-bit RSA key.
    let mut enc = idp.public_jwk("enc");
    enc["use"] = json!("enc");
    let mut small_n = vec![0xffu8; 128];
    small_n[0] = 0xc1;
    let small = json!({"kty": "RSA", "kid": "small", "n": b64(&small_n), "e": "AQAB"});
    idp.publish_extra(vec![enc, small]);
    let config = portcullis::PortcullisConfig {
        issuer: Some(idp.issuer.clone()),
        audience: vec![portcullis_e2e::AUDIENCE.into()],
        ..Default::default()
    };
    let service = Service::start(config).await;
    assert_eq!(
        service
            .hello(&idp.token(portcullis_e2e::AUDIENCE))
            .await
            .status,
        200,
        "control: the sig key works"
    );
    // Correctly signed, but naming the `use: enc` copy of the key: that key is not for signatures.
    let reply = service
        .hello(&idp.token_with_kid(portcullis_e2e::AUDIENCE, "enc"))
        .await;
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"the token was signed with a key (kid enc) that the issuer does not publish\""
        )
    );
    // Naming the 1024-bit key: skipped, so the signature is never even tried.
    let weak = format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "kid": "small"})
            .to_string()
            .as_bytes()),
        b64(b"{}"),
        b64(&[1u8; 128])
    );
    let reply = service.hello(&weak).await;
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"the token was signed with a key (kid small) that the issuer does not publish\""
        )
    );
}

/// Security review item 4: axum answers `HEAD` with the `GET` handler, so a `GET` rule must hold
/// `HEAD` too; under 0.1 `HEAD` fell through to the default rule and answered 200 with the
/// handler's headers.
async fn head_is_held_to_the_get_rule(kit: Kit) {
    let idp = Idp::start().await;
    let mut config = kit.config(&idp);
    config.rules = vec![portcullis::config::RuleConfig {
        path: "/hello".into(),
        methods: Some(vec!["GET".into()]),
        scopes: Some(vec!["hello:read".into()]),
        ..Default::default()
    }];
    let service = Service::start(config).await;
    let without_scope = idp
        .user_token("mallory", "openid", Some(kit.hello))
        .await
        .access_token;
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let reply = service
            .request(method.clone(), "/hello", &without_scope)
            .await;
        assert_eq!(reply.status, 403, "{method} {reply:?}");
        assert!(
            reply
                .challenge
                .as_deref()
                .is_some_and(|c| c.contains("insufficient_scope") && c.contains("hello:read")),
            "{method} {reply:?}"
        );
    }
    let allowed = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let reply = service
        .request(reqwest::Method::HEAD, "/hello", &allowed)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn head_is_held_to_the_get_rule_in_jwt_mode() {
    head_is_held_to_the_get_rule(Kit::JWT).await;
}

#[tokio::test]
async fn head_is_held_to_the_get_rule_in_introspect_mode() {
    head_is_held_to_the_get_rule(Kit::INTROSPECT).await;
}

/// Answers oidc-provider gives as `active: true`, altered in its own response hook, that
/// Portcullis's checks must refuse by themselves: the IdP vouches for each, so nothing but
/// Portcullis decides. Every case introspects anew (no cache).
#[tokio::test]
async fn introspection_answers_the_idp_calls_active_that_portcullis_refuses() {
    let idp = Idp::start().await;
    let mut config = Kit::INTROSPECT.config(&idp);
    config.introspection.cache_ttl = std::time::Duration::ZERO;
    config.introspection.inactive_cache_ttl = std::time::Duration::ZERO;
    let service = Service::start(config).await;
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // (name, patch, status, what the WWW-Authenticate challenge must contain)
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("unaltered (control)", json!({}), 200, ""),
        (
            "another issuer",
            json!({"iss": "https://evil.example"}),
            401,
            "the token was issued by https://evil.example, not by the issuer this API trusts",
        ),
        (
            "an issuer that is not a string",
            json!({"iss": 7}),
            401,
            "the token's issuer (iss) is not a string",
        ),
        (
            "another audience",
            json!({"aud": "urn:portcullis:other"}),
            401,
            "the token is for another audience (aud urn:portcullis:other)",
        ),
        (
            "no audience",
            json!({"aud": null}),
            401,
            "the token has no audience (aud)",
        ),
        (
            "an audience list of numbers",
            json!({"aud": [1, 2]}),
            401,
            "the token's audience (aud) holds a value that is not a string",
        ),
        (
            "expired two minutes ago",
            json!({"exp": now - 120}),
            401,
            "the token expired 1",
        ),
        (
            "not valid for ten minutes",
            json!({"nbf": now + 600}),
            401,
            "the token is not valid for another ",
        ),
        (
            "issued an hour from now",
            json!({"iat": now + 3600}),
            401,
            "the token claims to be issued 3",
        ),
        (
            "exp not a number",
            json!({"exp": "tomorrow"}),
            401,
            "the token's exp is not a NumericDate",
        ),
        (
            "a refresh token",
            json!({"token_type": "refresh_token"}),
            401,
            "the token is a refresh_token, not an access token",
        ),
        (
            "an ID token",
            json!({"token_type": "id_token"}),
            401,
            "this is an OpenID Connect ID token, not an access token",
        ),
        (
            "a token type that is not a string",
            json!({"token_type": ["Bearer"]}),
            401,
            "the token's type is not a string",
        ),
        (
            "without the scope",
            json!({"scope": "hello:write"}),
            403,
            "error=\"insufficient_scope\"",
        ),
        // A broken answer is the IdP's failure, not the client's: 503, no challenge.
        ("active as a string", json!({"active": "true"}), 503, ""),
        ("no active member", json!({"active": null}), 503, ""),
    ];
    let mut failures = Vec::new();
    for (name, patch, status, challenge) in &cases {
        idp.patch_introspection_answers(patch).await;
        let calls = idp
            .stats()
            .await
            .get("/token/introspection")
            .copied()
            .unwrap_or(0);
        let reply = service.hello(&token).await;
        let asked = idp
            .stats()
            .await
            .get("/token/introspection")
            .copied()
            .unwrap_or(0);
        let seen = reply.challenge.clone().unwrap_or_default();
        let ok = reply.status == *status
            && seen.contains(challenge)
            && (*status != 503 || (reply.challenge.is_none() && reply.retry_after.is_some()))
            && asked == calls + 1;
        if !ok {
            failures.push(format!(
                "{name}: expected {status} with {challenge:?}, got {} {seen:?} (introspection calls {calls} → {asked})",
                reply.status
            ));
        }
    }
    idp.patch_introspection_answers(&json!({})).await;
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(service.hello(&token).await.status, 200, "still up");
}

// --- Forged `Host` headers against the RFC 9728 metadata URL a challenge names. ---

/// Sends `GET path` with the raw `Host` header values given, and returns the response head.
fn raw_get_with_hosts(addr: &str, path: &str, hosts: &[&[u8]]) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\n").into_bytes();
    for host in hosts {
        request.extend_from_slice(b"Host: ");
        request.extend_from_slice(host);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    stream.write_all(&request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

fn challenge_of(response: &str) -> Option<&str> {
    response
        .lines()
        .find_map(|l| l.strip_prefix("www-authenticate: "))
}

#[tokio::test]
async fn hostile_hosts_never_reach_the_challenge_or_the_document() {
    let idp = Idp::start().await;
    let service = Service::start(portcullis_e2e::config_for(&idp)).await;
    let addr = service.url.strip_prefix("http://").unwrap().to_owned();
    let hostile: [&[u8]; 5] = [
        b"evil.example\", error=\"none",
        b"user@evil.example",
        b"evil.example/path",
        b"evil.example:99999",
        b"\xffevil",
    ];
    for host in hostile {
        let response = tokio::task::spawn_blocking({
            let addr = addr.clone();
            move || raw_get_with_hosts(&addr, "/hello", &[host])
        })
        .await
        .unwrap();
        assert!(response.starts_with("HTTP/1.1 401"), "{response}");
        assert_eq!(
            challenge_of(&response),
            Some("Bearer"),
            "{host:?}: {response}"
        );
        let document = tokio::task::spawn_blocking({
            let addr = addr.clone();
            move || raw_get_with_hosts(&addr, "/.well-known/oauth-protected-resource", &[host])
        })
        .await
        .unwrap();
        assert!(
            !document.starts_with("HTTP/1.1 200"),
            "no document for {host:?}: {document}"
        );
    }
    // Two Host headers: no origin (the layer does not pick one).
    let response = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw_get_with_hosts(&addr, "/hello", &[b"a.example", b"b.example"])
    })
    .await
    .unwrap();
    assert_eq!(challenge_of(&response), Some("Bearer"), "{response}");
    // Another site's name only goes back to the client that sent it, as https (not loopback).
    let response = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw_get_with_hosts(&addr, "/hello", &[b"other.example"])
    })
    .await
    .unwrap();
    assert_eq!(
        challenge_of(&response),
        Some(
            "Bearer resource_metadata=\"https://other.example/.well-known/oauth-protected-resource\""
        ),
        "{response}"
    );
}
