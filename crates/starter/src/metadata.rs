//! RFC 9728 protected-resource metadata: the document at
//! `/.well-known/oauth-protected-resource`, served by the authentication layer itself, for the
//! configured resource identifier or, without one, for the origin each request reached (see
//! [`ResourceLocation`]).

use std::collections::BTreeSet;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use portcullis_core::config::PortcullisConfig;
use portcullis_core::rules::RuleSet;
use serde_json::{Map, Value};

use portcullis_core::resource::ResourceLocation;
pub use portcullis_core::resource::WELL_KNOWN;

/// What this service announces about itself.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    location: ResourceLocation,
    authorization_servers: Vec<String>,
    bearer_methods: Vec<&'static str>,
    fixed_scopes: BTreeSet<String>,
    name: Option<String>,
    documentation: Option<String>,
}

impl ProtectedResource {
    /// The metadata for `config`, unless `resource-metadata.enabled = false`: for the configured
    /// resource identifier, else for each request's own origin.
    pub fn from_config(config: &PortcullisConfig, rules: &RuleSet) -> Option<Self> {
        if !config.resource_metadata.enabled {
            return None;
        }
        let location = match &config.resource_metadata.resource {
            Some(resource) => ResourceLocation::configured(resource)?,
            None => ResourceLocation::RequestOrigin,
        };
        let mut bearer_methods = vec!["header"];
        if config.token.allow_query_parameter {
            bearer_methods.push("query");
        }
        let m = &config.resource_metadata;
        Some(Self {
            location,
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

    /// Where the resource is: configured, or each request's origin.
    pub fn location(&self) -> &ResourceLocation {
        &self.location
    }

    /// The path the layer answers on.
    pub fn path(&self) -> &str {
        self.location.metadata_path()
    }

    /// Whether a request asks for the document.
    pub fn is_request_for(&self, method: &Method, path: &str) -> bool {
        (method == Method::GET || method == Method::HEAD) && path == self.path()
    }

    /// The document for `resource`: scopes from configuration, from the access rules and from
    /// every route requirement declared in this process so far.
    pub fn document(&self, resource: &str) -> Value {
        let mut scopes = self.fixed_scopes.clone();
        scopes.extend(
            portcullis_core::scope::declared()
                .iter()
                .map(|s| s.as_str().to_owned()),
        );
        let mut doc = Map::new();
        doc.insert("resource".into(), resource.into());
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

    /// The response to a metadata request; `None` when the resource comes from the request and
    /// the request names no usable host.
    pub fn response(&self, uri: &Uri, headers: &HeaderMap) -> Option<Response<Bytes>> {
        let resource = self.location.resource_for(uri, headers)?;
        let body = serde_json::to_vec(&self.document(&resource)).unwrap_or_default();
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = StatusCode::OK;
        let out = response.headers_mut();
        out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        out.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
        Some(response)
    }
}
