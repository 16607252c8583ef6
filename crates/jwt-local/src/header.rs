//! The compact JWS and its JOSE header, checked before any key is looked at.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use portcullis_core::AuthError;
use portcullis_core::claims::printable;
use portcullis_core::error::Reason;
use serde_json::{Map, Value};

/// A compact JWS split into its parts; `signing_input` is `header.payload`.
#[derive(Debug)]
pub struct CompactJws<'a> {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`.
    pub signing_input: &'a str,
    /// The payload part (base64url).
    pub payload: &'a str,
    /// The signature part (base64url).
    pub signature: &'a str,
    /// The decoded header.
    pub header: Map<String, Value>,
}

/// The header facts validation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoseHeader {
    /// `alg`, checked against the allow-list.
    pub alg: Algorithm,
    /// `kid`.
    pub kid: Option<String>,
    /// Whether `typ` names an RFC 9068 access token.
    pub typed_access_token: bool,
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes a compact JWS. Opaque tokens and JWEs get a description that says
    /// what they are.
    pub fn split(token: &'a str) -> Result<Self, AuthError> {
        let dots = token.bytes().filter(|&b| b == b'.').count();
        match dots {
            2 => {}
            4 => {
                return Err(AuthError::invalid_token(
                    "the token is an encrypted JWT (JWE, five parts), which this API cannot read: ask the authorization server for a signed JWT access token for this API's audience, or use introspection",
                ).with_reason(Reason::MalformedToken));
            }
            0 => {
                return Err(AuthError::invalid_token(
                    "the token is opaque (not a JWT), which this API cannot read: ask the authorization server for a JWT access token for this API's audience, or use introspection",
                ).with_reason(Reason::MalformedToken));
            }
            _ => {
                return Err(AuthError::invalid_token(
                    "the token is malformed: a signed JWT has three dot-separated parts",
                )
                .with_reason(Reason::MalformedToken));
            }
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (header_b64, payload) = signing_input.split_once('.').ok_or_else(malformed)?;
        if header_b64.is_empty() || payload.is_empty() {
            return Err(malformed());
        }
        let header = decode_json_object(header_b64).map_err(|why| {
            AuthError::invalid_token(format!("the token header is malformed: {why}"))
                .with_reason(Reason::MalformedToken)
        })?;
        Ok(Self {
            signing_input,
            payload,
            signature,
            header,
        })
    }

    /// Decodes the payload, after the signature was verified.
    pub fn claims(&self) -> Result<Map<String, Value>, AuthError> {
        decode_json_object(self.payload).map_err(|why| {
            AuthError::invalid_token(format!("the token claims are malformed: {why}"))
                .with_reason(Reason::MalformedToken)
        })
    }
}

fn malformed() -> AuthError {
    AuthError::invalid_token(
        "the token is malformed: a signed JWT has three non-empty dot-separated parts",
    )
    .with_reason(Reason::MalformedToken)
}

/// Decodes base64url (no padding) JSON that must be an object.
pub fn decode_json_object(part: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "not base64url".to_string())?;
    portcullis_core::json::object_from_slice(&bytes)
}

/// Header rules, in order: `alg` present, never `none`, in the allow-list; no unknown `crit`;
/// `typ`, when present, names a JWT access token (required with `strict_typ`).
/// `jku`, `jwk`, `x5u` and `x5c` are never fetched nor trusted: keys come from the issuer's JWKS.
pub fn check_header(
    header: &Map<String, Value>,
    allowed: &[Algorithm],
    hmac_allowed: &[Algorithm],
    strict_typ: bool,
) -> Result<JoseHeader, AuthError> {
    let alg_name = match header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        Some(_) => {
            return Err(
                AuthError::invalid_token("the token header's `alg` is not a string")
                    .with_reason(Reason::AlgorithmNotAllowed),
            );
        }
        None => {
            return Err(AuthError::invalid_token("the token header has no `alg`")
                .with_reason(Reason::AlgorithmNotAllowed));
        }
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(
            AuthError::invalid_token("unsigned tokens (alg none) are never accepted")
                .with_reason(Reason::AlgorithmNotAllowed),
        );
    }
    let alg = crate::settings::parse_algorithm(alg_name).ok_or_else(|| {
        AuthError::invalid_token(format!(
            "the algorithm {} is not supported",
            printable(alg_name)
        ))
        .with_reason(Reason::AlgorithmNotAllowed)
    })?;
    let is_hmac = matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
    if is_hmac && !hmac_allowed.contains(&alg) {
        return Err(AuthError::invalid_token(format!(
            "HMAC-signed tokens ({alg_name}) are not accepted; this API verifies signatures with the issuer's public keys"
        )).with_reason(Reason::AlgorithmNotAllowed));
    }
    if !is_hmac && !allowed.contains(&alg) {
        return Err(AuthError::invalid_token(format!(
            "the algorithm {alg_name} is not accepted by this API"
        ))
        .with_reason(Reason::AlgorithmNotAllowed));
    }
    if let Some(crit) = header.get("crit") {
        let names: Vec<&str> = crit
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        return Err(AuthError::invalid_token(format!(
            "the token header marks parameters as critical (crit: {}) that this API does not understand",
            printable(&names.join(", "))
        )).with_reason(Reason::BadHeader));
    }
    let typed_access_token = match header.get("typ") {
        None => false,
        Some(Value::String(typ)) => {
            let lower = typ.to_ascii_lowercase();
            let short = lower.strip_prefix("application/").unwrap_or(&lower);
            match short {
                "at+jwt" => true,
                "jwt" => false,
                _ => {
                    return Err(AuthError::invalid_token(format!(
                        "the token type (typ) is {}, not an access token (at+jwt)",
                        printable(typ)
                    ))
                    .with_reason(Reason::BadHeader));
                }
            }
        }
        Some(_) => {
            return Err(
                AuthError::invalid_token("the token header's `typ` is not a string")
                    .with_reason(Reason::BadHeader),
            );
        }
    };
    if strict_typ && !typed_access_token {
        return Err(AuthError::invalid_token(
            "this API requires RFC 9068 access tokens with the header typ: at+jwt",
        )
        .with_reason(Reason::BadHeader));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return Err(
                AuthError::invalid_token("the token header's `kid` is not a string")
                    .with_reason(Reason::BadHeader),
            );
        }
    };
    Ok(JoseHeader {
        alg,
        kid,
        typed_access_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::ErrorKind;
    use serde_json::json;

    fn header(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn check(value: Value) -> Result<JoseHeader, AuthError> {
        check_header(
            &header(value),
            &[Algorithm::RS256, Algorithm::ES256],
            &[],
            false,
        )
    }

    #[test]
    fn alg_none_is_refused_in_any_casing() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let error = check(json!({"alg": alg})).unwrap_err();
            assert!(error.description().contains("alg none"), "{alg}");
        }
    }

    #[test]
    fn hmac_is_refused_unless_configured() {
        let error = check(json!({"alg": "HS256"})).unwrap_err();
        assert!(error.description().contains("HMAC"));
        let ok = check_header(
            &header(json!({"alg": "HS256"})),
            &[],
            &[Algorithm::HS256],
            false,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn typ_rules_follow_rfc9068() {
        assert!(
            check(json!({"alg": "RS256", "typ": "at+jwt"}))
                .unwrap()
                .typed_access_token
        );
        assert!(
            check(json!({"alg": "RS256", "typ": "application/AT+JWT"}))
                .unwrap()
                .typed_access_token
        );
        assert!(
            !check(json!({"alg": "RS256", "typ": "JWT"}))
                .unwrap()
                .typed_access_token
        );
        assert!(!check(json!({"alg": "RS256"})).unwrap().typed_access_token);
        let error = check(json!({"alg": "RS256", "typ": "logout+jwt"})).unwrap_err();
        assert!(error.description().contains("logout+jwt"));
        let strict = check_header(
            &header(json!({"alg": "RS256", "typ": "JWT"})),
            &[Algorithm::RS256],
            &[],
            true,
        );
        assert!(strict.unwrap_err().description().contains("at+jwt"));
    }

    #[test]
    fn unknown_crit_and_algorithms_outside_the_list_are_refused() {
        assert!(check(json!({"alg": "RS256", "crit": ["exp"]})).is_err());
        assert!(
            check(json!({"alg": "PS512"}))
                .unwrap_err()
                .description()
                .contains("not accepted")
        );
        assert!(
            check(json!({"alg": "XX1"}))
                .unwrap_err()
                .description()
                .contains("not supported")
        );
    }

    #[test]
    fn split_names_jwe_and_opaque_tokens() {
        assert!(
            CompactJws::split("a.b.c.d.e")
                .unwrap_err()
                .description()
                .contains("JWE")
        );
        assert!(
            CompactJws::split("opaque-token")
                .unwrap_err()
                .description()
                .contains("not a JWT")
        );
        let error = CompactJws::split("!!!.e30.sig").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidToken);
        assert!(CompactJws::split("e30..sig").is_err());
    }
}
