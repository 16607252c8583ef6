//! A JWK Set, parsed into verification keys. Unusable keys are skipped one by one, with a
//! reason, instead of rejecting the set: an IdP that publishes an encryption key or a key type
//! we do not support next to its signing keys must keep working.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// Smallest RSA modulus accepted (RFC 7518 §3.3, RFC 8725).
pub const MIN_RSA_BITS: usize = 2048;

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// One key that can verify signatures, with the algorithms it may verify.
pub struct VerificationKey {
    /// `kid`, when the JWK has one.
    pub kid: Option<String>,
    /// Algorithms this key accepts: from its `alg`, else from its type and curve, always within
    /// the configured allow-list.
    pub algorithms: Vec<Algorithm>,
    /// The key material.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

/// The usable keys of a JWK Set.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Usable keys, in document order.
    pub keys: Vec<VerificationKey>,
    /// Why other keys were skipped (for logs).
    pub skipped: Vec<String>,
}

impl KeySet {
    /// Parses a JWK Set document. Fails only when the document is not a JWK Set at all.
    pub fn parse(document: &Value, allowed: &[Algorithm]) -> Result<Self, String> {
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the document is not a JWK Set (no `keys` array)")?;
        let mut set = Self::default();
        for (index, jwk) in keys.iter().enumerate() {
            match parse_key(jwk, allowed) {
                Ok(key) => set.keys.push(key),
                Err(reason) => {
                    let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("-");
                    set.skipped
                        .push(format!("key #{index} (kid {kid}): {reason}"));
                }
            }
        }
        Ok(set)
    }

    /// Whether a key with this `kid` exists.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Every `kid`, for messages.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }
}

fn parse_key(jwk: &Value, allowed: &[Algorithm]) -> Result<VerificationKey, String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if !jwk.is_object() {
        return Err("not a JSON object".into());
    }
    if let Some(usage) = jwk.get("use")
        && usage.as_str() != Some("sig")
    {
        return Err(format!("`use` is {usage}, not \"sig\""));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err("`key_ops` does not include \"verify\"".into());
        }
    }
    let declared = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(
            crate::settings::parse_algorithm(name)
                .ok_or_else(|| format!("`alg` {name:?} is not a supported signature algorithm"))?,
        ),
        Some(other) => return Err(format!("`alg` is {other}, not a string")),
    };
    let kty = field("kty").ok_or("no `kty`")?;
    let (family, key): (Vec<Algorithm>, DecodingKey) =
        match kty {
            "RSA" => {
                let n = field("n").ok_or("RSA key without `n`")?;
                let e = field("e").ok_or("RSA key without `e`")?;
                let bits = rsa_modulus_bits(n)?;
                if bits < MIN_RSA_BITS {
                    return Err(format!(
                        "RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
                    ));
                }
                let key = DecodingKey::from_rsa_components(n, e)
                    .map_err(|e| format!("bad RSA components: {e}"))?;
                (RSA_ALGORITHMS.to_vec(), key)
            }
            "EC" => {
                let (alg, len) = match field("crv") {
                    Some("P-256") => (Algorithm::ES256, 32),
                    Some("P-384") => (Algorithm::ES384, 48),
                    other => {
                        return Err(format!(
                            "EC curve {other:?} is not supported (P-256, P-384)"
                        ));
                    }
                };
                let x = field("x").ok_or("EC key without `x`")?;
                let y = field("y").ok_or("EC key without `y`")?;
                if decoded_len(x)? != len || decoded_len(y)? != len {
                    return Err("EC coordinates have the wrong length for the curve".into());
                }
                let key = DecodingKey::from_ec_components(x, y)
                    .map_err(|e| format!("bad EC components: {e}"))?;
                (vec![alg], key)
            }
            "OKP" => {
                if field("crv") != Some("Ed25519") {
                    return Err(format!(
                        "OKP curve {:?} is not supported (Ed25519)",
                        field("crv")
                    ));
                }
                let x = field("x").ok_or("OKP key without `x`")?;
                if decoded_len(x)? != 32 {
                    return Err("Ed25519 key of the wrong length".into());
                }
                let key = DecodingKey::from_ed_components(x)
                    .map_err(|e| format!("bad Ed25519 key: {e}"))?;
                (vec![Algorithm::EdDSA], key)
            }
            "oct" => return Err(
                "symmetric keys are never taken from a JWKS (configure jwt.hmac-secret on purpose)"
                    .into(),
            ),
            other => return Err(format!("key type {other:?} is not supported")),
        };
    let mut algorithms: Vec<Algorithm> = match declared {
        Some(alg) if family.contains(&alg) => vec![alg],
        Some(alg) => return Err(format!("`alg` {alg:?} does not fit key type {kty}")),
        None => family,
    };
    algorithms.retain(|alg| allowed.contains(alg));
    if algorithms.is_empty() {
        return Err("none of its algorithms is in portcullis.jwt.algorithms".into());
    }
    Ok(VerificationKey {
        kid: field("kid").map(str::to_owned),
        algorithms,
        key,
    })
}

fn decoded_len(b64: &str) -> Result<usize, String> {
    URL_SAFE_NO_PAD
        .decode(b64)
        .map(|v| v.len())
        .map_err(|_| "a key member is not base64url".into())
}

fn rsa_modulus_bits(n: &str) -> Result<usize, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(n)
        .map_err(|_| "`n` is not base64url".to_string())?;
    let first = bytes.iter().position(|&b| b != 0).ok_or("`n` is zero")?;
    Ok((bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL: [Algorithm; 9] = crate::settings::ASYMMETRIC_ALGORITHMS;

    fn rsa_n(bits: usize) -> String {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc0;
        URL_SAFE_NO_PAD.encode(n)
    }

    #[test]
    fn unusable_keys_are_skipped_one_by_one() {
        let xy = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "good-rsa", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": rsa_n(1024), "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "XYZ", "kid": "future"},
            {"kty": "EC", "kid": "secp", "crv": "secp256k1", "x": xy, "y": xy},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": xy},
            "garbage"
        ]});
        let set = KeySet::parse(&doc, &ALL).unwrap();
        assert_eq!(set.kids(), vec!["good-rsa", "ed"]);
        assert_eq!(set.skipped.len(), 6, "{:?}", set.skipped);
        assert!(set.skipped[0].contains("1024 bits"));
        assert!(set.skipped[1].contains("\"enc\""));
    }

    #[test]
    fn algorithms_come_from_the_jwk_and_the_allow_list() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "a", "alg": "PS256", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "c", "alg": "ES256", "n": rsa_n(2048), "e": "AQAB"},
        ]});
        let set = KeySet::parse(&doc, &[Algorithm::RS256, Algorithm::PS256]).unwrap();
        assert_eq!(set.keys[0].algorithms, vec![Algorithm::PS256]);
        assert_eq!(
            set.keys[1].algorithms,
            vec![Algorithm::RS256, Algorithm::PS256]
        );
        assert_eq!(set.keys.len(), 2, "an RSA key claiming ES256 is skipped");
    }

    #[test]
    fn a_document_without_keys_is_not_a_jwk_set() {
        assert!(KeySet::parse(&json!({"issuer": "x"}), &ALL).is_err());
    }
}
