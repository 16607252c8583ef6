//! `mode = "auto"`: JWS-shaped tokens from the configured issuer are validated locally, every
//! other token is introspected.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use portcullis_core::explain::Step;
use portcullis_core::{AuthError, BearerToken, BoxFuture, Principal, TokenValidator};
use portcullis_introspect_remote::IntrospectionValidator;
use portcullis_jwt_local::JwtValidator;
use serde_json::Value;

/// Routes each token to local validation or introspection. The routing reads the unverified
/// payload's `iss` only to choose; the chosen validator decides.
#[derive(Debug)]
pub struct AutoValidator {
    jwt: JwtValidator,
    introspection: IntrospectionValidator,
    issuer: String,
}

impl AutoValidator {
    /// Combines the two validators for `issuer`.
    pub fn new(jwt: JwtValidator, introspection: IntrospectionValidator, issuer: String) -> Self {
        Self {
            jwt,
            introspection,
            issuer,
        }
    }

    /// Whether the token is a JWS whose (unverified) `iss` is the configured issuer.
    pub fn is_local_jwt(&self, token: &str) -> bool {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        };
        let has_alg = decode(header).is_some_and(|h| h.get("alg").is_some());
        has_alg
            && decode(payload)
                .is_some_and(|p| p.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str()))
    }
}

impl TokenValidator for AutoValidator {
    fn validate<'a>(
        &'a self,
        token: &'a BearerToken,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        // A JWT that passed before: no routing work (the routing decodes the payload).
        if let Some(principal) = self.jwt.lookup_verified(token.expose().as_bytes()) {
            return Box::pin(std::future::ready(Ok(principal)));
        }
        if self.is_local_jwt(token.expose()) {
            Box::pin(self.jwt.verify_and_cache(token))
        } else {
            self.introspection.validate(token, request)
        }
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), AuthError>> {
        Box::pin(async move {
            self.jwt.prepare().await?;
            self.introspection.prepare().await
        })
    }

    fn lookup_verified(&self, token: &[u8]) -> Option<Principal> {
        self.jwt
            .lookup_verified(token)
            .or_else(|| self.introspection.lookup_verified(token))
    }

    fn explain<'a>(
        &'a self,
        token: &'a BearerToken,
        request: &'a Parts,
    ) -> BoxFuture<'a, Vec<Step>> {
        Box::pin(async move {
            let local = self.is_local_jwt(token.expose());
            let mut steps = vec![Step::info(
                "route (mode = auto)",
                if local {
                    format!("a JWS whose iss is {}: validated locally", self.issuer)
                } else {
                    "not a JWS of the configured issuer: introspected".to_owned()
                },
            )];
            if local {
                steps.extend(self.jwt.explain(token, request).await);
            } else {
                steps.extend(self.introspection.explain(token, request).await);
            }
            steps
        })
    }

    fn name(&self) -> &'static str {
        "AutoValidator (local JWT, else introspection)"
    }
}
