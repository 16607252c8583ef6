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
        self.check(principal)
    }
}

impl ScopePolicy {
    /// `Ok` when the principal satisfies the policy, else the 403 to answer with.
    pub fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        if self.allows(principal) {
            Ok(())
        } else {
            Err(AuthError::forbidden(
                self.challenge_scope(),
                self.describe(),
            ))
        }
    }
}

/// A requirement known at compile time: what the `#[requires_scopes]` annotation generates, and
/// what a hand-written marker type implements for the `RequireScopes<R>` extractor.
///
/// ```
/// use portcullis_core::{ScopePolicy, authorize::ScopeRequirement};
/// struct OrdersRead;
/// impl ScopeRequirement for OrdersRead {
///     const POLICY: ScopePolicy = ScopePolicy::all_static(&["orders:read"]);
/// }
/// ```
pub trait ScopeRequirement: Send + Sync + 'static {
    /// The policy.
    const POLICY: ScopePolicy;
}

/// An extractor that lets the handler run only when the principal satisfies `R::POLICY`;
/// it also hands over the principal. The `#[requires_scopes]` annotation adds one as a hidden
/// argument; without macros, name a marker type:
///
/// ```
/// use portcullis_core::{ScopePolicy, ScopeRequirement};
/// use portcullis_core::authorize::RequireScopes;
/// struct OrdersRead;
/// impl ScopeRequirement for OrdersRead {
///     const POLICY: ScopePolicy = ScopePolicy::all_static(&["orders:read"]);
/// }
/// async fn orders(access: RequireScopes<OrdersRead>) -> String {
///     format!("orders of {}", access.principal)
/// }
/// ```
pub struct RequireScopes<R> {
    /// The caller.
    pub principal: Principal,
    requirement: std::marker::PhantomData<fn() -> R>,
}

impl<R> RequireScopes<R> {
    /// Wraps a principal that satisfied `R`.
    #[cfg_attr(
        not(feature = "axum"),
        allow(dead_code, reason = "used by the axum extractor")
    )]
    pub(crate) fn granted(principal: Principal) -> Self {
        Self {
            principal,
            requirement: std::marker::PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for RequireScopes<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireScopes")
            .field("principal", &self.principal)
            .finish()
    }
}
