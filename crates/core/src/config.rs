//! Configuration types: plain serde structs, so any loader can fill them (the starter uses
//! figment; config-rs works too). Every key is documented in `docs/configuration.md`; a test keeps
//! that page and these structs in step.
//!
//! Durations accept whole seconds (`30`) or a string with a unit (`"500ms"`, `"30s"`, `"10m"`,
//! `"1h"`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::discovery::IssuerUrl;
use crate::secret::Secret;

/// The `[portcullis]` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PortcullisConfig {
    /// The issuer identifier; discovery starts here. Required (the example apps fall back to a
    /// development issuer when it is missing).
    pub issuer: Option<String>,
    /// Accepted audiences (`aud`): a string or a list. Required.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// How tokens are validated.
    pub mode: Mode,
    /// The JWKS URL, to skip discovery for keys.
    pub jwks_uri: Option<String>,
    /// `realm` of the `WWW-Authenticate` challenge.
    pub realm: Option<String>,
    /// Discovery behaviour.
    pub discovery: DiscoveryConfig,
    /// JWT validation rules.
    pub jwt: JwtConfig,
    /// JWKS caching.
    pub jwks: JwksConfig,
    /// Where tokens are read from.
    pub token: TokenConfig,
    /// Calls to the authorization server.
    pub http: HttpConfig,
    /// Remote validation (RFC 7662), used in `introspect` and `auto` modes.
    pub introspection: IntrospectionConfig,
    /// OIDC userinfo enrichment.
    pub userinfo: UserinfoConfig,
    /// Where scopes and authorities come from.
    pub claims: ClaimsConfig,
    /// Access rules by path and method, first match wins (`[[portcullis.rules]]`).
    pub rules: Vec<RuleConfig>,
    /// What unmatched requests need.
    pub default_rule: DefaultRule,
    /// This service's own OAuth client, for outbound calls (client credentials, token exchange).
    pub client: ClientConfig,
    /// Downstream services and how the caller's identity reaches them (`[[portcullis.downstream]]`).
    pub downstream: Vec<DownstreamConfig>,
    /// The protected-resource metadata this service publishes (RFC 9728).
    pub resource_metadata: ResourceMetadataConfig,
    /// What the health report shows.
    pub health: HealthConfig,
    /// Settings that weaken security, each named for what it gives up.
    pub dangerous: DangerousConfig,
}

/// `[portcullis.health]`: what the starter's `Portcullis::health` shows, in the spirit of Spring
/// Boot Actuator's `show-details`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HealthConfig {
    /// Whether the report carries its components and their details (IdP URLs, the client id,
    /// the last IdP error). `never` by default: a health endpoint is usually public.
    pub show_details: ShowDetails,
}

/// `health.show-details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShowDetails {
    /// The overall status only (`{"status": "UP"}`).
    #[default]
    Never,
    /// Every component with its details: for a health endpoint only operators can reach.
    Always,
}

/// `[portcullis.resource-metadata]`: RFC 9728 protected-resource metadata.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ResourceMetadataConfig {
    /// Serve `/.well-known/oauth-protected-resource` and name it in every challenge
    /// (`resource_metadata`).
    pub enabled: bool,
    /// This API's resource identifier: its public URL as clients reach it (an https URL).
    /// Default: the origin each request reached (`http://{Host}` for a loopback host,
    /// `https://{Host}` otherwise).
    pub resource: Option<String>,
    /// Scopes to announce besides the ones routes and rules require.
    pub scopes_supported: Vec<String>,
    /// A human-readable name (`resource_name`).
    pub resource_name: Option<String>,
    /// A page for developers (`resource_documentation`).
    pub resource_documentation: Option<String>,
}

impl Default for ResourceMetadataConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            resource: None,
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
        }
    }
}

/// How tokens are validated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Locally: discovery → JWKS → signature and claims.
    #[default]
    Jwt,
    /// Remotely: every token is sent to the introspection endpoint (RFC 7662).
    Introspect,
    /// JWS-shaped tokens from the configured issuer locally, everything else by introspection.
    Auto,
}

/// The `aud` of a `private_key_jwt` client assertion (RFC 7523 §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAssertionAudience {
    /// The issuer identifier: what draft-ietf-oauth-rfc7523bis asks for, after the 2025
    /// audience-injection findings (an assertion for one endpoint cannot be replayed to another
    /// server that names the same endpoint).
    #[default]
    Issuer,
    /// The full URL of the endpoint being called (`…/v1/introspect`, `…/v1/token`): what Okta
    /// requires.
    Endpoint,
}

/// How Portcullis authenticates itself to the authorization server (RFC 6749 §2.3, RFC 7523).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret.
    None,
    /// A JWT assertion signed with the client's private key (RFC 7523).
    PrivateKeyJwt,
}

/// `[portcullis.introspection]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct IntrospectionConfig {
    /// The introspection endpoint; from discovery when unset.
    pub endpoint: Option<String>,
    /// The client id Portcullis authenticates with.
    pub client_id: Option<String>,
    /// The client secret (`client_secret_basic`, `client_secret_post`).
    pub client_secret: Option<Secret>,
    /// How Portcullis authenticates to the introspection endpoint.
    pub auth_method: ClientAuthMethod,
    /// PEM (PKCS#8) private key for `private_key_jwt`: RSA, EC P-256 or Ed25519.
    pub private_key_file: Option<String>,
    /// `kid` to put in the client assertion header, when the IdP needs one.
    pub private_key_id: Option<String>,
    /// The `aud` of the client assertion: the issuer (default) or the introspection endpoint's
    /// URL (Okta).
    pub client_assertion_audience: ClientAssertionAudience,
    /// How long an active answer is reused (never past the token's `exp`). A revoked token keeps
    /// working here for at most this long (default 30 s).
    #[serde(with = "duration")]
    pub cache_ttl: Duration,
    /// How long an inactive answer is reused.
    #[serde(with = "duration")]
    pub inactive_cache_ttl: Duration,
    /// Most active answers kept (inactive ones have their own cache, an eighth of this size);
    /// `0` turns caching off: every request is introspected.
    pub cache_capacity: u64,
    /// Accept answers without `aud` (for IdPs that omit it on tokens issued without a resource).
    pub allow_missing_aud: bool,
}

impl Default for IntrospectionConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            client_id: None,
            client_secret: None,
            auth_method: ClientAuthMethod::default(),
            private_key_file: None,
            private_key_id: None,
            client_assertion_audience: ClientAssertionAudience::Issuer,
            cache_ttl: Duration::from_secs(30),
            inactive_cache_ttl: Duration::from_secs(10),
            cache_capacity: 10_000,
            allow_missing_aud: false,
        }
    }
}

/// `[portcullis.claims]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClaimsConfig {
    /// Claims that hold scopes (space-delimited strings or arrays).
    pub scopes: Vec<String>,
    /// Claims that hold authorities (roles, groups), each with a prefix.
    pub authorities: Vec<AuthorityClaim>,
    /// A token without `sub` (a machine token: client credentials) gets its client id as the
    /// subject. Some IdPs' introspection answers omit `sub` where their JWTs carry the client id
    /// (RFC 9068 §2.2), so with this on `Principal::subject` is the same in every mode.
    pub client_id_as_subject: bool,
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        Self {
            scopes: vec!["scope".into(), "scp".into()],
            authorities: Vec::new(),
            client_id_as_subject: false,
        }
    }
}

/// `[[portcullis.claims.authorities]]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthorityClaim {
    /// A dotted claim path: `roles`, `groups`, `realm_access.roles`,
    /// `resource_access.orders-api.roles`. A claim named exactly this is taken first, so a
    /// namespaced claim such as `https://example.com/roles` is addressed as written.
    pub path: String,
    /// Put before each value (`ROLE_`, as Spring does).
    #[serde(default)]
    pub prefix: String,
}

/// `[[portcullis.rules]]`: one access rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleConfig {
    /// Path pattern: literal segments, `{name}` or `*` for one segment, `**` as the last segment
    /// for any rest.
    pub path: String,
    /// HTTP methods the rule covers; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// No token needed (a bad token is still refused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permit_all: bool,
    /// Any valid token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authenticated: bool,
    /// Refused to everyone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny_all: bool,
    /// All of these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// One of these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_scopes: Option<Vec<String>>,
    /// All of these authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities: Option<Vec<String>>,
    /// One of these authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_authorities: Option<Vec<String>>,
}

/// What requests no rule matches need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultRule {
    /// A valid token.
    #[default]
    Authenticated,
    /// Nothing (a bad token is still refused).
    PermitAll,
    /// Refused to everyone.
    DenyAll,
}

/// `[portcullis.client]`: the service's own client at the authorization server. When
/// `client-id` is unset, the introspection client (`[portcullis.introspection]`) is used.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientConfig {
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<Secret>,
    /// Client authentication method.
    pub auth_method: ClientAuthMethod,
    /// PEM (PKCS#8) private key for `private_key_jwt`.
    pub private_key_file: Option<String>,
    /// `kid` for the assertion header.
    pub private_key_id: Option<String>,
    /// The `aud` of the client assertion: the issuer (default) or the token endpoint's URL
    /// (Okta).
    pub client_assertion_audience: ClientAssertionAudience,
    /// The token endpoint; from discovery when unset.
    pub token_endpoint: Option<String>,
}

/// How a downstream call carries the caller's identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The caller's access token, unchanged (the downstream must accept this service's audience).
    #[default]
    Relay,
    /// This service's own token (client credentials grant): calls not made for a user.
    ClientCredentials,
    /// The caller's token exchanged for one addressed to the downstream (RFC 8693).
    Exchange,
}

/// `[[portcullis.downstream]]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DownstreamConfig {
    /// A name for logs and errors.
    pub name: String,
    /// Calls to URLs under this base get a token; calls elsewhere are refused.
    pub base_url: String,
    /// How the token is obtained.
    #[serde(default)]
    pub strategy: Strategy,
    /// `audience` to ask for (exchange, client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// `resource` (RFC 8707) to ask for (exchange, client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Scopes to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// What to do when userinfo cannot be fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserinfoFailure {
    /// Continue without userinfo claims (logged).
    #[default]
    Continue,
    /// Fail the request with 503.
    Fail,
}

/// `[portcullis.userinfo]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserinfoConfig {
    /// Fetch userinfo for every authenticated request (eager). Without it, handlers fetch on
    /// demand with the `UserInfo` extractor.
    pub enabled: bool,
    /// The userinfo endpoint; from discovery when unset.
    pub endpoint: Option<String>,
    /// What a failed fetch does.
    pub on_failure: UserinfoFailure,
    /// Most answers kept (each until its token expires).
    pub cache_capacity: u64,
}

impl Default for UserinfoConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: None,
            on_failure: UserinfoFailure::Continue,
            cache_capacity: 10_000,
        }
    }
}

/// `[portcullis.discovery]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DiscoveryConfig {
    /// Fetch metadata and keys at startup and refuse to start when that fails.
    pub eager: bool,
    /// After a failed discovery or JWKS fetch, wait this long before trying again.
    #[serde(with = "duration")]
    pub retry_backoff: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            eager: false,
            retry_backoff: Duration::from_secs(2),
        }
    }
}

/// `[portcullis.jwt]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct JwtConfig {
    /// Accepted signature algorithms. `none` is never accepted; HS256/384/512 only together with
    /// `hmac-secret`.
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[serde(with = "duration")]
    pub leeway: Duration,
    /// Require the RFC 9068 header `typ: at+jwt`.
    pub strict_typ: bool,
    /// A shared secret for HMAC-signed tokens, configured on purpose.
    pub hmac_secret: Option<Secret>,
    /// Most verified tokens kept, so a token seen again skips the signature check; 0 disables.
    pub cache_capacity: u64,
}

/// The asymmetric algorithms accepted by default.
pub const DEFAULT_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Every algorithm name the `algorithms` key knows.
pub const KNOWN_ALGORITHMS: [&str; 12] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect(),
            leeway: Duration::from_secs(60),
            strict_typ: false,
            hmac_secret: None,
            cache_capacity: 10_000,
        }
    }
}

/// `[portcullis.jwks]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct JwksConfig {
    /// How long keys are used before they are fetched again, when the JWKS response has no
    /// `Cache-Control: max-age`.
    #[serde(with = "duration")]
    pub refresh_interval: Duration,
    /// Lower bound on a server-given `max-age`.
    #[serde(with = "duration")]
    pub min_refresh: Duration,
    /// Upper bound on a server-given `max-age`.
    #[serde(with = "duration")]
    pub max_refresh: Duration,
    /// A `kid` that a refetch showed the issuer does not publish causes no refetch for this long.
    #[serde(with = "duration")]
    pub unknown_kid_cooldown: Duration,
    /// At most one refetch for unknown kids per this interval, whatever the kids: the bound on
    /// what a flood of made-up kids costs the IdP, and on how long a real rotation can wait.
    #[serde(with = "duration")]
    pub unknown_kid_min_interval: Duration,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(600),
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(86_400),
            unknown_kid_cooldown: Duration::from_secs(30),
            unknown_kid_min_interval: Duration::from_secs(1),
        }
    }
}

/// `[portcullis.token]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenConfig {
    /// Largest token accepted, in bytes.
    pub max_size: usize,
    /// Also read the `access_token` query parameter (RFC 6750 §2.3).
    pub allow_query_parameter: bool,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            max_size: crate::resolve::DEFAULT_MAX_TOKEN_BYTES,
            allow_query_parameter: false,
        }
    }
}

/// `[portcullis.http]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpConfig {
    /// Time to connect to the authorization server.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Time for a whole call to the authorization server.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Largest response body read from the authorization server.
    pub max_response_size: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let defaults = crate::http::HttpSettings::default();
        Self {
            connect_timeout: defaults.connect_timeout,
            timeout: defaults.timeout,
            max_response_size: defaults.max_response_bytes,
        }
    }
}

impl HttpConfig {
    /// The client settings.
    pub fn settings(&self) -> crate::http::HttpSettings {
        crate::http::HttpSettings {
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            max_response_bytes: self.max_response_size,
        }
    }
}

/// `[portcullis.dangerous]`: each key gives up a protection; see docs/configuration.md.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DangerousConfig {
    /// Accept a plain-http issuer on a non-loopback host (tokens, keys and metadata can then be
    /// read and changed on the network).
    pub allow_http_issuer: bool,
    /// Accept tokens for any audience (any API of the issuer can replay its tokens here).
    pub accept_any_audience: bool,
}

/// One configuration problem, found after deserialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, dotted, below `portcullis` (for example `jwt.algorithms`).
    pub key: &'static str,
    /// The offending value, masked when secret.
    pub value: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl PortcullisConfig {
    /// Checks what types cannot: URLs, algorithm names, required keys. An unset issuer is not a
    /// problem here (a development issuer may stand in); the starter reports it.
    pub fn check(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |key, value: String, reason: String| {
            problems.push(ConfigProblem { key, value, reason })
        };
        if let Some(issuer) = &self.issuer
            && let Err(e) = IssuerUrl::parse(issuer, self.dangerous.allow_http_issuer)
        {
            problem("issuer", issuer.clone(), e.to_string());
        }
        if let Some(uri) = &self.jwks_uri
            && let Err(reason) = check_endpoint(uri, self.dangerous.allow_http_issuer)
        {
            problem("jwks-uri", uri.clone(), reason);
        }
        self.check_introspection(&mut problem);
        self.check_downstream(&mut problem);
        if let Err(rule_problems) = crate::rules::RuleSet::compile(&self.rules, self.default_rule) {
            for (key, value, reason) in rule_problems {
                problem(key, value, reason);
            }
        }
        for (i, source) in self.claims.authorities.iter().enumerate() {
            if source.path.is_empty() || source.path.split('.').any(str::is_empty) {
                problem(
                    "claims.authorities",
                    format!("[{i}] path = {:?}", source.path),
                    "a claim path is dot-separated names, none empty (realm_access.roles)".into(),
                );
            }
        }
        if let Some(uri) = &self.userinfo.endpoint
            && let Err(reason) = check_endpoint(uri, self.dangerous.allow_http_issuer)
        {
            problem("userinfo.endpoint", uri.clone(), reason);
        }
        if let Some(resource) = &self.resource_metadata.resource {
            let parsed = url::Url::parse(resource);
            let reason = match &parsed {
                Err(e) => Some(format!("not an absolute URL: {e}")),
                Ok(u) if u.fragment().is_some() => {
                    Some("a resource identifier has no fragment (RFC 9728 §1.2)".to_owned())
                }
                Ok(_) => check_endpoint(resource, self.dangerous.allow_http_issuer).err(),
            };
            if let Some(reason) = reason {
                problem("resource-metadata.resource", resource.clone(), reason);
            }
        }
        for scope in &self.resource_metadata.scopes_supported {
            if let Err(e) = crate::scope::ScopeToken::new(scope) {
                problem(
                    "resource-metadata.scopes-supported",
                    scope.clone(),
                    e.to_string(),
                );
            }
        }
        if self.audience.is_empty() && !self.dangerous.accept_any_audience {
            problem(
                "audience",
                "(not set)".into(),
                "set the audience this API accepts (the `aud` its tokens carry), for example audience = \"api://orders\"; tokens for other APIs of the same issuer must not be accepted here".into(),
            );
        }
        if self.audience.iter().any(String::is_empty) {
            problem(
                "audience",
                format!("{:?}", self.audience),
                "an audience cannot be empty".into(),
            );
        }
        if self.jwt.algorithms.is_empty() {
            problem(
                "jwt.algorithms",
                "[]".into(),
                "list at least one algorithm".into(),
            );
        }
        for alg in &self.jwt.algorithms {
            if alg.eq_ignore_ascii_case("none") {
                problem(
                    "jwt.algorithms",
                    alg.clone(),
                    "`none` means unsigned tokens and is never accepted".into(),
                );
            } else if !KNOWN_ALGORITHMS.contains(&alg.as_str()) {
                problem(
                    "jwt.algorithms",
                    alg.clone(),
                    format!("unknown algorithm; known: {}", KNOWN_ALGORITHMS.join(", ")),
                );
            } else if alg.starts_with("HS") && self.jwt.hmac_secret.is_none() {
                problem(
                    "jwt.algorithms",
                    alg.clone(),
                    "HMAC algorithms need jwt.hmac-secret (a shared secret configured on purpose)"
                        .into(),
                );
            }
        }
        if let Some(secret) = &self.jwt.hmac_secret {
            if secret.expose().len() < 32 {
                problem(
                    "jwt.hmac-secret",
                    "***".into(),
                    "an HMAC secret must be at least 32 bytes (RFC 7518 §3.2)".into(),
                );
            }
            if !self.jwt.algorithms.iter().any(|a| a.starts_with("HS")) {
                problem("jwt.hmac-secret", "***".into(), "set, but jwt.algorithms lists no HS256/HS384/HS512: add the one your issuer uses".into());
            }
        }
        if self.token.max_size == 0 {
            problem("token.max-size", "0".into(), "must be at least 1".into());
        }
        if self.jwks.min_refresh > self.jwks.max_refresh {
            problem(
                "jwks.min-refresh",
                format!("{:?}", self.jwks.min_refresh),
                format!("larger than jwks.max-refresh ({:?})", self.jwks.max_refresh),
            );
        }
        if self.http.timeout.is_zero() || self.http.connect_timeout.is_zero() {
            problem(
                "http.timeout",
                format!("{:?}", self.http.timeout),
                "timeouts must be above zero".into(),
            );
        }
        problems
    }
}

impl PortcullisConfig {
    /// Whether an outbound client is configured (`[portcullis.client]`, else the introspection
    /// client).
    pub fn has_outbound_client(&self) -> bool {
        self.client.client_id.is_some() || self.introspection.client_id.is_some()
    }

    fn check_downstream(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        if let Some(uri) = &self.client.token_endpoint
            && let Err(reason) = check_endpoint(uri, self.dangerous.allow_http_issuer)
        {
            problem("client.token-endpoint", uri.clone(), reason);
        }
        let mut names = std::collections::HashSet::new();
        let mut bases = std::collections::HashSet::new();
        for (i, d) in self.downstream.iter().enumerate() {
            let at = format!("[{i}] name = {:?}", d.name);
            if d.name.is_empty() || !names.insert(d.name.as_str()) {
                problem(
                    "downstream",
                    at.clone(),
                    "every downstream needs a name of its own".into(),
                );
            }
            let base = d.base_url.trim_end_matches('/');
            if let Err(reason) = check_endpoint(&d.base_url, self.dangerous.allow_http_issuer) {
                problem(
                    "downstream",
                    format!("{at}, base-url = {:?}", d.base_url),
                    reason,
                );
            } else if !bases.insert(base) {
                problem(
                    "downstream",
                    format!("{at}, base-url = {:?}", d.base_url),
                    "another downstream has the same base-url".into(),
                );
            }
            for scope in &d.scopes {
                if !crate::scope::ScopeToken::is_valid(scope) {
                    problem(
                        "downstream",
                        format!("{at}, scopes = {scope:?}"),
                        "not a valid scope token (RFC 6749 §3.3)".into(),
                    );
                }
            }
            match d.strategy {
                Strategy::Relay => {
                    if let Some(aud) = &d.audience
                        && !self.audience.contains(aud)
                    {
                        problem(
                            "downstream",
                            format!("{at}, audience = {aud:?}"),
                            format!(
                                "strategy \"relay\" sends the caller's token unchanged, whose audience is this service's ({:?}); a downstream that needs {aud:?} needs strategy \"exchange\"",
                                self.audience
                            ),
                        );
                    }
                    if d.resource.is_some() || !d.scopes.is_empty() {
                        problem("downstream", at.clone(), "strategy \"relay\" cannot ask for a resource or scopes; use \"exchange\"".into());
                    }
                }
                Strategy::Exchange | Strategy::ClientCredentials => {
                    if d.strategy == Strategy::Exchange
                        && d.audience.is_none()
                        && d.resource.is_none()
                    {
                        problem("downstream", at.clone(), "strategy \"exchange\" needs the audience (or resource) to exchange the caller's token for".into());
                    }
                    if !self.has_outbound_client() {
                        problem(
                            "downstream",
                            at.clone(),
                            "this strategy needs this service's client at the IdP: set portcullis.client.client-id (or the introspection client)".into(),
                        );
                    }
                }
            }
        }
    }

    fn check_introspection(&self, problem: &mut impl FnMut(&'static str, String, String)) {
        let i = &self.introspection;
        for (key, audience, method) in [
            (
                "introspection.client-assertion-audience",
                i.client_assertion_audience,
                i.auth_method,
            ),
            (
                "client.client-assertion-audience",
                self.client.client_assertion_audience,
                self.client.auth_method,
            ),
        ] {
            if audience == ClientAssertionAudience::Endpoint
                && method != ClientAuthMethod::PrivateKeyJwt
            {
                problem(
                    key,
                    "endpoint".into(),
                    "a client assertion audience applies to auth-method = \"private_key_jwt\" only; this client authenticates otherwise".into(),
                );
            }
        }
        if let Some(uri) = &i.endpoint
            && let Err(reason) = check_endpoint(uri, self.dangerous.allow_http_issuer)
        {
            problem("introspection.endpoint", uri.clone(), reason);
        }
        if self.mode == Mode::Jwt {
            return;
        }
        if i.client_id.as_deref().is_none_or(str::is_empty) {
            problem(
                "introspection.client-id",
                "(not set)".into(),
                format!(
                    "mode = \"{}\" needs the client id this API introspects with (PORTCULLIS_INTROSPECTION__CLIENT_ID)",
                    if self.mode == Mode::Introspect {
                        "introspect"
                    } else {
                        "auto"
                    }
                ),
            );
        }
        match i.auth_method {
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost => {
                if i.client_secret
                    .as_ref()
                    .is_none_or(|s| s.expose().is_empty())
                {
                    problem(
                        "introspection.client-secret",
                        "(not set)".into(),
                        "introspection.auth-method needs a client secret (PORTCULLIS_INTROSPECTION__CLIENT_SECRET); use auth-method = \"none\" for a public client".into(),
                    );
                }
            }
            ClientAuthMethod::PrivateKeyJwt => {
                if i.private_key_file.is_none() {
                    problem(
                        "introspection.private-key-file",
                        "(not set)".into(),
                        "auth-method = \"private_key_jwt\" needs the PEM (PKCS#8) file of the client's private key".into(),
                    );
                }
            }
            ClientAuthMethod::None => {}
        }
    }
}

/// Okta's own domains: an issuer on one of them without `/oauth2/…` is the org authorization
/// server.
const OKTA_DOMAINS: [&str; 4] = [
    ".okta.com",
    ".oktapreview.com",
    ".okta-emea.com",
    ".okta-gov.com",
];

impl PortcullisConfig {
    /// The audience that makes this service accept Okta **org** authorization server tokens:
    /// an issuer on an Okta domain without `/oauth2/…`, and an audience equal to it. Okta
    /// issues such tokens for its own APIs, to any app of the org: they say nothing about this
    /// API (<https://developer.okta.com/docs/concepts/auth-servers/>).
    pub fn okta_org_server_audience(&self) -> Option<&str> {
        let issuer = url::Url::parse(self.issuer.as_deref()?).ok()?;
        let host = issuer.host_str()?.to_ascii_lowercase();
        if !OKTA_DOMAINS.iter().any(|d| host.ends_with(d)) || issuer.path().starts_with("/oauth2/")
        {
            return None;
        }
        let origin = issuer.origin().ascii_serialization();
        self.audience
            .iter()
            .find(|aud| aud.trim_end_matches('/').eq_ignore_ascii_case(&origin))
            .map(String::as_str)
    }
}

/// An endpoint URL (JWKS, introspection, userinfo) follows the issuer's scheme rule: https, or
/// http on loopback, unless the dangerous setting allows plain http.
pub fn check_endpoint(url: &str, allow_http_anywhere: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not an absolute URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_http_anywhere || crate::discovery::is_loopback(&parsed) => Ok(()),
        "http" => Err("must use https (plain http only for loopback hosts, or with portcullis.dangerous.allow-http-issuer = true)".into()),
        other => Err(format!("the scheme `{other}` is not http or https")),
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// Durations as whole seconds or a string with a unit.
pub mod duration {
    use super::*;

    /// Parses `"500ms"`, `"30s"`, `"10m"`, `"1h"` or `"30"` (seconds).
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (write 30s, 10m, 500ms)"))?;
        match unit.trim() {
            "" | "s" => Ok(Duration::from_secs(n)),
            "ms" => Ok(Duration::from_millis(n)),
            "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
            "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
            other => Err(format!(
                "`{other}` is not a duration unit (use ms, s, m or h)"
            )),
        }
    }

    /// Serde `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }

    /// Serde `serialize_with`: whole seconds as `"30s"`, otherwise milliseconds.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        if value.subsec_millis() == 0 {
            serializer.serialize_str(&format!("{}s", value.as_secs()))
        } else {
            serializer.serialize_str(&format!("{}ms", value.as_millis()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_like_json: serde_json::Value) -> Result<PortcullisConfig, serde_json::Error> {
        serde_json::from_value(toml_like_json)
    }

    #[test]
    fn defaults_are_secure() {
        let config = PortcullisConfig::default();
        assert_eq!(config.mode, Mode::Jwt);
        assert!(
            !config
                .jwt
                .algorithms
                .iter()
                .any(|a| a.starts_with("HS") || a == "none")
        );
        assert_eq!(config.jwt.leeway, Duration::from_secs(60));
        assert_eq!(config.jwks.unknown_kid_cooldown, Duration::from_secs(30));
        assert!(!config.token.allow_query_parameter);
        assert!(!config.dangerous.allow_http_issuer && !config.dangerous.accept_any_audience);
        let problems = config.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "audience");
    }

    #[test]
    fn audience_is_a_string_or_a_list_and_durations_take_units() {
        let config = parse(serde_json::json!({
            "audience": "api://a", "jwt": {"leeway": "90s"}, "jwks": {"refresh-interval": 120, "unknown-kid-cooldown": "500ms"}
        }))
        .unwrap();
        assert_eq!(config.audience, vec!["api://a"]);
        assert_eq!(config.jwt.leeway, Duration::from_secs(90));
        assert_eq!(config.jwks.refresh_interval, Duration::from_secs(120));
        assert_eq!(config.jwks.unknown_kid_cooldown, Duration::from_millis(500));
        let many = parse(serde_json::json!({"audience": ["a", "b"]})).unwrap();
        assert_eq!(many.audience, vec!["a", "b"]);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let error = parse(serde_json::json!({"audiance": "x"}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `audiance`"), "{error}");
    }

    #[test]
    fn check_refuses_none_unknown_and_unkeyed_hmac_algorithms() {
        let config = parse(
            serde_json::json!({"audience": "a", "jwt": {"algorithms": ["NONE", "RS999", "HS256"]}}),
        )
        .unwrap();
        let reasons: Vec<_> = config.check().into_iter().map(|p| p.reason).collect();
        assert!(reasons[0].contains("never accepted"));
        assert!(reasons[1].contains("unknown algorithm"));
        assert!(reasons[2].contains("hmac-secret"));
    }

    #[test]
    fn an_okta_org_server_issuer_with_its_own_url_as_audience_is_found() {
        let config = |issuer: &str, audience: &str| {
            parse(serde_json::json!({"issuer": issuer, "audience": ["api://x", audience]})).unwrap()
        };
        for (issuer, audience) in [
            ("https://dev-123456.okta.com", "https://dev-123456.okta.com"),
            (
                "https://dev-123456.okta.com/",
                "https://dev-123456.okta.com/",
            ),
            (
                "https://acme.oktapreview.com",
                "https://ACME.oktapreview.com",
            ),
            ("https://acme.okta-emea.com", "https://acme.okta-emea.com"),
        ] {
            assert_eq!(
                config(issuer, audience).okta_org_server_audience(),
                Some(audience),
                "{issuer}"
            );
        }
        for (issuer, audience) in [
            // A custom authorization server: its audience is the API's.
            (
                "https://dev-123456.okta.com/oauth2/default",
                "https://dev-123456.okta.com/oauth2/default",
            ),
            // The org server with an API audience is not this mistake.
            ("https://dev-123456.okta.com", "api://orders"),
            // Not Okta.
            ("https://idp.example.com", "https://idp.example.com"),
            (
                "https://okta.com.evil.example",
                "https://okta.com.evil.example",
            ),
        ] {
            assert_eq!(
                config(issuer, audience).okta_org_server_audience(),
                None,
                "{issuer} {audience}"
            );
        }
    }

    #[test]
    fn an_assertion_audience_without_private_key_jwt_is_refused() {
        let config = parse(serde_json::json!({
            "audience": "a",
            "introspection": {"client-assertion-audience": "endpoint"},
            "client": {"client-assertion-audience": "endpoint", "auth-method": "private_key_jwt"}
        }))
        .unwrap();
        let problems = config.check();
        let keys: Vec<_> = problems.iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            ["introspection.client-assertion-audience"],
            "{problems:?}"
        );
        assert!(problems[0].reason.contains("private_key_jwt"));
        let bad =
            parse(serde_json::json!({"introspection": {"client-assertion-audience": "token"}}))
                .unwrap_err()
                .to_string();
        assert!(bad.contains("issuer") && bad.contains("endpoint"), "{bad}");
    }

    #[test]
    fn inconsistent_downstream_entries_are_refused() {
        let config = parse(serde_json::json!({
            "audience": "api://orders",
            "downstream": [
                {"name": "a", "base-url": "https://a.example", "strategy": "relay", "audience": "api://inventory"},
                {"name": "b", "base-url": "https://b.example", "strategy": "exchange"},
                {"name": "c", "base-url": "https://a.example/", "strategy": "client-credentials"},
                {"name": "a", "base-url": "http://d.example", "strategy": "relay"}
            ]
        }))
        .unwrap();
        let reasons: Vec<String> = config.check().into_iter().map(|p| p.reason).collect();
        let has = |text: &str| reasons.iter().any(|r| r.contains(text));
        assert!(has("needs strategy \"exchange\""), "{reasons:?}");
        assert!(has("needs the audience (or resource)"), "{reasons:?}");
        assert!(has("this service's client"), "{reasons:?}");
        assert!(has("same base-url"), "{reasons:?}");
        assert!(has("name of its own"), "{reasons:?}");
        assert!(has("https"), "{reasons:?}");
    }

    #[test]
    fn check_masks_secrets_and_requires_https() {
        let config = parse(serde_json::json!({
            "audience": "a", "issuer": "http://idp.example.com",
            "jwt": {"algorithms": ["HS256"], "hmac-secret": "short-secret"}
        }))
        .unwrap();
        let problems = config.check();
        assert!(
            problems
                .iter()
                .any(|p| p.key == "issuer" && p.reason.contains("https"))
        );
        let secret = problems
            .iter()
            .find(|p| p.key == "jwt.hmac-secret")
            .unwrap();
        assert_eq!(secret.value, "***");
        assert!(!format!("{problems:?}").contains("short-secret"));
    }
}
