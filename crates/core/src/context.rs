//! What the authentication layer leaves in the request for the steps after it.

use std::sync::Arc;

use bytes::Bytes;
use http::Response;

use crate::error::{AuthError, ChallengeContext, ErrorKind, ErrorRenderer, Rfc6750Renderer};
use crate::principal::Principal;

/// Inserted into the request extensions by the authentication layer, whether or not the request
/// carried a token. Its presence tells an extractor or route layer that the request went through
/// the layer; it carries the principal (when there is one) and what later steps need, so errors
/// raised later look the same. One extension, cloned with two reference-count increments: the
/// hot path inserts nothing else.
#[derive(Clone)]
pub struct AuthContext {
    shared: Arc<ContextShared>,
    principal: Option<Principal>,
}

impl std::fmt::Debug for ContextShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextShared")
            .field("userinfo", &self.userinfo.is_some())
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// What every request's [`AuthContext`] shares.
pub struct ContextShared {
    /// The renderer the layer uses.
    pub renderer: Arc<dyn ErrorRenderer>,
    /// Where the `UserInfo` extractor gets claims, when a userinfo endpoint is known.
    pub userinfo: Option<Arc<dyn crate::enrich::UserinfoSource>>,
    /// Where refusals raised after the layer are counted.
    pub telemetry: Option<Arc<crate::observe::Telemetry>>,
    /// Where the RFC 9728 metadata is, for the challenges; `None` when none is published.
    pub resource: Option<crate::resource::ResourceLocation>,
}

impl AuthContext {
    /// A context without a principal.
    pub fn new(shared: ContextShared) -> Self {
        Self {
            shared: Arc::new(shared),
            principal: None,
        }
    }

    /// The same context for an authenticated request.
    #[must_use]
    pub fn with_principal(&self, principal: Principal) -> Self {
        Self {
            shared: self.shared.clone(),
            principal: Some(principal),
        }
    }

    /// The authenticated caller, when the request carried a valid token.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The renderer the layer uses.
    pub fn renderer(&self) -> &Arc<dyn ErrorRenderer> {
        &self.shared.renderer
    }

    /// The userinfo source, when a userinfo endpoint is known.
    pub fn userinfo(&self) -> Option<&Arc<dyn crate::enrich::UserinfoSource>> {
        self.shared.userinfo.as_ref()
    }

    /// The telemetry refusals are counted in.
    pub fn telemetry(&self) -> Option<&Arc<crate::observe::Telemetry>> {
        self.shared.telemetry.as_ref()
    }

    /// Where the RFC 9728 metadata is, when it is published.
    pub fn resource(&self) -> Option<&crate::resource::ResourceLocation> {
        self.shared.resource.as_ref()
    }
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// The principal of a request: the one the layer put in its [`AuthContext`], and nothing else.
/// A bare `Principal` extension (inserted by any other code) never counts: on an anonymous or
/// permit-all route it would otherwise authenticate a request that sent no token.
pub fn principal_of(extensions: &http::Extensions) -> Option<&Principal> {
    extensions
        .get::<AuthContext>()
        .and_then(AuthContext::principal)
}

/// An error raised after the layer (by an extractor or an authorization step), rendered with the
/// layer's renderer when there is one.
#[derive(Debug)]
pub struct AuthRejection {
    error: AuthError,
    context: Option<AuthContext>,
    resource_metadata: Option<String>,
}

impl AuthRejection {
    /// Wraps an error with the request's context; `uri` and `headers` are the request's, for the
    /// metadata URL its challenge names.
    pub fn new(
        error: AuthError,
        context: Option<&AuthContext>,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Self {
        let resource_metadata = context
            .and_then(AuthContext::resource)
            .and_then(|resource| resource.metadata_url_for(uri, headers))
            .map(std::borrow::Cow::into_owned);
        Self {
            error,
            context: context.cloned(),
            resource_metadata,
        }
    }

    /// The error that the Principal extractor (or an authorization layer) raises when the route
    /// is not covered by the authentication layer: a server misconfiguration, never a pass.
    pub fn layer_missing(what: &str) -> Self {
        let error = AuthError::misconfigured(format!(
            "{what} is used on a route that the Portcullis authentication layer does not cover; add .layer(portcullis.layer()) to the router that holds it"
        ));
        Self {
            error,
            context: None,
            resource_metadata: None,
        }
    }

    /// The error.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// Logs the error and renders the response.
    pub fn into_http(self) -> Response<Bytes> {
        log_error(&self.error);
        if let Some(telemetry) = self.context.as_ref().and_then(AuthContext::telemetry) {
            telemetry.validation(Err(&self.error));
        }
        let challenge =
            ChallengeContext::none().with_resource_metadata(self.resource_metadata.as_deref());
        match &self.context {
            Some(context) => context.renderer().render(&self.error, &challenge),
            None => Rfc6750Renderer::new().render(&self.error, &challenge),
        }
    }
}

/// Logs a request error at the level its kind deserves, with the precise reason and never the
/// token.
pub fn log_error(error: &AuthError) {
    let description = error.description();
    let detail = error.detail().unwrap_or("");
    match error.kind() {
        ErrorKind::MissingToken => {
            tracing::debug!(target: "portcullis", status = 401, "request without bearer token")
        }
        ErrorKind::InvalidRequest | ErrorKind::InvalidToken | ErrorKind::InsufficientScope => {
            tracing::info!(target: "portcullis", status = error.status().as_u16(), reason = error.reason().as_str(), %description, "request refused")
        }
        ErrorKind::Unavailable => {
            tracing::warn!(target: "portcullis", status = 503, reason = error.reason().as_str(), %detail, "token could not be checked")
        }
        ErrorKind::Misconfigured => {
            tracing::error!(target: "portcullis", status = 500, reason = error.reason().as_str(), %detail, "authentication is misconfigured")
        }
    }
}
