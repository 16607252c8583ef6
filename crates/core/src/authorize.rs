//! Step 5: check what a route requires of the principal.

use http::request::Parts;

use crate::error::AuthError;
use crate::principal::Principal;
use crate::scope::ScopePolicy;

/// Decides whether a validated principal may use a route.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok(())` to let the request through; otherwise the error to answer with.
    fn authorize(&self, principal: &Principal, request: &Parts) -> Result<(), AuthError>;
}

impl Authorizer for ScopePolicy {
    fn authorize(&self, principal: &Principal, _request: &Parts) -> Result<(), AuthError> {
        if self.is_satisfied_by(principal.scopes()) {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(
                self.challenge_scope(),
                self.describe(),
            ))
        }
    }
}
