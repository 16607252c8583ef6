//! Configuration types: plain serde structs, so any loader can fill them (the starter uses
//! figment; config-rs works too). Every key is documented in `docs/configuration.md`; a test keeps
//! that page and these structs in step.
//!
//! Each section lives in its own module with its own check; [`PortcullisConfig::check`] runs them
//! all and reports every [`ConfigProblem`] at once.
//!
//! Durations accept whole seconds (`30`) or a string with a unit (`"500ms"`, `"30s"`, `"10m"`,
//! `"1h"`).

mod claims;
mod introspection;
mod jwt;
mod metadata;
mod outbound;
mod rules;
mod service;
mod userinfo;

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use self::claims::{AuthorityClaim, ClaimsConfig};
pub use self::introspection::{ClientAssertionAudience, ClientAuthMethod, IntrospectionConfig};
pub use self::jwt::{DEFAULT_ALGORITHMS, JwksConfig, JwtConfig, KNOWN_ALGORITHMS};
pub use self::metadata::ResourceMetadataConfig;
pub use self::outbound::{ClientConfig, DownstreamConfig, Strategy};
pub use self::rules::{DefaultRule, RuleConfig};
pub use self::service::{DiscoveryConfig, HealthConfig, HttpConfig, ShowDetails, TokenConfig};
pub use self::userinfo::{UserinfoConfig, UserinfoFailure};
use crate::discovery::IssuerUrl;

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
    /// Checks what types cannot: URLs, algorithm names, required keys, each section in its own
    /// module. An unset issuer is not a problem here (a development issuer may stand in); the
    /// starter reports it.
    pub fn check(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |key, value: String, reason: String| {
            problems.push(ConfigProblem { key, value, reason })
        };
        let allow_http = self.dangerous.allow_http_issuer;
        if let Some(issuer) = &self.issuer
            && let Err(e) = IssuerUrl::parse(issuer, allow_http)
        {
            problem("issuer", issuer.clone(), e.to_string());
        }
        if let Some(uri) = &self.jwks_uri
            && let Err(reason) = check_endpoint(uri, allow_http)
        {
            problem("jwks-uri", uri.clone(), reason);
        }
        self.check_introspection(&mut problem);
        self.check_downstream(&mut problem);
        rules::check(&self.rules, self.default_rule, &mut problem);
        self.claims.check(&mut problem);
        self.userinfo.check(allow_http, &mut problem);
        self.resource_metadata.check(allow_http, &mut problem);
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
        self.jwt.check(&mut problem);
        self.token.check(&mut problem);
        self.jwks.check(&mut problem);
        self.http.check(&mut problem);
        problems
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
        assert!(
            problems[0].reason.contains("private_key_jwt")
                && problems[0]
                    .reason
                    .contains("introspection.auth-method is \"client_secret_basic\""),
            "{problems:?}"
        );
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
