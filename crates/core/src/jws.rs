//! [`SigningKey`]: the one way Portcullis signs a compact JWS — `private_key_jwt` client
//! assertions, the development issuer's tokens and the test kit's (which signs with the
//! development issuer's key).

use std::fmt;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

/// A private key that signs compact JWS: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA).
pub struct SigningKey {
    signer: Signer,
    kid: Option<String>,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, kid={:?})", self.alg(), self.kid)
    }
}

impl SigningKey {
    /// A new EC P-256 key (ES256) with the given `kid`.
    pub fn generate_es256(kid: impl FnOnce(&[u8]) -> String) -> Result<Self, String> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "cannot generate an ES256 key".to_string())?;
        let kid = kid(key.public_key().as_ref());
        Ok(Self {
            signer: Signer::Ec(key),
            kid: Some(kid),
        })
    }

    /// Reads a PEM PKCS#8 private key (RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA).
    pub fn from_pem_file(path: &Path, kid: Option<String>) -> Result<Self, String> {
        let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        Self::from_pem(&pem, kid)
    }

    /// Parses a PEM PKCS#8 private key.
    pub fn from_pem(pem: &str, kid: Option<String>) -> Result<Self, String> {
        if !pem.contains("-----BEGIN PRIVATE KEY-----") {
            return Err("not a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----)".into());
        }
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| "the PEM body is not base64".to_string())?;
        let signer = if let Ok(key) = RsaKeyPair::from_pkcs8(&der) {
            Signer::Rsa(key)
        } else if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der) {
            Signer::Ec(key)
        } else if let Ok(key) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der) {
            Signer::Ed(key)
        } else {
            return Err(
                "unsupported key: use RSA (2048 bits or more), EC P-256 or Ed25519 in PKCS#8"
                    .into(),
            );
        };
        Ok(Self { signer, kid })
    }

    /// The JOSE algorithm.
    pub fn alg(&self) -> &'static str {
        match self.signer {
            Signer::Rsa(_) => "RS256",
            Signer::Ec(_) => "ES256",
            Signer::Ed(_) => "EdDSA",
        }
    }

    /// The key id, when it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public key as a JWK, for an EC key (what the development issuer publishes).
    pub fn public_jwk(&self) -> Option<Value> {
        let Signer::Ec(key) = &self.signer else {
            return None;
        };
        let point = key.public_key().as_ref();
        let mut jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        if let Some(kid) = &self.kid {
            jwk["kid"] = kid.clone().into();
        }
        Some(jwk)
    }

    /// Signs `claims` as a compact JWS whose header is `alg`, `kid` (when the key has one) and
    /// `typ` (when given).
    pub fn sign(&self, claims: &Map<String, Value>, typ: Option<&str>) -> Result<String, String> {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg().into());
        if let Some(typ) = typ {
            header.insert("typ".into(), typ.into());
        }
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.clone().into());
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let signature = match &self.signer {
            Signer::Rsa(key) => {
                let mut out = vec![0u8; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut out,
                )
                .map_err(|_| "RSA signing failed".to_string())?;
                out
            }
            Signer::Ec(key) => key
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(|_| "EC signing failed".to_string())?
                .as_ref()
                .to_vec(),
            Signer::Ed(key) => key.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}
