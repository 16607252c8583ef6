//! axum extractors: `Principal` and `Option<Principal>`.

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::context::{AuthContext, AuthRejection};
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
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        match parts.extensions.get::<AuthContext>() {
            Some(context) => Err(AuthRejection::new(
                AuthError::missing_token(),
                Some(context),
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
        if let Some(principal) = parts.extensions.get::<Principal>() {
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
