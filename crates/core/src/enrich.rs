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
