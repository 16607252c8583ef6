//! Issuer discovery: OpenID Connect Discovery, falling back to RFC 8414.
//!
//! Lazy by default: nothing is fetched until the first request needs it, so a service starts
//! while its IdP is down. A successful answer is kept; a failed one is retried after a short
//! back-off so that a down IdP does not add its timeout to every request.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use url::Url;

use crate::clock::{Clock, elapsed_since};
use crate::error::AuthError;
use crate::http::{FetchError, HttpClient};
use crate::observe::IdpEndpoint;
use crate::single_flight::SingleFlight;
use crate::sync::{lock, read, write};

/// A configured issuer identifier: `https`, or `http` on a loopback host, unless the dangerous
/// setting allows plain `http` everywhere. Compared with `iss` as written, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrl {
    text: String,
    url: Url,
    /// `portcullis.dangerous.allow-http-issuer`: the endpoints the metadata names follow the
    /// same scheme rule as the issuer.
    allow_http_anywhere: bool,
}

/// Why an issuer identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerUrlError {
    /// Not an absolute URL.
    #[error("not an absolute URL: {0}")]
    Invalid(String),
    /// `http` on a host that is not loopback.
    #[error(
        "the issuer must use https (plain http is allowed only for loopback hosts 127.0.0.0/8, ::1 and localhost, or with portcullis.dangerous.allow-http-issuer = true)"
    )]
    InsecureScheme,
    /// Neither http nor https.
    #[error("the scheme `{0}` is not http or https")]
    Scheme(String),
    /// Has a query or fragment (RFC 8414 §2 forbids them).
    #[error("an issuer identifier has no query or fragment (RFC 8414 §2)")]
    QueryOrFragment,
}

impl IssuerUrl {
    /// Parses and checks an issuer identifier.
    ///
    /// ```
    /// use portcullis_core::IssuerUrl;
    /// assert!(IssuerUrl::parse("https://idp.example.com/oauth2/default", false).is_ok());
    /// assert!(IssuerUrl::parse("http://127.0.0.1:8080", false).is_ok());
    /// assert!(IssuerUrl::parse("http://idp.example.com", false).is_err());
    /// ```
    pub fn parse(text: &str, allow_http_anywhere: bool) -> Result<Self, IssuerUrlError> {
        let url = Url::parse(text).map_err(|e| IssuerUrlError::Invalid(e.to_string()))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(IssuerUrlError::QueryOrFragment);
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_http_anywhere || is_loopback(&url) => {}
            "http" => return Err(IssuerUrlError::InsecureScheme),
            other => return Err(IssuerUrlError::Scheme(other.to_owned())),
        }
        if url.host().is_none() {
            return Err(IssuerUrlError::Invalid("no host".into()));
        }
        Ok(Self {
            text: text.to_owned(),
            url,
            allow_http_anywhere,
        })
    }

    /// Checks an endpoint URL that a metadata document names with the issuer's scheme rule
    /// (https; plain http only on loopback hosts or with the dangerous setting), exactly as a
    /// configured endpoint is checked.
    pub fn check_endpoint(&self, url: &str) -> Result<(), String> {
        crate::config::check_endpoint(url, self.allow_http_anywhere)
    }

    /// The identifier as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.url)
    }

    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    pub fn openid_configuration_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.text.trim_end_matches('/')
        )
    }

    /// `{origin}/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
    pub fn oauth_metadata_url(&self) -> String {
        let path = self.url.path().trim_end_matches('/');
        format!(
            "{}/.well-known/oauth-authorization-server{path}",
            self.url.origin().ascii_serialization()
        )
    }

    /// `{issuer}/.well-known/oauth-authorization-server`: where Okta's custom authorization
    /// servers and django-oauth-toolkit mounted under a prefix publish RFC 8414 metadata (the
    /// RFC puts the well-known part before the path; they append it, as OpenID does).
    pub fn appended_oauth_metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-authorization-server",
            self.text.trim_end_matches('/')
        )
    }

    /// Every place an issuer's metadata may be, in the order they are tried: the OpenID
    /// document, the RFC 8414 document, and the appended RFC 8414 form (when it differs).
    pub fn metadata_urls(&self) -> Vec<String> {
        let mut urls = vec![self.openid_configuration_url(), self.oauth_metadata_url()];
        let appended = self.appended_oauth_metadata_url();
        if !urls.contains(&appended) {
            urls.push(appended);
        }
        urls
    }
}

/// The first metadata document that exists, searched in the order of
/// [`IssuerUrl::metadata_urls`]: a 4xx means "not here, try the next place"; anything else ends
/// the search. Discovery and the health probe both look this way.
#[derive(Debug)]
pub struct FirstDocument<T> {
    /// The URL of the last place asked (the document's, when found).
    pub url: String,
    /// The places asked before it, each with what it answered (`<url> answered 404`).
    pub tried: Vec<String>,
    /// The document, or why the last place asked gave none.
    pub result: Result<T, FetchError>,
}

impl<T: serde::de::DeserializeOwned> FirstDocument<T> {
    /// Searches `issuer`'s metadata places with `http`.
    pub async fn find(http: &HttpClient, issuer: &IssuerUrl) -> Self {
        let mut tried = Vec::new();
        let mut urls = issuer.metadata_urls().into_iter().peekable();
        loop {
            let url = urls.next().unwrap_or_default();
            let result = http
                .get_json::<T>(IdpEndpoint::Discovery, &url)
                .await
                .map(|fetched| fetched.value);
            match &result {
                Err(FetchError::Status { status, .. })
                    if (400..500).contains(status) && urls.peek().is_some() =>
                {
                    tried.push(format!("{url} answered {status}"));
                }
                _ => return Self { url, tried, result },
            }
        }
    }
}

/// Whether a URL's host is 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The parts of the authorization server's metadata Portcullis uses. Unknown members are kept.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ProviderMetadata {
    /// `issuer`: must equal the configured issuer exactly.
    pub issuer: String,
    /// `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `token_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// `introspection_endpoint` (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// `userinfo_endpoint` (OIDC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
    /// The URL this document was read from (not a member: errors name it).
    #[serde(skip)]
    pub document: String,
    /// The URLs tried before it, and what they answered (not a member: errors name them).
    #[serde(skip)]
    pub tried: Vec<String>,
}

/// Where an endpoint's URL comes from: configuration, or the issuer's metadata.
#[derive(Debug, Clone)]
pub enum EndpointSource {
    /// Configured explicitly.
    Configured(String),
    /// From discovery.
    Discovered(Arc<Discovery>, Endpoint),
}

impl EndpointSource {
    /// The URL. Absent from the metadata is a misconfiguration that names the setting to use.
    pub async fn resolve(&self) -> Result<String, AuthError> {
        match self {
            Self::Configured(url) => Ok(url.clone()),
            Self::Discovered(discovery, endpoint) => {
                discovery.endpoint(*endpoint).await?.ok_or_else(|| {
                    AuthError::misconfigured(format!(
                        "the metadata of {} names no {} (read: {}); set {}",
                        discovery.issuer().as_str(),
                        endpoint.member(),
                        discovery.consulted(*endpoint),
                        endpoint.setting()
                    ))
                })
            }
        }
    }
}

/// Fetches and keeps the issuer's metadata.
#[derive(Debug)]
pub struct Discovery {
    issuer: IssuerUrl,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    retry_backoff: Duration,
    cached: RwLock<Option<Arc<ProviderMetadata>>>,
    last_failure: Mutex<Option<(SystemTime, AuthError)>>,
    flight: SingleFlight<(), Result<Arc<ProviderMetadata>, AuthError>>,
    /// The other metadata documents, read only when the first one found lacks an endpoint.
    others: RwLock<Option<Arc<OtherDocuments>>>,
    others_flight: SingleFlight<(), Result<Arc<OtherDocuments>, AuthError>>,
}

/// The metadata documents after the one discovery settled on, and what each answered.
#[derive(Debug, Default)]
struct OtherDocuments {
    found: Vec<Arc<ProviderMetadata>>,
    /// One line per URL tried ("<url> answered 404").
    notes: Vec<String>,
}

/// An endpoint the metadata may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `jwks_uri`.
    Jwks,
    /// `introspection_endpoint`.
    Introspection,
    /// `userinfo_endpoint`.
    Userinfo,
    /// `token_endpoint`.
    Token,
}

impl Endpoint {
    /// The setting that names this endpoint when discovery does not.
    pub fn setting(self) -> &'static str {
        match self {
            Self::Jwks => "portcullis.jwks-uri",
            Self::Introspection => "portcullis.introspection.endpoint",
            Self::Userinfo => "portcullis.userinfo.endpoint",
            Self::Token => "portcullis.token-endpoint",
        }
    }

    /// The metadata member's name.
    pub fn member(self) -> &'static str {
        match self {
            Self::Jwks => "jwks_uri",
            Self::Introspection => "introspection_endpoint",
            Self::Userinfo => "userinfo_endpoint",
            Self::Token => "token_endpoint",
        }
    }

    fn of(self, metadata: &ProviderMetadata) -> Option<&String> {
        match self {
            Self::Jwks => metadata.jwks_uri.as_ref(),
            Self::Introspection => metadata.introspection_endpoint.as_ref(),
            Self::Userinfo => metadata.userinfo_endpoint.as_ref(),
            Self::Token => metadata.token_endpoint.as_ref(),
        }
    }
}

impl Discovery {
    /// Discovery for `issuer`. After a failure, the next attempt waits `retry_backoff`; until
    /// then requests get the same error at once.
    pub fn new(
        issuer: IssuerUrl,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        retry_backoff: Duration,
    ) -> Self {
        Self {
            issuer,
            http,
            clock,
            retry_backoff,
            cached: RwLock::new(None),
            last_failure: Mutex::new(None),
            flight: SingleFlight::new(),
            others: RwLock::new(None),
            others_flight: SingleFlight::new(),
        }
    }

    /// An endpoint from the metadata. Some IdPs publish an endpoint (introspection, typically)
    /// only in one of their documents: when the document discovery settled on lacks it, the
    /// later places of [`IssuerUrl::metadata_urls`] are read too, once. `Ok(None)` when none
    /// names it ([`Discovery::consulted`] says what was read).
    /// A discovered URL goes through the same scheme check as a configured one; one that fails
    /// it is a misconfiguration naming the document and the member, never called.
    pub async fn endpoint(&self, endpoint: Endpoint) -> Result<Option<String>, AuthError> {
        let metadata = self.metadata().await?;
        if let Some(url) = endpoint.of(&metadata) {
            self.check_discovered(&metadata.document, endpoint, url)?;
            return Ok(Some(url.clone()));
        }
        let others = self.others(&metadata).await?;
        let Some((document, url)) = others
            .found
            .iter()
            .find_map(|m| Some((&m.document, endpoint.of(m)?)))
        else {
            return Ok(None);
        };
        self.check_discovered(document, endpoint, url)?;
        Ok(Some(url.clone()))
    }

    /// Which documents were read for `endpoint` and what each said: for the error when none
    /// names it.
    pub fn consulted(&self, endpoint: Endpoint) -> String {
        let mut lines = Vec::new();
        if let Some(metadata) = self.cached() {
            lines.extend(metadata.tried.iter().cloned());
            lines.push(format!("{} (no {})", metadata.document, endpoint.member()));
        }
        if let Some(others) = read(&self.others).clone() {
            lines.extend(others.notes.iter().cloned());
            lines.extend(
                others
                    .found
                    .iter()
                    .map(|m| format!("{} (no {})", m.document, endpoint.member())),
            );
        }
        lines.join("; ")
    }

    /// The documents after `primary` in [`IssuerUrl::metadata_urls`], read once.
    async fn others(&self, primary: &ProviderMetadata) -> Result<Arc<OtherDocuments>, AuthError> {
        if let Some(known) = read(&self.others).clone() {
            return Ok(known);
        }
        self.others_flight
            .run((), || async {
                let urls = self.issuer.metadata_urls();
                let after = urls
                    .iter()
                    .position(|u| *u == primary.document)
                    .map_or(0, |i| i + 1);
                let mut others = OtherDocuments::default();
                for url in &urls[after..] {
                    match self
                        .http
                        .get_json::<ProviderMetadata>(IdpEndpoint::Discovery, url)
                        .await
                    {
                        Ok(mut fetched) => {
                            check_issuer(&self.issuer, &fetched.value)?;
                            fetched.value.document = url.clone();
                            others.found.push(Arc::new(fetched.value));
                        }
                        Err(FetchError::Status { status, .. }) if (400..500).contains(&status) => {
                            others.notes.push(format!("{url} answered {status}"));
                        }
                        Err(e) => return Err(unavailable(&e)),
                    }
                }
                let others = Arc::new(others);
                *write(&self.others) = Some(others.clone());
                Ok(others)
            })
            .await
    }

    fn check_discovered(
        &self,
        document: &str,
        endpoint: Endpoint,
        url: &str,
    ) -> Result<(), AuthError> {
        self.issuer.check_endpoint(url).map_err(|reason| {
            AuthError::misconfigured(format!(
                "the discovery document {document} names {} = {url:?}, which Portcullis will not call: {reason}; fix the IdP's metadata or set {}",
                endpoint.member(),
                endpoint.setting()
            ))
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &IssuerUrl {
        &self.issuer
    }

    /// The metadata, fetched at the first call.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, AuthError> {
        if let Some(metadata) = self.cached() {
            return Ok(metadata);
        }
        if let Some(error) = self.recent_failure() {
            return Err(error);
        }
        self.flight
            .run((), || async {
                if let Some(metadata) = self.cached() {
                    return Ok(metadata);
                }
                match self.fetch().await {
                    Ok(metadata) => {
                        let metadata = Arc::new(metadata);
                        *write(&self.cached) = Some(metadata.clone());
                        tracing::info!(issuer = %self.issuer.as_str(), jwks_uri = ?metadata.jwks_uri, "portcullis: discovered the issuer's metadata");
                        Ok(metadata)
                    }
                    Err(error) => {
                        tracing::warn!(issuer = %self.issuer.as_str(), error = %error, "portcullis: discovery failed");
                        *lock(&self.last_failure) = Some((self.clock.now(), error.clone()));
                        Err(error)
                    }
                }
            })
            .await
    }

    /// The metadata if it was fetched already.
    pub fn cached(&self) -> Option<Arc<ProviderMetadata>> {
        read(&self.cached).clone()
    }

    fn recent_failure(&self) -> Option<AuthError> {
        let guard = lock(&self.last_failure);
        let (when, error) = guard.as_ref()?;
        (elapsed_since(self.clock.now(), *when) < self.retry_backoff).then(|| error.clone())
    }

    async fn fetch(&self) -> Result<ProviderMetadata, AuthError> {
        let FirstDocument {
            url,
            mut tried,
            result,
        } = FirstDocument::<ProviderMetadata>::find(&self.http, &self.issuer).await;
        match result {
            Ok(document) => {
                let metadata = ProviderMetadata {
                    document: url,
                    tried,
                    ..document
                };
                check_issuer(&self.issuer, &metadata)?;
                Ok(metadata)
            }
            Err(FetchError::Status { status, .. }) if (400..500).contains(&status) => {
                tried.push(format!("{url} answered {status}"));
                Err(AuthError::misconfigured(format!(
                    "portcullis.issuer = {:?} has no discovery document: {}; check the issuer (or set portcullis.jwks-uri)",
                    self.issuer.as_str(),
                    tried.join(", ")
                )))
            }
            Err(e) => Err(unavailable(&e)),
        }
    }
}

fn unavailable(error: &FetchError) -> AuthError {
    AuthError::unavailable(format!("issuer discovery failed: {error}"))
}

fn check_issuer(configured: &IssuerUrl, metadata: &ProviderMetadata) -> Result<(), AuthError> {
    if metadata.issuer == configured.as_str() {
        return Ok(());
    }
    let hint = if metadata.issuer.trim_end_matches('/') == configured.as_str().trim_end_matches('/')
    {
        " (they differ only by a trailing slash: write portcullis.issuer exactly as the IdP does)"
    } else {
        ""
    };
    Err(AuthError::misconfigured(format!(
        "the discovery document names the issuer {:?}, but portcullis.issuer is {:?}; they must be equal byte for byte{hint}",
        metadata.issuer,
        configured.as_str()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_scheme_rules() {
        for ok in [
            "https://idp.example.com",
            "http://127.0.0.1:9000",
            "http://127.5.6.7",
            "http://[::1]:80/x",
            "http://LOCALHOST:1",
        ] {
            assert!(IssuerUrl::parse(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            IssuerUrl::parse("http://idp.example.com", false),
            Err(IssuerUrlError::InsecureScheme)
        );
        assert!(IssuerUrl::parse("http://idp.example.com", true).is_ok());
        assert!(matches!(
            IssuerUrl::parse("ftp://idp", false),
            Err(IssuerUrlError::Scheme(_))
        ));
        assert_eq!(
            IssuerUrl::parse("https://idp/?a=b", false),
            Err(IssuerUrlError::QueryOrFragment)
        );
        assert!(matches!(
            IssuerUrl::parse("idp.example.com", false),
            Err(IssuerUrlError::Invalid(_))
        ));
    }

    #[test]
    fn well_known_urls_follow_oidc_and_rfc8414() {
        let issuer = IssuerUrl::parse("https://idp.example.com/oauth2/default/", false).unwrap();
        assert_eq!(
            issuer.openid_configuration_url(),
            "https://idp.example.com/oauth2/default/.well-known/openid-configuration"
        );
        assert_eq!(
            issuer.oauth_metadata_url(),
            "https://idp.example.com/.well-known/oauth-authorization-server/oauth2/default"
        );
        let root = IssuerUrl::parse("https://idp.example.com", false).unwrap();
        assert_eq!(
            root.oauth_metadata_url(),
            "https://idp.example.com/.well-known/oauth-authorization-server"
        );
        // Okta custom authorization servers, django-oauth-toolkit under a prefix.
        assert_eq!(
            issuer.metadata_urls(),
            [
                "https://idp.example.com/oauth2/default/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/oauth2/default",
                "https://idp.example.com/oauth2/default/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            root.metadata_urls().len(),
            2,
            "no duplicate for a root issuer"
        );
    }

    #[test]
    fn issuer_mismatch_explains_a_trailing_slash() {
        let issuer = IssuerUrl::parse("https://idp.example.com/", false).unwrap();
        let metadata: ProviderMetadata =
            serde_json::from_str(r#"{"issuer":"https://idp.example.com"}"#).unwrap();
        let error = check_issuer(&issuer, &metadata).unwrap_err();
        assert!(error.detail().unwrap().contains("trailing slash"));
    }
}
