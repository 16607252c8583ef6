//! Step 3: add to a validated principal (for example userinfo claims).

use std::sync::Arc;

use http::request::Parts;

use crate::error::AuthError;
use crate::principal::Principal;
use crate::validate::BoxFuture;

/// Adds information to a validated principal. Enrichment never grants scopes.
pub trait Enricher: Send + Sync + 'static {
    /// Returns the enriched principal, or an error when policy says the request must fail.
    fn enrich<'a>(
        &'a self,
        principal: Principal,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>>;
}

/// The default: the principal as validated.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEnrichment;

impl Enricher for NoEnrichment {
    fn enrich<'a>(
        &'a self,
        principal: Principal,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(std::future::ready(Ok(principal)))
    }
}

impl<T: Enricher + ?Sized> Enricher for Arc<T> {
    fn enrich<'a>(
        &'a self,
        principal: Principal,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        (**self).enrich(principal, request)
    }
}

/// Fetches userinfo claims for a principal on demand (the lazy side of userinfo enrichment).
/// Implemented by portcullis-userinfo; the `UserInfo` extractor calls it.
pub trait UserinfoSource: Send + Sync + 'static {
    /// The userinfo claims for the principal's token (cached by the implementation).
    fn userinfo<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> BoxFuture<'a, Result<crate::principal::Claims, AuthError>>;
}

/// Userinfo claims, for handlers: taken from the principal when an eager enricher fetched them,
/// otherwise fetched on demand (and cached per token).
#[derive(Debug, Clone)]
pub struct UserInfo(pub crate::principal::Claims);

impl UserInfo {
    /// One claim.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }
}
