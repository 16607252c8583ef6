//! Test keys that sign with aws-lc-rs directly (not through jsonwebtoken, so the code under test
//! is not also the code that made the token) and a JWKS server on 127.0.0.1:0 whose answers the
//! test controls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) enum Signer {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

pub(crate) struct TestKey {
    pub kid: String,
    pub alg: &'static str,
    signer: Signer,
    pub jwk: Value,
}

impl TestKey {
    pub(crate) fn es256(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        Self {
            kid: kid.into(),
            alg: "ES256",
            signer: Signer::Es256(pair),
            jwk,
        }
    }

    pub(crate) fn eddsa(kid: &str) -> Self {
        let pair = Ed25519KeyPair::generate().unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pair.public_key().as_ref())});
        Self {
            kid: kid.into(),
            alg: "EdDSA",
            signer: Signer::EdDsa(pair),
            jwk,
        }
    }

    /// Signs with an explicit header.
    pub(crate) fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match &self.signer {
            Signer::Es256(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::EdDsa(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&signature))
    }

    /// Signs with `{"alg", "kid", "typ": "at+jwt"}`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(
            &json!({"alg": self.alg, "kid": self.kid, "typ": "at+jwt"}),
            claims,
        )
    }
}

#[derive(Clone)]
pub(crate) struct JwksReply {
    pub status: StatusCode,
    pub body: String,
    pub cache_control: Option<&'static str>,
}

#[derive(Clone)]
pub(crate) struct FakeJwks {
    pub url: String,
    reply: Arc<Mutex<JwksReply>>,
    hits: Arc<AtomicUsize>,
    /// How long an answer takes, in milliseconds (the answer is the one set when the request
    /// arrived, as a real server's would be).
    delay_ms: Arc<AtomicUsize>,
}

impl FakeJwks {
    pub(crate) async fn start(keys: &[&TestKey]) -> Self {
        let reply = Arc::new(Mutex::new(JwksReply {
            status: StatusCode::OK,
            body: String::new(),
            cache_control: None,
        }));
        let hits = Arc::new(AtomicUsize::new(0));
        let delay_ms = Arc::new(AtomicUsize::new(5));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/jwks", get(serve)).with_state((
            reply.clone(),
            hits.clone(),
            delay_ms.clone(),
        ));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let server = Self {
            url,
            reply,
            hits,
            delay_ms,
        };
        server.publish(keys);
        server
    }

    pub(crate) fn publish(&self, keys: &[&TestKey]) {
        let body =
            json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string();
        self.set(JwksReply {
            status: StatusCode::OK,
            body,
            cache_control: None,
        });
    }

    pub(crate) fn set(&self, reply: JwksReply) {
        *self.reply.lock().unwrap() = reply;
    }

    pub(crate) fn fail_with(&self, status: StatusCode, body: &str) {
        self.set(JwksReply {
            status,
            body: body.into(),
            cache_control: None,
        });
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

type ServerState = (Arc<Mutex<JwksReply>>, Arc<AtomicUsize>, Arc<AtomicUsize>);

async fn serve(
    State((reply, hits, delay_ms)): State<ServerState>,
) -> (StatusCode, HeaderMap, String) {
    let reply = reply.lock().unwrap().clone();
    hits.fetch_add(1, Ordering::SeqCst);
    let delay = delay_ms.load(Ordering::SeqCst) as u64;
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(cc) = reply.cache_control {
        headers.insert("cache-control", HeaderValue::from_static(cc));
    }
    (reply.status, headers, reply.body)
}
