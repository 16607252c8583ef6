//! Validation cost per algorithm, side by side in one run:
//!
//! - `raw_verify`: aws-lc-rs signature verification alone (the floor);
//! - `jsonwebtoken`: jsonwebtoken 11's decode + verify + claim checks;
//! - `portcullis_cold`: Portcullis' full validation with the verified-token cache off;
//! - `portcullis_hot`: the same token again, cache on (what clients do for a token's lifetime);
//! - `jwt_authorizer`: jwt-authorizer 0.15's `check_auth`;
//! - `tower_oauth2`: tower-oauth2-resource-server 0.12's layer around an empty service;
//! - `introspection/cached_answer`: Portcullis' introspection validator answering from its cache,
//!   for an opaque token (43 characters, as oidc-provider issues them) and for a JWT-sized one.
//!
//! `cargo bench --manifest-path bench/Cargo.toml -p portcullis-bench`

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_core::config::PortcullisConfig;
use portcullis_core::http::{HttpClient, HttpSettings};
use portcullis_core::{BearerToken, EndpointSource, IssuerUrl, SystemClock};
use portcullis_jwt_local::{JwtSettings, JwtValidator};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const AUDIENCE: &str = "urn:portcullis:hello";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Alg {
    name: &'static str,
    kid: &'static str,
    sign: Box<dyn Fn(&[u8]) -> Vec<u8>>,
    raw: Box<dyn Fn(&[u8], &[u8]) -> bool>,
    jwk: Value,
}

fn algorithms() -> Vec<Alg> {
    let rsa =
        Arc::new(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap());
    let rsa_public = rsa.public_key();
    let rsa_jwk = json!({"kty": "RSA", "kid": "rs", "use": "sig", "alg": "RS256",
        "n": b64(rsa_public.modulus().big_endian_without_leading_zero()), "e": b64(rsa_public.exponent().big_endian_without_leading_zero())});
    let rsa_der = rsa_public.as_ref().to_vec();
    let ec = Arc::new(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap());
    let point = ec.public_key().as_ref().to_vec();
    let ec_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "es", "alg": "ES256", "use": "sig", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    let ed = Arc::new(Ed25519KeyPair::generate().unwrap());
    let ed_public = ed.public_key().as_ref().to_vec();
    let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "alg": "EdDSA", "use": "sig", "x": b64(&ed_public)});
    let (r1, e1, d1) = (rsa.clone(), ec.clone(), ed.clone());
    vec![
        Alg {
            name: "RS256",
            kid: "rs",
            sign: Box::new(move |m| {
                let mut s = vec![0; r1.public_modulus_len()];
                r1.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), m, &mut s)
                    .unwrap();
                s
            }),
            raw: Box::new(move |m, s| {
                UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &rsa_der)
                    .verify(m, s)
                    .is_ok()
            }),
            jwk: rsa_jwk,
        },
        Alg {
            name: "ES256",
            kid: "es",
            sign: Box::new(move |m| e1.sign(&SystemRandom::new(), m).unwrap().as_ref().to_vec()),
            raw: Box::new(move |m, s| {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                    .verify(m, s)
                    .is_ok()
            }),
            jwk: ec_jwk,
        },
        Alg {
            name: "EdDSA",
            kid: "ed",
            sign: Box::new(move |m| d1.sign(m).as_ref().to_vec()),
            raw: Box::new(move |m, s| {
                UnparsedPublicKey::new(&signature::ED25519, &ed_public)
                    .verify(m, s)
                    .is_ok()
            }),
            jwk: ed_jwk,
        },
    ]
}

fn token(alg: &Alg, issuer: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": alg.name, "typ": "at+jwt", "kid": alg.kid});
    let claims = json!({"iss": issuer, "aud": AUDIENCE, "sub": "alice", "client_id": "bench", "scope": "hello:read",
        "iat": now, "exp": now + 3600, "jti": "bench-1"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = (alg.sign)(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let algs = algorithms();
    let jwks = json!({"keys": algs.iter().map(|a| a.jwk.clone()).collect::<Vec<_>>()});
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let answer = json!({"active": true, "sub": "alice", "aud": AUDIENCE, "scope": "hello:read", "client_id": "bench", "iss": issuer,
        "exp": SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600});
    let app = axum::Router::new()
        .route(
            "/introspect",
            axum::routing::post(move || std::future::ready(axum::Json(answer.clone()))),
        )
        .route(
            "/jwks",
            axum::routing::get(move || std::future::ready(axum::Json(jwks.clone()))),
        )
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || std::future::ready(axum::Json(discovery.clone()))),
        );
    rt.spawn(async move { axum::serve(listener, app).await });
    let jwks_url = format!("{issuer}/jwks");

    let validator = |capacity: u64| {
        let mut config = PortcullisConfig {
            audience: vec![AUDIENCE.into()],
            ..Default::default()
        };
        config.jwt.cache_capacity = capacity;
        let settings =
            JwtSettings::from_config(&config, IssuerUrl::parse(&issuer, false).unwrap()).unwrap();
        let http = HttpClient::new(HttpSettings::default()).unwrap();
        JwtValidator::new(
            settings,
            EndpointSource::Configured(jwks_url.clone()),
            http,
            Arc::new(SystemClock),
        )
    };
    let cold = validator(0);
    let hot = validator(10_000);
    let authorizer = rt.block_on(async {
        jwt_authorizer::JwtAuthorizer::<Value>::from_jwks_url(&jwks_url)
            .validation(
                jwt_authorizer::Validation::new()
                    .iss(&[issuer.clone()])
                    .aud(&[AUDIENCE]),
            )
            .build()
            .await
            .unwrap()
    });
    let tower_oauth2 = rt.block_on(async {
        let tenant =
            tower_oauth2_resource_server::tenant::TenantConfiguration::builder(issuer.clone())
                .jwks_url(jwks_url.clone())
                .audiences(&[AUDIENCE])
                .build()
                .await
                .unwrap();
        tower_oauth2_resource_server::server::OAuth2ResourceServer::<Value>::builder()
            .add_tenant(tenant)
            .build()
            .await
            .unwrap()
    });
    let layer = tower_oauth2.into_layer::<String>();
    let inner = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let service = tower::Layer::layer(&layer, inner);

    for alg in &algs {
        let token = token(alg, &issuer);
        let bearer = BearerToken::new(token.clone());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig_bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(alg.jwk.clone()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(
            jwk.common
                .key_algorithm
                .map(|a| a.to_string().parse().unwrap())
                .unwrap(),
        );
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&issuer]);
        // Warm the key caches of every validator.
        rt.block_on(async {
            cold.validate_token(&bearer).await.unwrap();
            hot.validate_token(&bearer).await.unwrap();
            authorizer.check_auth(&token).await.unwrap();
        });
        let request = || {
            http::Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(String::new())
                .unwrap()
        };
        assert_eq!(
            rt.block_on(service.clone().oneshot(request()))
                .unwrap()
                .status(),
            200,
            "tower-oauth2 accepts the token"
        );

        let mut group = c.benchmark_group(alg.name);
        group
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));
        group.bench_function("raw_verify", |b| {
            b.iter(|| assert!((alg.raw)(input.as_bytes(), &sig_bytes)))
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap())
        });
        group.bench_function("portcullis_cold", |b| {
            b.to_async(&rt)
                .iter(|| async { cold.validate_token(&bearer).await.unwrap() })
        });
        group.bench_function("portcullis_hot", |b| {
            b.to_async(&rt)
                .iter(|| async { hot.validate_token(&bearer).await.unwrap() })
        });
        group.bench_function("jwt_authorizer", |b| {
            b.to_async(&rt)
                .iter(|| async { authorizer.check_auth(&token).await.unwrap() })
        });
        group.bench_function("tower_oauth2", |b| {
            b.to_async(&rt)
                .iter(|| async { service.clone().oneshot(request()).await.unwrap() })
        });
        group.finish();
    }
}

fn introspection(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let answer = json!({"active": true, "sub": "alice", "aud": AUDIENCE, "scope": "hello:read", "client_id": "bench", "iss": issuer,
        "exp": SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600});
    let app = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move || std::future::ready(axum::Json(answer.clone()))),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let config = PortcullisConfig {
        audience: vec![AUDIENCE.into()],
        ..Default::default()
    };
    let settings = portcullis_introspect_remote::IntrospectionSettings::from_config(
        &config,
        IssuerUrl::parse(&issuer, false).unwrap(),
    );
    let auth = portcullis_core::client_auth::ClientAuth::None {
        client_id: "bench".into(),
    };
    let validator = portcullis_introspect_remote::IntrospectionValidator::new(
        settings,
        EndpointSource::Configured(format!("{issuer}/introspect")),
        auth,
        HttpClient::new(HttpSettings::default()).unwrap(),
        Arc::new(SystemClock),
    );
    let mut group = c.benchmark_group("introspection");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (name, len) in [("cached_answer_opaque_43", 43), ("cached_answer_800", 800)] {
        let token = BearerToken::new("t".repeat(len));
        rt.block_on(validator.introspect(&token)).unwrap();
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { validator.introspect(&token).await.unwrap() })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, introspection);
criterion_main!(benches);
