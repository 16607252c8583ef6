//! Step 2: check the token and produce a [`Principal`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::request::Parts;

use crate::error::AuthError;
use crate::explain::Step;
use crate::principal::Principal;
use crate::secret::BearerToken;

/// A boxed, sendable future (what the pipeline traits return, so they stay object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Checks a token. Implementations: `JwtValidator` (portcullis-jwt-local) and, with the
/// introspection crate, `IntrospectionValidator`. A validator the user supplies to the starter
/// replaces the configured one.
///
/// The request parts are passed so that sender-constrained tokens (DPoP, mTLS) can be checked
/// against the request that carries them.
pub trait TokenValidator: Send + Sync + 'static {
    /// Validates `token` as carried by `request`.
    fn validate<'a>(
        &'a self,
        token: &'a BearerToken,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>>;

    /// Work to do before the first request when discovery is eager (fetch metadata and keys).
    /// The default does nothing.
    fn prepare(&self) -> BoxFuture<'_, Result<(), AuthError>> {
        Box::pin(async { Ok(()) })
    }

    /// A short name for startup logs.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// The principal of a token that passed every check before and whose decision still
    /// stands, from a cache, synchronously: the hot path of a token seen again. `token` is the
    /// token exactly as sent, and a hit must compare it whole. `None` (the default) means "not
    /// known": the pipeline then calls [`TokenValidator::validate`].
    fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        let _ = token;
        None
    }

    /// Explains, step by step, why `token` passes or fails (`portcullis inspect`). The default
    /// runs [`TokenValidator::validate`] as one step; the built-in validators show each check.
    fn explain<'a>(
        &'a self,
        token: &'a BearerToken,
        request: &'a Parts,
    ) -> BoxFuture<'a, Vec<Step>> {
        Box::pin(async move {
            let result = self.validate(token, request).await.map(|_| ());
            vec![Step::from_result(
                self.name(),
                &result,
                "the validator accepts the token",
            )]
        })
    }
}

impl<T: TokenValidator + ?Sized> TokenValidator for Arc<T> {
    fn validate<'a>(
        &'a self,
        token: &'a BearerToken,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        (**self).validate(token, request)
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), AuthError>> {
        (**self).prepare()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn explain<'a>(
        &'a self,
        token: &'a BearerToken,
        request: &'a Parts,
    ) -> BoxFuture<'a, Vec<Step>> {
        (**self).explain(token, request)
    }

    fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        (**self).lookup_verified(token)
    }
}
