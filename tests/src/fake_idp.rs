//! A small fake IdP for fault injection, on 127.0.0.1:0: each endpoint (discovery, JWKS,
//! introspection, userinfo) answers normally or with the fault the test sets — a 500, garbage,
//! an oversized body, silence past every timeout, or a reset connection. It speaks raw HTTP/1.1
//! over TCP so that it can misbehave in ways a web framework would not allow. It is never the
//! only proof that a feature works: the real IdP tests are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::b64;

/// How an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Normally.
    None,
    /// `500 Internal Server Error`.
    ServerError,
    /// `200` with a body that is not JSON.
    Garbage,
    /// `200` with a 5 MB body.
    Oversized,
    /// Nothing, for 30 s.
    Slow,
    /// The connection is reset without an answer.
    Reset,
}

/// The endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// `/jwks`.
    Jwks,
    /// `/introspect`.
    Introspection,
    /// `/userinfo`.
    Userinfo,
}

/// A running fake IdP.
#[derive(Debug)]
pub struct FakeIdp {
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
    faults: Arc<Mutex<HashMap<Endpoint, Fault>>>,
    key: Arc<EcdsaKeyPair>,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeIdp {
    /// Starts it, every endpoint answering normally.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let key = Arc::new(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key"));
        let faults: Arc<Mutex<HashMap<Endpoint, Fault>>> = Arc::default();
        let point = key.public_key().as_ref().to_vec();
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "fake", "alg": "ES256", "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])}]});
        let state = Arc::new(State {
            issuer: issuer.clone(),
            jwks: Mutex::new(jwks),
            faults: faults.clone(),
            hits: Mutex::default(),
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move { state.serve(socket).await });
            }
        });
        Self {
            issuer,
            faults,
            key,
            server,
            state: shared,
        }
    }

    /// Sets how an endpoint answers from now on.
    pub fn set(&self, endpoint: Endpoint, fault: Fault) {
        self.faults.lock().expect("faults").insert(endpoint, fault);
    }

    /// How many requests `endpoint` received so far (faulty answers included).
    pub fn hits(&self, endpoint: Endpoint) -> usize {
        self.state
            .hits
            .lock()
            .map(|hits| hits.get(&endpoint).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Adds keys to the published JWKS.
    pub fn publish_extra(&self, keys: Vec<Value>) {
        let mut jwks = self.state.jwks.lock().expect("jwks");
        if let Some(list) = jwks["keys"].as_array_mut() {
            list.extend(keys);
        }
    }

    /// This IdP's signing key as a public JWK under another `kid` (to publish it as something else).
    pub fn public_jwk(&self, kid: &str) -> Value {
        let point = self.key.public_key().as_ref().to_vec();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    /// A valid ES256 access token for `audience` with scope `hello:read`, subject `alice`.
    pub fn token(&self, audience: &str) -> String {
        self.token_with_kid(audience, "fake")
    }

    /// The same, signed by this IdP's key but naming `kid` in the header.
    pub fn token_with_kid(&self, audience: &str, kid: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        let claims = json!({"iss": self.issuer, "aud": audience, "sub": "alice", "scope": "hello:read openid",
            "iat": now, "exp": now + 300, "client_id": "fake-client"});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

#[derive(Debug)]
struct State {
    issuer: String,
    jwks: Mutex<Value>,
    faults: Arc<Mutex<HashMap<Endpoint, Fault>>>,
    /// Requests received per endpoint, whatever the answer.
    hits: Mutex<HashMap<Endpoint, usize>>,
}

impl State {
    async fn serve(&self, mut socket: TcpStream) {
        let Some(path) = read_request(&mut socket).await else {
            return;
        };
        let endpoint = match path.as_str() {
            "/.well-known/openid-configuration" => Endpoint::Discovery,
            "/jwks" => Endpoint::Jwks,
            "/introspect" => Endpoint::Introspection,
            "/userinfo" => Endpoint::Userinfo,
            _ => {
                let _ = respond(&mut socket, "404 Not Found", "{}").await;
                return;
            }
        };
        if let Ok(mut hits) = self.hits.lock() {
            *hits.entry(endpoint).or_default() += 1;
        }
        let fault = self
            .faults
            .lock()
            .map(|f| f.get(&endpoint).copied().unwrap_or(Fault::None))
            .unwrap_or(Fault::None);
        match fault {
            Fault::None => {
                let body = self.body(endpoint).to_string();
                let _ = respond(&mut socket, "200 OK", &body).await;
            }
            Fault::ServerError => {
                let _ = respond(&mut socket, "500 Internal Server Error", "oops").await;
            }
            Fault::Garbage => {
                let _ = respond(&mut socket, "200 OK", "<html>this is not JSON").await;
            }
            Fault::Oversized => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[";
                if socket.write_all(head.as_bytes()).await.is_ok() {
                    let chunk = vec![b'1'; 64 * 1024];
                    for _ in 0..80 {
                        if socket.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                }
            }
            Fault::Slow => tokio::time::sleep(Duration::from_secs(30)).await,
            Fault::Reset => {
                // A zero linger makes the close a reset (RST); with zero it does not block.
                #[allow(
                    deprecated,
                    reason = "SO_LINGER 0 is exactly the reset this fault needs"
                )]
                let _ = socket.set_linger(Some(Duration::ZERO));
                drop(socket);
            }
        }
    }

    fn body(&self, endpoint: Endpoint) -> Value {
        let issuer = &self.issuer;
        match endpoint {
            Endpoint::Discovery => json!({
                "issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
                "introspection_endpoint": format!("{issuer}/introspect"),
                "userinfo_endpoint": format!("{issuer}/userinfo"),
            }),
            Endpoint::Jwks => self.jwks.lock().map(|j| j.clone()).unwrap_or_default(),
            Endpoint::Introspection => {
                json!({"active": true, "sub": "alice", "aud": crate::AUDIENCE,
                "scope": "hello:read openid", "client_id": "fake-client", "iss": issuer})
            }
            Endpoint::Userinfo => json!({"sub": "alice", "name": "Alice"}),
        }
    }
}

/// Reads the request line and headers (and a declared body); returns the path.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let head_end = text.find("\r\n\r\n")? + 4;
    let length: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let path = text
        .split_whitespace()
        .nth(1)?
        .split('?')
        .next()?
        .to_owned();
    Some(path)
}

async fn respond(socket: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await
}
