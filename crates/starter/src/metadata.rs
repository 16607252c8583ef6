//! RFC 9728 protected-resource metadata: the document at
//! `/.well-known/oauth-protected-resource`, served by the authentication layer itself, and the
//! URL that every challenge names in `resource_metadata`.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Response, StatusCode};
use portcullis_core::config::PortcullisConfig;
use portcullis_core::rules::RuleSet;
use serde_json::{Map, Value};

/// The RFC 9728 well-known suffix.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What this service announces about itself.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    resource: String,
    path: String,
    url: String,
    authorization_servers: Vec<String>,
    bearer_methods: Vec<&'static str>,
    fixed_scopes: BTreeSet<String>,
    name: Option<String>,
    documentation: Option<String>,
}

impl ProtectedResource {
    /// The metadata for `config`, when a resource identifier is known (see
    /// [`PortcullisConfig::resource_identifier`]).
    pub fn from_config(config: &PortcullisConfig, rules: &RuleSet) -> Option<Self> {
        let resource = config.resource_identifier()?;
        let parsed = url::Url::parse(resource).ok()?;
        // §3.1: the well-known string goes between the host and the path.
        let resource_path = parsed.path().trim_end_matches('/');
        let path = format!("{WELL_KNOWN}{resource_path}");
        let origin = parsed.origin().ascii_serialization();
        let mut bearer_methods = vec!["header"];
        if config.token.allow_query_parameter {
            bearer_methods.push("query");
        }
        let m = &config.resource_metadata;
        Some(Self {
            resource: resource.to_owned(),
            url: format!("{origin}{path}"),
            path,
            authorization_servers: config.issuer.iter().cloned().collect(),
            bearer_methods,
            fixed_scopes: m
                .scopes_supported
                .iter()
                .cloned()
                .chain(rules.scopes().map(str::to_owned))
                .collect(),
            name: m.resource_name.clone(),
            documentation: m.resource_documentation.clone(),
        })
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The absolute metadata URL (the challenges' `resource_metadata`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path the layer answers on.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether a request asks for the document.
    pub fn is_request_for(&self, method: &Method, path: &str) -> bool {
        (method == Method::GET || method == Method::HEAD) && path == self.path
    }

    /// The document: scopes from configuration, from the access rules and from every route
    /// requirement declared in this process so far.
    pub fn document(&self) -> Value {
        let mut scopes = self.fixed_scopes.clone();
        scopes.extend(
            portcullis_core::scope::declared()
                .iter()
                .map(|s| s.as_str().to_owned()),
        );
        let mut doc = Map::new();
        doc.insert("resource".into(), self.resource.clone().into());
        doc.insert(
            "authorization_servers".into(),
            self.authorization_servers.clone().into(),
        );
        doc.insert(
            "bearer_methods_supported".into(),
            self.bearer_methods.clone().into(),
        );
        if !scopes.is_empty() {
            doc.insert(
                "scopes_supported".into(),
                scopes.into_iter().collect::<Vec<_>>().into(),
            );
        }
        if let Some(name) = &self.name {
            doc.insert("resource_name".into(), name.clone().into());
        }
        if let Some(documentation) = &self.documentation {
            doc.insert(
                "resource_documentation".into(),
                documentation.clone().into(),
            );
        }
        Value::Object(doc)
    }

    /// The response to a metadata request.
    pub fn response(&self) -> Response<Bytes> {
        let body = serde_json::to_vec(&self.document()).unwrap_or_default();
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
        response
    }
}
