//! axum extractors: `Principal` and `Option<Principal>`.

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::authorize::{RequireScopes, ScopeRequirement};
use crate::context::{AuthContext, AuthRejection, principal_of};
use crate::enrich::UserInfo;
use crate::error::AuthError;
use crate::principal::Principal;

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        self.into_http().map(Body::from)
    }
}

/// The validated caller. Without a token (on a layer that allows anonymous requests) this
/// answers 401 with a bare `Bearer` challenge.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(principal) = principal_of(&parts.extensions) {
            return Ok(principal.clone());
        }
        match parts.extensions.get::<AuthContext>() {
            Some(context) => Err(AuthRejection::new(
                AuthError::missing_token(),
                Some(context),
                &parts.uri,
                &parts.headers,
            )),
            None => Err(AuthRejection::layer_missing("the Principal extractor")),
        }
    }
}

/// `None` when the request carried no token; a bad token was already refused by the layer.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(principal) = principal_of(&parts.extensions) {
            return Ok(Some(principal.clone()));
        }
        match parts.extensions.get::<AuthContext>() {
            Some(_) => Ok(None),
            None => Err(AuthRejection::layer_missing(
                "the Option<Principal> extractor",
            )),
        }
    }
}

/// Userinfo claims: from the principal when the eager enricher fetched them, else fetched now.
impl<S: Send + Sync> FromRequestParts<S> for UserInfo {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal =
            <Principal as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if let Some(claims) = principal.userinfo() {
            return Ok(UserInfo(claims.clone()));
        }
        let context = parts.extensions.get::<AuthContext>();
        let Some(source) = context.and_then(|c| c.userinfo().cloned()) else {
            return Err(AuthRejection::new(
                AuthError::misconfigured(
                    "the UserInfo extractor needs a userinfo endpoint: the issuer's metadata names none; set portcullis.userinfo.endpoint",
                ),
                context,
                &parts.uri,
                &parts.headers,
            ));
        };
        source
            .userinfo(&principal)
            .await
            .map(UserInfo)
            .map_err(|error| AuthRejection::new(error, context, &parts.uri, &parts.headers))
    }
}

/// The principal, when it satisfies `R::POLICY`; 403 `insufficient_scope` otherwise.
impl<S: Send + Sync, R: ScopeRequirement> FromRequestParts<S> for RequireScopes<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = parts.extensions.get::<AuthContext>();
        let Some(principal) = principal_of(&parts.extensions) else {
            return Err(match context {
                Some(context) => AuthRejection::new(
                    AuthError::missing_token(),
                    Some(context),
                    &parts.uri,
                    &parts.headers,
                ),
                None => AuthRejection::layer_missing(
                    "a scope requirement (#[requires_scopes] or RequireScopes)",
                ),
            });
        };
        R::POLICY
            .check(principal)
            .map_err(|error| AuthRejection::new(error, context, &parts.uri, &parts.headers))?;
        Ok(RequireScopes::granted(principal.clone()))
    }
}
