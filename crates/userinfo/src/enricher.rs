//! [`UserinfoEnricher`]: userinfo for every authenticated request.

use std::sync::Arc;

use http::request::Parts;
use portcullis_core::config::UserinfoFailure;
use portcullis_core::{AuthError, BoxFuture, Enricher, Principal};

use crate::UserinfoClient;

/// Attaches userinfo claims to every principal; on failure continues without them (logged) or
/// fails the request with 503, as configured.
#[derive(Debug, Clone)]
pub struct UserinfoEnricher {
    client: Arc<UserinfoClient>,
    on_failure: UserinfoFailure,
}

impl UserinfoEnricher {
    /// An enricher.
    pub fn new(client: Arc<UserinfoClient>, on_failure: UserinfoFailure) -> Self {
        Self { client, on_failure }
    }
}

impl Enricher for UserinfoEnricher {
    fn enrich<'a>(
        &'a self,
        principal: Principal,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(async move {
            match self.client.fetch(&principal).await {
                Ok(claims) => Ok(principal.with_userinfo(claims)),
                Err(error) if self.on_failure == UserinfoFailure::Continue => {
                    tracing::warn!(target: "portcullis", reason = %error.detail().unwrap_or(error.description()), "userinfo unavailable; continuing without it (portcullis.userinfo.on-failure = continue)");
                    Ok(principal)
                }
                Err(error) => Err(error),
            }
        })
    }
}
