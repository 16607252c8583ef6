//! The development issuer: an in-process OpenID Provider on 127.0.0.1 that serves discovery and
//! a JWKS, and mints ES256 access tokens, so an example runs without any IdP.
//!
//! It is for local development only: its key lives in memory, anyone who can reach the process
//! can get tokens from it, and the starter uses it only when no issuer is configured and the
//! application asked for it ([`crate::PortcullisBuilder::dev_issuer_when_unconfigured`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// A running development issuer. Dropping it stops its server.
pub struct DevIssuer {
    issuer: String,
    audience: String,
    kid: String,
    key: Arc<EcdsaKeyPair>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish()
    }
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DevIssuer {
    /// Generates a P-256 key and starts serving on a free loopback port.
    pub async fn start(audience: impl Into<String>) -> std::io::Result<Self> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| std::io::Error::other("cannot generate the development issuer's key"))?;
        let point = key.public_key().as_ref();
        let kid = format!("dev-{}", &b64(&point[1..9]));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
        });
        let jwks = json!({"keys": [jwk]});
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || std::future::ready(Json(metadata.clone()))),
            )
            .route("/jwks", get(move || std::future::ready(Json(jwks.clone()))));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("portcullis: the development issuer stopped: {e}");
            }
        });
        Ok(Self {
            issuer,
            audience: audience.into(),
            kid,
            key: Arc::new(key),
            server,
        })
    }

    /// The issuer identifier (`http://127.0.0.1:<port>`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience its tokens carry.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Mints an RFC 9068 access token for `subject` with `scopes`.
    pub fn mint(&self, subject: &str, scopes: &[&str], lifetime: Duration) -> String {
        let mut claims = Map::new();
        claims.insert("sub".into(), subject.into());
        claims.insert("scope".into(), scopes.join(" ").into());
        claims.insert("client_id".into(), "portcullis-dev".into());
        self.mint_claims(claims, lifetime)
    }

    /// Mints a token with any claims; `iss`, `aud`, `iat`, `exp` and `jti` are added when absent.
    pub fn mint_claims(&self, mut claims: Map<String, Value>, lifetime: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        claims
            .entry("iss")
            .or_insert_with(|| self.issuer.clone().into());
        claims
            .entry("aud")
            .or_insert_with(|| self.audience.clone().into());
        claims.entry("iat").or_insert_with(|| now.into());
        claims
            .entry("exp")
            .or_insert_with(|| (now + lifetime.as_secs()).into());
        claims
            .entry("jti")
            .or_insert_with(|| format!("dev-{now}-{}", rand_suffix()).into());
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(Value::Object(claims).to_string().as_bytes())
        );
        match self.key.sign(&SystemRandom::new(), input.as_bytes()) {
            Ok(signature) => format!("{input}.{}", b64(signature.as_ref())),
            // Signing with a freshly generated key does not fail; an unsigned string would be
            // refused by every validator, never accepted.
            Err(_) => format!("{input}."),
        }
    }
}

fn rand_suffix() -> String {
    let mut bytes = [0u8; 6];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    b64(&bytes)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
