//! [`MockIssuer`]: an OpenID Provider on 127.0.0.1 for tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis::PortcullisConfig;
use portcullis::Secret;
use portcullis::config::{ClientAuthMethod, Mode};
use portcullis::dev::{DevKey, rand_suffix, unix_now};
use portcullis::unstable::core::sync::lock;
use portcullis::{Portcullis, StartupError};
use serde_json::{Map, Value, json};

/// The audience a mock issuer's tokens carry unless told otherwise.
pub const DEFAULT_AUDIENCE: &str = "api://test";
/// The client id the introspection endpoint accepts (HTTP Basic).
pub const CLIENT_ID: &str = "portcullis-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "portcullis-test-secret";

/// An OpenID Provider on `127.0.0.1:0`: discovery, JWKS (ES256), RFC 7662 introspection (for
/// every token it issued, JWT or opaque), userinfo, all on a free port, stopped on drop.
pub struct MockIssuer {
    state: Arc<IssuerState>,
    server: tokio::task::JoinHandle<()>,
}

struct IssuerState {
    issuer: String,
    audience: String,
    key: DevKey,
    /// Every token issued, with its claims.
    issued: Mutex<HashMap<String, Map<String, Value>>>,
    revoked: Mutex<HashSet<String>>,
    userinfo: Mutex<HashMap<String, Map<String, Value>>>,
    introspection_calls: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIssuer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for MockIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockIssuer {
    /// Starts an issuer whose tokens carry the audience `api://test`.
    pub async fn start() -> std::io::Result<Self> {
        Self::with_audience(DEFAULT_AUDIENCE).await
    }

    /// Starts an issuer whose tokens carry `audience`.
    pub async fn with_audience(audience: impl Into<String>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(IssuerState {
            issuer,
            audience: audience.into(),
            key: DevKey::generate()?,
            issued: Mutex::default(),
            revoked: Mutex::default(),
            userinfo: Mutex::default(),
            introspection_calls: Default::default(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(metadata))
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .route("/userinfo", get(userinfo))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("portcullis-test: the mock issuer stopped: {e}");
            }
        });
        Ok(Self { state, server })
    }

    /// The issuer identifier (`http://127.0.0.1:<port>`).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The audience its tokens carry by default.
    pub fn audience(&self) -> &str {
        &self.state.audience
    }

    /// A configuration that trusts this issuer (`mode = jwt`), with the introspection client set,
    /// so switching `mode` is all a test changes.
    pub fn config(&self) -> PortcullisConfig {
        let mut config = PortcullisConfig {
            issuer: Some(self.state.issuer.clone()),
            audience: vec![self.state.audience.clone()],
            ..PortcullisConfig::default()
        };
        config.introspection.client_id = Some(CLIENT_ID.into());
        config.introspection.client_secret = Some(Secret::new(CLIENT_SECRET));
        config.introspection.auth_method = ClientAuthMethod::ClientSecretBasic;
        config
    }

    /// The configuration with another `mode`.
    pub fn config_with_mode(&self, mode: Mode) -> PortcullisConfig {
        PortcullisConfig {
            mode,
            ..self.config()
        }
    }

    /// Portcullis built from [`MockIssuer::config`], with test authentication on
    /// ([`portcullis::PortcullisBuilder::test_authentication`]) so that requests carrying
    /// [`crate::RequestExt::with_jwt`] claims pass. With a configuration of your own, build it
    /// the same way: `Portcullis::builder().config(config).test_authentication().build()`.
    pub async fn portcullis(&self) -> Result<Portcullis, StartupError> {
        Portcullis::builder()
            .config(self.config())
            .test_authentication()
            .build()
            .await
    }

    /// A token builder: subject `user`, no scope, this issuer's audience, one hour.
    pub fn token(&self) -> TokenBuilder<'_> {
        TokenBuilder {
            issuer: self,
            claims: Map::new(),
            lifetime: Some(Duration::from_secs(3600)),
            expired_for: None,
            typ: Some("at+jwt"),
        }
    }

    /// Sets what userinfo answers for `subject` (besides `sub`).
    pub fn set_userinfo(&self, subject: &str, claims: Value) {
        let claims = match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        lock(&self.state.userinfo).insert(subject.to_owned(), claims);
    }

    /// Introspection answers `active: false` for `token` from now on.
    pub fn revoke(&self, token: &str) {
        lock(&self.state.revoked).insert(token.to_owned());
    }

    /// How many introspection calls were answered.
    pub fn introspection_calls(&self) -> u64 {
        self.state
            .introspection_calls
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Builds a token of a [`MockIssuer`]: a signed JWT ([`TokenBuilder::jwt`]) or an opaque one
/// that only introspection understands ([`TokenBuilder::opaque`]).
#[derive(Debug)]
pub struct TokenBuilder<'a> {
    issuer: &'a MockIssuer,
    claims: Map<String, Value>,
    lifetime: Option<Duration>,
    expired_for: Option<Duration>,
    typ: Option<&'static str>,
}

impl TokenBuilder<'_> {
    /// `sub`.
    #[must_use]
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.claim("sub", subject.into())
    }

    /// `scope`, space-delimited.
    #[must_use]
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claim("scope", joined.join(" "))
    }

    /// `aud` (a string; use [`TokenBuilder::claim`] for a list).
    #[must_use]
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.claim("aud", audience.into())
    }

    /// `client_id`.
    #[must_use]
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", client_id.into())
    }

    /// Lifetime from now (`exp`).
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self.expired_for = None;
        self
    }

    /// A token that expired `ago`.
    #[must_use]
    pub fn expired(mut self, ago: Duration) -> Self {
        self.expired_for = Some(ago);
        self
    }

    /// No `exp` at all (which Portcullis refuses).
    #[must_use]
    pub fn without_expiry(mut self) -> Self {
        self.lifetime = None;
        self.expired_for = None;
        self
    }

    /// The header's `typ` (default `at+jwt`; `None` leaves it out, as some IdPs do).
    #[must_use]
    pub fn typ(mut self, typ: Option<&'static str>) -> Self {
        self.typ = typ;
        self
    }

    /// Any claim; it replaces a default (`iss`, `aud`, `iat`, `exp`, `jti`) of the same name.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    fn complete(&self) -> Map<String, Value> {
        let state = &self.issuer.state;
        let now = unix_now();
        let mut claims = self.claims.clone();
        claims
            .entry("iss")
            .or_insert_with(|| state.issuer.clone().into());
        claims
            .entry("aud")
            .or_insert_with(|| state.audience.clone().into());
        claims.entry("sub").or_insert_with(|| "user".into());
        claims
            .entry("client_id")
            .or_insert_with(|| CLIENT_ID.into());
        claims.entry("iat").or_insert_with(|| now.into());
        let exp = match (self.expired_for, self.lifetime) {
            (Some(ago), _) => Some(now.saturating_sub(ago.as_secs().max(1))),
            (None, Some(lifetime)) => Some(now.saturating_add(lifetime.as_secs())),
            (None, None) => None,
        };
        if let Some(exp) = exp {
            claims.entry("exp").or_insert_with(|| exp.into());
        }
        claims
            .entry("jti")
            .or_insert_with(|| format!("test-{}", rand_suffix()).into());
        claims
    }

    /// A signed JWT (ES256, the issuer's key); introspection knows it too.
    pub fn jwt(self) -> String {
        let claims = self.complete();
        let token = self.issuer.state.key.sign_with_typ(&claims, self.typ);
        lock(&self.issuer.state.issued).insert(token.clone(), claims);
        token
    }

    /// An opaque token: random, meaningful only to the issuer's introspection endpoint.
    pub fn opaque(self) -> String {
        let claims = self.complete();
        let token = format!("opaque-{}{}", rand_suffix(), rand_suffix());
        lock(&self.issuer.state.issued).insert(token.clone(), claims);
        token
    }
}

async fn metadata(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code"],
    }))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    Json(json!({"keys": [state.key.jwk()]}))
}

/// RFC 7662: HTTP Basic client authentication; `active: false` for unknown, revoked or
/// expired tokens.
async fn introspect(
    State(state): State<Arc<IssuerState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state
        .introspection_calls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorized = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str());
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let Some(token) = form.get("token") else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    Json(answer(&state, token)).into_response()
}

fn answer(state: &IssuerState, token: &str) -> Value {
    if lock(&state.revoked).contains(token) {
        return json!({"active": false});
    }
    let Some(claims) = lock(&state.issued).get(token).cloned() else {
        return json!({"active": false});
    };
    let expired = claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_some_and(|exp| exp <= unix_now());
    if expired {
        return json!({"active": false});
    }
    let mut answer = claims;
    answer.insert("active".into(), true.into());
    answer.insert("token_type".into(), "Bearer".into());
    Value::Object(answer)
}

/// Userinfo for an active token: `sub` and what [`MockIssuer::set_userinfo`] set.
async fn userinfo(State(state): State<Arc<IssuerState>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let active = token.map(|t| answer(&state, t));
    let Some(sub) = active
        .as_ref()
        .filter(|a| a.get("active") == Some(&Value::Bool(true)))
        .and_then(|a| a.get("sub"))
        .and_then(Value::as_str)
    else {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                http::header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\"",
            )],
        )
            .into_response();
    };
    let mut claims = lock(&state.userinfo).get(sub).cloned().unwrap_or_default();
    claims.insert("sub".into(), sub.into());
    Json(Value::Object(claims)).into_response()
}

/// Decodes a JWT's payload without verifying it (for assertions in tests).
pub fn decode_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}
