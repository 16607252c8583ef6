//! The configured pipeline: resolve → validate → enrich.

use std::sync::Arc;

use http::request::Parts;
use portcullis_core::rules::{Access, RuleSet};
use portcullis_core::{
    AuthContext, AuthError, Enricher, ErrorRenderer, Principal, TokenResolver, TokenValidator,
    UserinfoSource,
};

/// The components one request goes through. Built by [`crate::PortcullisBuilder`].
#[derive(Clone)]
pub struct Pipeline {
    pub(crate) resolver: Arc<dyn TokenResolver>,
    pub(crate) validator: Arc<dyn TokenValidator>,
    /// `None` when nothing enriches: the step is skipped, not called as a no-op.
    pub(crate) enricher: Option<Arc<dyn Enricher>>,
    pub(crate) renderer: Arc<dyn ErrorRenderer>,
    pub(crate) userinfo: Option<Arc<dyn UserinfoSource>>,
    pub(crate) rules: Arc<RuleSet>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("validator", &self.validator.name())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Authenticates a request: `Ok(None)` when it carries no token.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Option<Principal>, AuthError> {
        let Some(token) = self.resolver.resolve(parts)? else {
            return Ok(None);
        };
        let principal = self.validator.validate(&token, parts).await?;
        let principal = match &self.enricher {
            Some(enricher) => enricher.enrich(principal, parts).await?,
            None => principal,
        };
        tracing::debug!(target: "portcullis", subject = ?principal.subject(), client_id = ?principal.client_id(), "request authenticated");
        Ok(Some(principal))
    }

    /// Authenticates a request and applies the access rules: what the layer does.
    pub async fn admit(
        &self,
        parts: &Parts,
        rules: &RuleSet,
    ) -> Result<Option<Principal>, AuthError> {
        let access = rules.decide(&parts.method, parts.uri.path());
        if *access == Access::DenyAll {
            return Err(AuthError::forbidden(
                None,
                "access to this resource is denied",
            ));
        }
        let principal = self.authenticate(parts).await?;
        match (access, principal) {
            (Access::PermitAll, principal) => Ok(principal),
            (_, None) => Err(AuthError::missing_token()),
            (Access::Require(policy), Some(principal)) => {
                policy.check(&principal).map(|()| Some(principal))
            }
            (_, Some(principal)) => Ok(Some(principal)),
        }
    }

    /// The configured access rules.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// What the layer leaves in each request for the extractors and route layers.
    pub fn context(&self) -> AuthContext {
        AuthContext {
            renderer: self.renderer.clone(),
            userinfo: self.userinfo.clone(),
        }
    }

    /// The renderer for error responses.
    pub fn renderer(&self) -> &Arc<dyn ErrorRenderer> {
        &self.renderer
    }
}
