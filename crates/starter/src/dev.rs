//! The development issuer: an in-process OpenID Provider on 127.0.0.1 that serves discovery and
//! a JWKS, and mints ES256 access tokens, so an example runs without any IdP.
//!
//! `portcullis mint --issuer <its URL>` gets tokens from it (`POST /mint`).
//!
//! It is for local development only: its key lives in memory, anyone who can reach the process
//! can get tokens from it, and the starter uses it only when no issuer is configured and the
//! application asked for it ([`crate::PortcullisBuilder::dev_issuer_when_unconfigured`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// An ES256 signing key with its JWK: what the development issuer and `portcullis-test`'s
/// mock issuer sign with ([`portcullis_core::jws::SigningKey`], the one signer).
#[derive(Debug)]
pub struct DevKey {
    kid: String,
    key: portcullis_core::jws::SigningKey,
}

impl DevKey {
    /// Generates a P-256 key.
    pub fn generate() -> std::io::Result<Self> {
        let key = portcullis_core::jws::SigningKey::generate_es256(|point| {
            format!("dev-{}", b64(&point[1..9]))
        })
        .map_err(std::io::Error::other)?;
        let kid = key.kid().unwrap_or_default().to_owned();
        Ok(Self { kid, key })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        self.key.public_jwk().unwrap_or(Value::Null)
    }

    /// Signs `claims` as a compact JWS with `typ: at+jwt`.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        self.sign_with_typ(claims, Some("at+jwt"))
    }

    /// Signs `claims` with the given `typ` (or none).
    pub fn sign_with_typ(&self, claims: &Map<String, Value>, typ: Option<&str>) -> String {
        // Signing with a generated key does not fail; an unsigned string would be refused by
        // every validator, never accepted.
        self.key.sign(claims, typ).unwrap_or_default()
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What `POST /mint` on the development issuer takes (all optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MintRequest {
    /// `sub` (default `developer`).
    pub sub: Option<String>,
    /// Scopes, space-delimited.
    pub scope: Option<String>,
    /// Lifetime in seconds (default 3600, at most one day).
    pub lifetime: Option<u64>,
    /// More claims; `iss`, `aud`, `iat`, `exp`, `jti` are filled in when absent.
    pub claims: Map<String, Value>,
}

/// A running development issuer. Dropping it stops its server.
pub struct DevIssuer {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    issuer: String,
    audience: String,
    key: DevKey,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.shared.issuer)
            .field("kid", &self.shared.key.kid)
            .finish()
    }
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DevIssuer {
    /// Generates a P-256 key and starts serving on a free loopback port: discovery, the JWKS,
    /// and `POST /mint` (what `portcullis mint --issuer <url>` calls).
    pub async fn start(audience: impl Into<String>) -> std::io::Result<Self> {
        let key = DevKey::generate()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
        });
        let jwks = json!({"keys": [key.jwk()]});
        let shared = Arc::new(Shared {
            issuer,
            audience: audience.into(),
            key,
        });
        let minter = shared.clone();
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || std::future::ready(Json(metadata.clone()))),
            )
            .route("/jwks", get(move || std::future::ready(Json(jwks.clone()))))
            .route(
                "/mint",
                post(move |Json(request): Json<MintRequest>| {
                    let token = minter.mint_request(request);
                    std::future::ready(Json(json!({
                        "access_token": token,
                        "token_type": "Bearer",
                    })))
                }),
            );
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("portcullis: the development issuer stopped: {e}");
            }
        });
        Ok(Self { shared, server })
    }

    /// The issuer identifier (`http://127.0.0.1:<port>`).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The audience its tokens carry.
    pub fn audience(&self) -> &str {
        &self.shared.audience
    }

    /// Mints an RFC 9068 access token for `subject` with `scopes`.
    pub fn mint(&self, subject: &str, scopes: &[&str], lifetime: Duration) -> String {
        self.shared.mint_request(MintRequest {
            sub: Some(subject.into()),
            scope: Some(scopes.join(" ")),
            lifetime: Some(lifetime.as_secs()),
            claims: Map::new(),
        })
    }

    /// Mints a token with any claims; `iss`, `aud`, `iat`, `exp` and `jti` are added when absent.
    pub fn mint_claims(&self, claims: Map<String, Value>, lifetime: Duration) -> String {
        self.shared.mint_claims(claims, lifetime)
    }
}

impl Shared {
    fn mint_request(&self, request: MintRequest) -> String {
        let mut claims = request.claims;
        claims
            .entry("sub")
            .or_insert_with(|| request.sub.unwrap_or_else(|| "developer".into()).into());
        if let Some(scope) = request.scope.filter(|s| !s.trim().is_empty()) {
            claims.entry("scope").or_insert_with(|| scope.into());
        }
        claims
            .entry("client_id")
            .or_insert_with(|| "portcullis-dev".into());
        let lifetime = request.lifetime.unwrap_or(3600).min(86_400);
        self.mint_claims(claims, Duration::from_secs(lifetime))
    }

    fn mint_claims(&self, mut claims: Map<String, Value>, lifetime: Duration) -> String {
        let now = unix_now();
        claims
            .entry("iss")
            .or_insert_with(|| self.issuer.clone().into());
        claims
            .entry("aud")
            .or_insert_with(|| self.audience.clone().into());
        claims.entry("iat").or_insert_with(|| now.into());
        claims
            .entry("exp")
            .or_insert_with(|| now.saturating_add(lifetime.as_secs()).into());
        claims
            .entry("jti")
            .or_insert_with(|| format!("dev-{now}-{}", rand_suffix()).into());
        self.key.sign(&claims)
    }
}

/// A short random string.
pub fn rand_suffix() -> String {
    let mut bytes = [0u8; 6];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    b64(&bytes)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
