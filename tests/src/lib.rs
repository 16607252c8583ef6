#![allow(
    clippy::expect_used,
    reason = "test fixture: a broken fixture must stop the test with its message"
)]
//! Fixtures for the end-to-end tests: the real test OpenID Provider (panva `oidc-provider`, run
//! by Node.js from `tests/idp`) on a free loopback port, and hello-api served in-process against
//! it.
//!
//! Every test starts its own IdP and service on free ports, so tests run in parallel. If the IdP
//! cannot start (no Node.js, `npm ci` not run), the fixture panics with what to do: tests never
//! skip silently.

pub mod dot;
pub mod fake_idp;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis::Secret;
use portcullis::config::Mode;
use portcullis::{ConfigLoader, Portcullis, PortcullisConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// The API audience hello-api accepts in these tests (a resource server of the test IdP).
pub const AUDIENCE: &str = "urn:portcullis:hello";

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes one part of a JWT as JSON.
pub fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// A token request as the client `portcullis-test` (HTTP Basic): the answer, which must be a
/// success.
pub(crate) async fn token_request(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Value {
    let response = http
        .post(url)
        .basic_auth("portcullis-test", Some("test-secret"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("token response JSON");
    assert!(status.is_success(), "token request failed: {status} {body}");
    body
}

/// A running test IdP.
#[derive(Debug)]
pub struct Idp {
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    keys_file: PathBuf,
    /// Older key files still published (a rotation's overlap).
    older_keys: Vec<PathBuf>,
    http: reqwest::Client,
}

/// A token endpoint answer.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `access_token`.
    pub access_token: String,
    /// `id_token`, when `openid` was asked for.
    pub id_token: Option<String>,
}

fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp")
}

pub(crate) fn unique_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir =
        std::env::temp_dir().join(format!("portcullis-e2e-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary folder");
    dir
}

/// A free loopback port for an IdP, below the kernel's ephemeral port range: a port that
/// `bind(0)` never hands out, so one freed by a stopped IdP stays free until it comes back on it.
/// Ports are handed out in turn from a start that depends on the process id (test binaries may
/// run side by side), each checked free by binding it. Falls back to `0` (any free port) when
/// the ephemeral range leaves no room below it.
pub fn reserved_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    const FIRST: u32 = 10_000;
    if low <= FIRST + 1000 {
        return 0;
    }
    let span = low - FIRST;
    let start = std::process::id().wrapping_mul(2_654_435_761) % span;
    for _ in 0..1000 {
        let offset = (start + NEXT.fetch_add(1, Ordering::SeqCst)) % span;
        let port = u16::try_from(FIRST + offset).unwrap_or(0);
        if port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    0
}

impl Idp {
    /// Starts the IdP with fresh keys on a free port.
    pub async fn start() -> Self {
        let dir = unique_dir();
        let keys_file = dir.join("keys-1.json");
        let mut idp = Self {
            child: None,
            stderr: Arc::new(Mutex::new(String::new())),
            issuer: String::new(),
            port: 0,
            dir,
            keys_file,
            older_keys: Vec::new(),
            http: reqwest::Client::new(),
        };
        idp.spawn(reserved_port()).await;
        idp
    }

    async fn spawn(&mut self, port: u16) {
        let server = idp_dir().join("server.mjs");
        assert!(
            idp_dir().join("node_modules/oidc-provider").is_dir(),
            "the test IdP is not installed: run `npm ci --prefix tests/idp` (needs Node.js 20+ and npm)"
        );
        let mut command = Command::new("node");
        command.arg(&server).arg("--keys").arg(&self.keys_file);
        for older in &self.older_keys {
            command.arg("--keys").arg(older);
        }
        let mut child = command
            .arg("--port")
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` for the test IdP ({e}): install Node.js 20+ and run `npm ci --prefix tests/idp`"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = self.stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut text = stderr.lock().expect("stderr buffer");
                if text.len() < 64 * 1024 {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let mut lines = BufReader::new(stdout).lines();
        let started = std::time::Instant::now();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let exited = child.try_wait();
                panic!(
                    "the test IdP did not start on port {port} ({other:?} after {:?}; process: {exited:?}); its stderr:\n{}",
                    started.elapsed(),
                    self.stderr.lock().expect("stderr buffer")
                );
            }
        };
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("unexpected IdP output {line:?}: {e}"));
        self.issuer = ready["issuer"].as_str().expect("issuer").to_owned();
        self.port = u16::try_from(ready["port"].as_u64().expect("port")).expect("port fits u16");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// Stops the IdP (its port stays known).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Restarts on the same port with a new key set: key rotation at the IdP, old keys gone.
    pub async fn restart_with_new_keys(&mut self) {
        self.stop().await;
        self.keys_file = self.new_keys_file();
        self.older_keys.clear();
        self.restart_on_same_port().await;
    }

    /// Restarts on the same port signing with a new key set while still publishing the current
    /// one: the overlap of a key rotation.
    pub async fn rotate_keys_keeping_the_old(&mut self) {
        self.stop().await;
        let new = self.new_keys_file();
        let old = std::mem::replace(&mut self.keys_file, new);
        self.older_keys.insert(0, old);
        self.restart_on_same_port().await;
    }

    /// Restarts on the same port publishing only the signing key set: the end of the overlap.
    pub async fn retire_old_keys(&mut self) {
        self.stop().await;
        self.older_keys.clear();
        self.restart_on_same_port().await;
    }

    fn new_keys_file(&self) -> PathBuf {
        let n = std::fs::read_dir(&self.dir).map_or(1, |d| d.count() + 1);
        self.dir.join(format!("keys-{n}.json"))
    }

    /// Starts again on the same port with the same keys. The port is outside the kernel's
    /// ephemeral range (see [`reserved_port`]), so no other test's `bind(0)` takes it while the
    /// IdP is down.
    pub async fn restart_on_same_port(&mut self) {
        self.stop().await;
        let port = self.port;
        self.spawn(port).await;
        assert_eq!(self.port, port, "the IdP came back on another port");
    }

    /// A user token from the test grant: `username`, space-delimited `scope`, optional
    /// `resource` (a resource gives a JWT access token; none an opaque one).
    pub async fn user_token(&self, username: &str, scope: &str, resource: Option<&str>) -> Tokens {
        let mut form = vec![
            ("grant_type", "urn:portcullis:grant-type:test-password"),
            ("username", username),
            ("scope", scope),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let body = token_request(&self.http, &format!("{}/token", self.issuer), &form).await;
        Tokens {
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            id_token: body["id_token"].as_str().map(str::to_owned),
        }
    }

    /// A machine token (client credentials grant) of the client `portcullis-test`, for
    /// `resource` (a JWT for a JWT resource, else opaque).
    pub async fn client_credentials_token(&self, scope: &str, resource: &str) -> String {
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("resource", resource),
        ];
        token_request(&self.http, &format!("{}/token", self.issuer), &form).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Revokes a token at the IdP (RFC 7009), as the client it was issued to.
    pub async fn revoke(&self, token: &str) {
        let response = self
            .http
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth("portcullis-test", Some("test-secret"))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .expect("revocation request");
        assert!(
            response.status().is_success(),
            "revocation failed: {}",
            response.status()
        );
    }

    /// Writes the resource server's private key (for `private_key_jwt`) to a PEM file.
    pub fn client_key_file(&self) -> PathBuf {
        let path = self.dir.join("client-key.pem");
        let pem = self.keys()["client"]["privatePem"]
            .as_str()
            .expect("client key")
            .to_owned();
        std::fs::write(&path, pem).expect("write the client key");
        path
    }

    /// How many requests each IdP path served since this IdP process started.
    pub async fn stats(&self) -> HashMap<String, u64> {
        self.http
            .get(format!("{}/__test/stats", self.issuer))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Makes the IdP's endpoint at `path` (e.g. `/token/introspection`) misbehave, in the
    /// provider's own request hook: `server-error`, `garbage`, `oversized`, `slow`, `reset`, or
    /// `none` to heal it.
    pub async fn inject_fault(&self, path: &str, fault: fake_idp::Fault) {
        use fake_idp::Fault;
        let name = match fault {
            Fault::None => "none",
            Fault::ServerError => "server-error",
            Fault::Garbage => "garbage",
            Fault::Oversized => "oversized",
            Fault::Slow => "slow",
            Fault::Reset => "reset",
        };
        let response = self
            .http
            .post(format!(
                "{}/__test/fault?path={path}&fault={name}",
                self.issuer
            ))
            .send()
            .await
            .expect("fault injection request");
        assert!(
            response.status().is_success(),
            "fault injection refused: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Sets (or, for `null`, removes) members of every active introspection answer the IdP
    /// gives from now on; `{}` stops it.
    pub async fn patch_introspection_answers(&self, patch: &Value) {
        let response = self
            .http
            .post(format!("{}/__test/introspection-patch", self.issuer))
            .body(patch.to_string())
            .send()
            .await
            .expect("introspection patch request");
        assert!(
            response.status().is_success(),
            "introspection patch refused: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// How clients authenticated at `/token` and `/token/introspection`, in order: one object
    /// per request with `path`, `status`, `client_id`, `grant_type`, `basic` (an
    /// `Authorization: Basic` header), `secret_in_body`, `assertion_type` and `assertion_aud`
    /// (the client assertion's `aud`).
    pub async fn client_auth_log(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/__test/client-auth", self.issuer))
            .send()
            .await
            .expect("client-auth log")
            .json()
            .await
            .expect("client-auth log JSON")
    }

    /// The IdP's key file (private keys included): for forging tokens with its own keys.
    pub fn keys(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.keys_file).expect("keys file"))
            .expect("keys JSON")
    }

    /// Signs `header.claims` with the IdP's own RSA key (RS256).
    pub fn sign_rs256(&self, header: &Value, claims: &Value) -> String {
        self.sign_rs256_input(&format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        ))
    }

    /// Signs a JWS signing input (`b64(header).b64(claims)`) with the IdP's own RSA key.
    pub fn sign_rs256_input(&self, input: &str) -> String {
        sign_rs256_input_with(&self.keys(), input)
    }
}

/// Signs a JWS signing input with the RSA key of a key file's contents ([`Idp::keys`]), e.g.
/// one the IdP has since rotated away.
pub fn sign_rs256_input_with(keys: &Value, input: &str) -> String {
    let pem = keys["rsa"]["privatePem"].as_str().expect("privatePem");
    let key = RsaKeyPair::from_pkcs8(&pem_to_der(pem)).expect("RSA key");
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{input}.{}", b64(&signature))
}

impl Drop for Idp {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PEM → DER.
pub fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM base64")
}

/// The configuration hello-api uses against `idp` (local JWT validation): the example's own
/// `config/default.toml` (claim mapping, access rules), with the test IdP as issuer.
pub fn config_for(idp: &Idp) -> PortcullisConfig {
    config_for_issuer(&idp.issuer)
}

/// hello-api's configuration (`config/default.toml`: its rules) for any issuer, with
/// [`AUDIENCE`].
pub fn config_for_issuer(issuer: &str) -> PortcullisConfig {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut config = ConfigLoader::new()
        .dir(dir)
        .load()
        .expect("config/default.toml loads")
        .config;
    config.issuer = Some(issuer.to_owned());
    config.audience = vec![AUDIENCE.into()];
    config
}

/// The same service in introspection mode, as the `hello-api` client (client_secret_basic).
pub fn introspect_config_for(idp: &Idp) -> PortcullisConfig {
    let mut config = config_for(idp);
    config.mode = Mode::Introspect;
    config.introspection.client_id = Some("hello-api".into());
    config.introspection.client_secret = Some(Secret::new("hello-secret"));
    config
}

/// One validation mode and the IdP resources whose tokens it can check: JWT access tokens for
/// `jwt`, opaque ones for `introspect` (the test IdP refuses to introspect its own JWTs).
#[derive(Debug, Clone, Copy)]
pub struct Kit {
    /// The mode.
    pub mode: Mode,
    /// A resource whose tokens carry `aud` = [`AUDIENCE`].
    pub hello: &'static str,
    /// A resource whose tokens are for another audience.
    pub other: &'static str,
    /// A resource whose tokens live [`Kit::SHORT_TTL`] seconds.
    pub short: &'static str,
}

impl Kit {
    /// The lifetime of [`Kit::short`] tokens, in seconds (`exp` = the whole second of issue +
    /// this, so a token is valid for at least this minus one second).
    pub const SHORT_TTL: u64 = 4;

    /// Local JWT validation.
    pub const JWT: Self = Self {
        mode: Mode::Jwt,
        hello: "urn:portcullis:hello",
        other: "urn:portcullis:other",
        short: "urn:portcullis:hello:short",
    };
    /// Remote introspection.
    pub const INTROSPECT: Self = Self {
        mode: Mode::Introspect,
        hello: "urn:portcullis:hello:opaque",
        other: "urn:portcullis:other:opaque",
        short: "urn:portcullis:hello:short-opaque",
    };

    /// The service configuration for this mode.
    pub fn config(&self, idp: &Idp) -> PortcullisConfig {
        match self.mode {
            Mode::Introspect => introspect_config_for(idp),
            _ => config_for(idp),
        }
    }
}

/// Captures this thread's tracing output (use with a current-thread runtime, so the in-process
/// service logs on the same thread).
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Arc<Mutex<Vec<u8>>>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || LogWriter(writer.clone()))
        .finish();
    (tracing::subscriber::set_default(subscriber), buffer)
}

/// The captured log as text.
pub fn log_text(buffer: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buffer.lock().expect("log buffer")).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// hello-api served in-process on a free loopback port.
#[derive(Debug)]
pub struct Service {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// A client for it.
    pub http: reqwest::Client,
    /// The RFC 9728 metadata URL every challenge must name (`None`: turned off).
    pub metadata_url: Option<String>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Service {
    /// Builds Portcullis from `config` and serves hello-api.
    pub async fn start(config: PortcullisConfig) -> Self {
        let portcullis = Portcullis::builder()
            .config(config)
            .build()
            .await
            .expect("Portcullis builds");
        Self::serve(&portcullis).await
    }

    /// Builds Portcullis from `config` on a [`portcullis::ManualClock`] standing at the real
    /// time now, and serves hello-api: the test moves the service's clock (cache deadlines, key
    /// staleness) instead of sleeping. Tokens from a real IdP stay valid while the test keeps
    /// the clock within their lifetime.
    pub async fn start_with_clock(config: PortcullisConfig) -> (Self, portcullis::ManualClock) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let clock = portcullis::ManualClock::at_unix(now);
        let portcullis = Portcullis::builder()
            .config(config)
            .clock(clock.clone())
            .build()
            .await
            .expect("Portcullis builds");
        (Self::serve(&portcullis).await, clock)
    }

    /// Serves hello-api with an already built Portcullis.
    pub async fn serve(portcullis: &Portcullis) -> Self {
        let mut service = Self::serve_router(hello_api::app(portcullis)).await;
        service.metadata_url = Self::metadata_url_of(portcullis, service.metadata_url.take());
        service
    }

    /// The metadata URL `portcullis` names in challenges to this service (`origin_default`: the
    /// one for the request's origin).
    fn metadata_url_of(portcullis: &Portcullis, origin_default: Option<String>) -> Option<String> {
        let metadata = &portcullis.config().resource_metadata;
        match (&metadata.resource, metadata.enabled) {
            (_, false) => None,
            (Some(resource), true) => {
                let location =
                    portcullis::unstable::core::resource::ResourceLocation::configured(resource)
                        .expect("a resource the configuration check accepted");
                Some(
                    location
                        .metadata_url_for(
                            &axum::http::Uri::from_static("/"),
                            &axum::http::HeaderMap::new(),
                        )
                        .expect("configured")
                        .into_owned(),
                )
            }
            (None, true) => origin_default,
        }
    }

    /// Builds Portcullis from `config` and serves hello-api on `listener` (bound before, so that
    /// the configuration can name the service's own URL).
    pub async fn start_on(listener: tokio::net::TcpListener, config: PortcullisConfig) -> Self {
        let portcullis = Portcullis::builder()
            .config(config)
            .build()
            .await
            .expect("Portcullis builds");
        let mut service = Self::serve_router_on(listener, hello_api::app(&portcullis));
        service.metadata_url = Self::metadata_url_of(&portcullis, service.metadata_url.take());
        service
    }

    /// Serves any router on a free loopback port; its Portcullis is expected to publish the
    /// metadata for the request's origin (the default).
    pub async fn serve_router(app: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::serve_router_on(listener, app)
    }

    fn serve_router_on(listener: tokio::net::TcpListener, app: axum::Router) -> Self {
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            metadata_url: Some(format!("{url}/.well-known/oauth-protected-resource")),
            url,
            http: reqwest::Client::new(),
            server,
        }
    }

    /// `GET /hello` with `Authorization: Bearer <token>`.
    pub async fn hello(&self, token: &str) -> Reply {
        self.reply(
            self.http
                .get(format!("{}/hello", self.url))
                .bearer_auth(token)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Any method and path with `Authorization: Bearer <token>`.
    pub async fn request(&self, method: reqwest::Method, path: &str, token: &str) -> Reply {
        let request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        self.reply(request.send().await.expect("request")).await
    }

    /// `GET /me` with `Authorization: Bearer <token>`.
    pub async fn me(&self, token: &str) -> Reply {
        self.reply(
            self.http
                .get(format!("{}/me", self.url))
                .bearer_auth(token)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// `GET path` and the body as text (for `/metrics`).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// `GET path` with raw Authorization header values (each appended).
    pub async fn get_with_authorization(&self, path: &str, values: &[&[u8]]) -> Reply {
        let mut request = self.http.get(format!("{}{path}", self.url));
        for value in values {
            request = request.header(
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_bytes(value).expect("header bytes"),
            );
        }
        self.reply(request.send().await.expect("request")).await
    }
}

impl Service {
    /// Reads a response; its challenge must name this service's metadata URL (RFC 9728), which
    /// [`Reply::challenge`] then leaves out so that cases compare the rest exactly.
    async fn reply(&self, response: reqwest::Response) -> Reply {
        let mut reply = Reply::from(response).await;
        if let Some(challenge) = reply.challenge.take() {
            reply.challenge = Some(without_metadata(&challenge, self.metadata_url.as_deref()));
        }
        reply
    }
}

/// `challenge` without its `resource_metadata` parameter, which must be `expected` (and absent
/// when nothing is expected).
#[track_caller]
fn without_metadata(challenge: &str, expected: Option<&str>) -> String {
    let Some(expected) = expected else {
        assert!(
            !challenge.contains("resource_metadata="),
            "no metadata is published, yet the challenge names some: {challenge}"
        );
        return challenge.to_owned();
    };
    let param = format!("resource_metadata=\"{expected}\"");
    let rest = challenge
        .strip_suffix(&format!(", {param}"))
        .or_else(|| challenge.strip_suffix(&format!(" {param}")));
    match rest {
        Some(rest) => rest.to_owned(),
        None => panic!("the challenge must end with {param}: {challenge}"),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `WWW-Authenticate`, when present; from a [`Service`], without the `resource_metadata`
    /// parameter it was checked to carry.
    pub challenge: Option<String>,
    /// `Retry-After`, when present.
    pub retry_after: Option<String>,
    /// The JSON body (Null when not JSON).
    pub body: Value,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
        };
        let (status, challenge, retry_after) = (
            response.status().as_u16(),
            header("www-authenticate"),
            header("retry-after"),
        );
        let body = response.json().await.unwrap_or(Value::Null);
        Self {
            status,
            challenge,
            retry_after,
            body,
        }
    }

    /// `error_description` of the body.
    pub fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or("")
    }

    /// Asserts 401 `invalid_token` with a description containing `expected`.
    #[track_caller]
    pub fn assert_invalid_token(&self, expected: &str) {
        assert_eq!(self.status, 401, "{self:?}");
        let challenge = self.challenge.as_deref().unwrap_or("");
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{challenge}"
        );
        assert!(
            self.description().contains(expected),
            "expected {expected:?} in {:?}",
            self.description()
        );
        assert!(
            challenge.contains(expected),
            "the challenge carries the description: {challenge}"
        );
    }
}

/// Every Rust block of README.md and docs/ compiles (and runs, unless marked otherwise) as a
/// doctest of this crate. README's fifteen lines are `examples/fifteen-lines` (a test keeps them
/// equal); docs/testing.md's blocks use the test kit, so they are doctests of `portcullis-test`,
/// in the kit's own cargo invocation.
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../../docs/getting-started.md")]
    struct GettingStarted;
    #[doc = include_str!("../../docs/observability.md")]
    struct Observability;
    #[doc = include_str!("../../docs/propagation.md")]
    struct Propagation;
    #[doc = include_str!("../../docs/scopes.md")]
    struct Scopes;
    #[doc = include_str!("../../docs/userinfo.md")]
    struct Userinfo;
}
