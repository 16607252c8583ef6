//! The configured pipeline: resolve → validate → enrich.

use std::sync::Arc;

use http::request::Parts;
use portcullis_core::context::log_error;
use portcullis_core::observe::Telemetry;
use portcullis_core::rules::{Access, RuleSet};
use tracing::Instrument as _;

use crate::metadata::ProtectedResource;
use portcullis_core::explain::Step;
use portcullis_core::{
    AuthContext, AuthError, ChallengeContext, Enricher, ErrorRenderer, Principal, TokenResolver,
    TokenValidator, UserinfoSource,
};
use tracing::field::Empty;

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
    pub(crate) metadata: Option<Arc<ProtectedResource>>,
    pub(crate) telemetry: Arc<Telemetry>,
    #[cfg_attr(
        not(feature = "testing"),
        allow(dead_code, reason = "used by the testing feature")
    )]
    pub(crate) mapping: portcullis_core::mapping::ClaimMapping,
    /// Test claims stand in for a token only when the application's code asked for it
    /// ([`crate::PortcullisBuilder::test_authentication`]), never because of a feature alone.
    #[cfg(feature = "testing")]
    pub(crate) test_authentication: bool,
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
        #[cfg(feature = "testing")]
        if let Some(test) = parts.extensions.get::<crate::testing::TestAuthentication>() {
            if self.test_authentication {
                let token = portcullis_core::BearerToken::new(crate::testing::TEST_TOKEN);
                return Ok(Some(self.mapping.principal(token, test.claims.clone())));
            }
            tracing::warn!(
                target: "portcullis",
                "a request carries test claims, but this Portcullis was not built with test authentication: they are ignored (PortcullisBuilder::test_authentication turns it on in tests)"
            );
        }
        let Some(token) = self.resolver.resolve(parts)? else {
            return Ok(None);
        };
        let principal = self.validator.validate(&token, parts).await?;
        let principal = match &self.enricher {
            Some(enricher) => enricher.enrich(principal, parts).await?,
            None => principal,
        };
        Ok(Some(principal))
    }

    /// Authenticates a request and applies the access rules: what the layer does. Runs in a
    /// `portcullis.authenticate` span whose fields say who called and what was decided (`subject`,
    /// `client_id`, `outcome`, `reason`; never the token), logs a refusal, and counts the outcome
    /// in `portcullis_validations_total`.
    pub async fn admit(
        &self,
        parts: &Parts,
        rules: &RuleSet,
    ) -> Result<Option<Principal>, AuthError> {
        let span = tracing::info_span!(
            target: "portcullis",
            "portcullis.authenticate",
            subject = Empty,
            client_id = Empty,
            outcome = Empty,
            reason = Empty,
        );
        let result = self.decide(parts, rules).instrument(span.clone()).await;
        match &result {
            Ok(Some(principal)) => {
                if !span.is_disabled() {
                    span.record("subject", principal.subject());
                    span.record("client_id", principal.client_id());
                    span.record("outcome", "accepted");
                    span.in_scope(
                        || tracing::debug!(target: "portcullis", "request authenticated"),
                    );
                }
                self.telemetry.validation(Ok(()));
            }
            Ok(None) => {
                span.record("outcome", "anonymous");
            }
            Err(error) => {
                span.record("outcome", outcome(error));
                span.record("reason", error.reason().as_str());
                span.in_scope(|| log_error(error));
                self.telemetry.validation(Err(error));
            }
        }
        result
    }

    /// The hot path, synchronously: a token that passed every check before, on a request whose
    /// rule only asks for a valid token (or scopes the token has), with nothing to enrich. `None`
    /// means "not decidable from the cache" (new token, no token, a refusal, an enricher, a rule
    /// that denies): [`Pipeline::admit`] then decides, logs and counts as usual.
    pub fn admit_verified<B>(
        &self,
        request: &http::Request<B>,
        rules: &RuleSet,
    ) -> Option<Principal> {
        if self.enricher.is_some() {
            return None;
        }
        #[cfg(feature = "testing")]
        if self.test_authentication
            && request
                .extensions()
                .get::<crate::testing::TestAuthentication>()
                .is_some()
        {
            return None;
        }
        let access = rules.decide(request.method(), request.uri().path());
        let token = self.resolver.sent_token(request.headers(), request.uri())?;
        let principal = match access {
            Access::Authenticated => self.validator.lookup_verified(token)?,
            Access::Require(policy) => {
                let principal = self.validator.lookup_verified(token)?;
                if !policy.allows(&principal) {
                    return None;
                }
                principal
            }
            Access::PermitAll | Access::DenyAll => return None,
        };
        self.telemetry.validation(Ok(()));
        let span = tracing::info_span!(
            target: "portcullis",
            "portcullis.authenticate",
            subject = principal.subject(),
            client_id = principal.client_id(),
            outcome = "accepted",
            reason = Empty,
        );
        span.in_scope(|| tracing::debug!(target: "portcullis", "request authenticated (cached)"));
        Some(principal)
    }

    async fn decide(&self, parts: &Parts, rules: &RuleSet) -> Result<Option<Principal>, AuthError> {
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

    /// Explains what the layer would decide for a request, step by step (`portcullis inspect`):
    /// token resolution, each check of the validator, the claim mapping and, for the request's
    /// method and path, the access rule. The verdict is the real decision ([`Pipeline::admit`]),
    /// so the explanation can never disagree with the service.
    pub async fn explain(
        &self,
        parts: &Parts,
    ) -> (Vec<Step>, Result<Option<Principal>, AuthError>) {
        let mut steps = Vec::new();
        match self.resolver.resolve(parts) {
            Ok(Some(token)) => {
                steps.push(Step::passed(
                    "bearer token",
                    format!("{} bytes, well-formed", token.len()),
                ));
                steps.extend(self.validator.explain(&token, parts).await);
            }
            Ok(None) => steps.push(Step::failed("bearer token", &AuthError::missing_token())),
            Err(error) => steps.push(Step::failed("bearer token", &error)),
        }
        // The verdict is the real decision (cache included): the explanation above ran the same
        // checks uncached, so an introspected token is asked about twice — a tool's price for
        // never disagreeing with the service.
        let verdict = self.decide(parts, &self.rules).await;
        if let Ok(Some(principal)) = &verdict {
            let scopes: Vec<&str> = principal.scopes().iter().map(|s| s.as_str()).collect();
            steps.push(Step::info(
                "principal",
                format!(
                    "subject {:?}, client {:?}, scopes [{}], authorities [{}]",
                    principal.subject().unwrap_or("-"),
                    principal.client_id().unwrap_or("-"),
                    scopes.join(" "),
                    principal.authorities().join(" ")
                ),
            ));
        }
        let access = self.rules.decide(&parts.method, parts.uri.path());
        let rule = format!("{} {} {access}", parts.method, parts.uri.path());
        steps.push(match &verdict {
            Err(error) if error.kind() == portcullis_core::ErrorKind::InsufficientScope => {
                Step::failed("access rule", error)
            }
            Err(_) => Step::info("access rule", rule),
            Ok(_) => Step::passed("access rule", rule),
        });
        (steps, verdict)
    }

    /// The configured access rules.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// What the layer leaves in each request for the extractors and route layers.
    pub fn context(&self) -> AuthContext {
        AuthContext::new(portcullis_core::context::ContextShared {
            renderer: self.renderer.clone(),
            userinfo: self.userinfo.clone(),
            telemetry: Some(self.telemetry.clone()),
            resource: self.metadata.as_ref().map(|m| m.location().clone()),
        })
    }

    /// The RFC 9728 metadata the layer serves, when a resource identifier is known.
    pub fn resource_metadata(&self) -> Option<&Arc<ProtectedResource>> {
        self.metadata.as_ref()
    }

    /// The metrics and health state the components report to.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// The renderer for error responses.
    pub fn renderer(&self) -> &Arc<dyn ErrorRenderer> {
        &self.renderer
    }

    /// The response refusing a request (`uri` and `headers` are the request's: its challenge
    /// names the metadata URL of the host it reached).
    pub fn render(
        &self,
        error: &AuthError,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> http::Response<bytes::Bytes> {
        let url = self
            .metadata
            .as_ref()
            .and_then(|m| m.location().metadata_url_for(uri, headers));
        let context = ChallengeContext::none().with_resource_metadata(url.as_deref());
        self.renderer.render(error, &context)
    }
}

/// The `outcome` field of a refusal.
fn outcome(error: &AuthError) -> &'static str {
    match error.kind() {
        portcullis_core::ErrorKind::Unavailable => "unavailable",
        portcullis_core::ErrorKind::Misconfigured => "error",
        _ => "rejected",
    }
}
