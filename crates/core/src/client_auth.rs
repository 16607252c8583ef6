//! Client authentication to the authorization server (RFC 6749 §2.3, RFC 7523), shared by
//! introspection and, later, the token endpoint.
//!
//! The hand-built versions of this are where integrations break: the Basic credentials are the
//! client id and secret each **form-urlencoded** before they are joined and base64-encoded
//! (RFC 6749 §2.3.1), so a secret with `:` or `+` must not be sent raw.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::clock::Clock;
use crate::config::{ClientAssertionAudience, ClientAuthMethod, ClientConfig, IntrospectionConfig};
use crate::secret::Secret;

/// The JWT assertion type of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How a request to the authorization server is authenticated.
#[derive(Clone)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    Basic {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// A public client: `client_id` in the body.
    None {
        /// Client id.
        client_id: String,
    },
    /// `client_assertion` signed with the client's key.
    PrivateKeyJwt {
        /// Client id (`iss` and `sub` of the assertion).
        client_id: String,
        /// The signing key.
        key: Arc<AssertionKey>,
        /// The issuer identifier.
        issuer: String,
        /// Whether `aud` is the issuer or the endpoint called.
        audience: ClientAssertionAudience,
    },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, id) = match self {
            Self::Basic { client_id, .. } => ("client_secret_basic", client_id),
            Self::Post { client_id, .. } => ("client_secret_post", client_id),
            Self::None { client_id } => ("none", client_id),
            Self::PrivateKeyJwt { client_id, .. } => ("private_key_jwt", client_id),
        };
        write!(f, "ClientAuth({method}, client_id={id})")
    }
}

/// What to add to a request: an `Authorization` header and form fields.
#[derive(Debug, Default)]
pub struct Credentials {
    /// `Authorization` header value, for Basic.
    pub authorization: Option<String>,
    /// Form fields to add to the body.
    pub form: Vec<(&'static str, String)>,
}

/// The client settings a [`ClientAuth`] is built from, wherever they are configured.
#[derive(Debug, Clone, Copy)]
pub struct ClientSettings<'a> {
    /// Where the keys live, for messages (`portcullis.introspection`, `portcullis.client`).
    pub section: &'static str,
    /// Client id.
    pub client_id: Option<&'a String>,
    /// Client secret.
    pub client_secret: Option<&'a Secret>,
    /// Method.
    pub auth_method: ClientAuthMethod,
    /// Private key file for `private_key_jwt`.
    pub private_key_file: Option<&'a String>,
    /// Its `kid`.
    pub private_key_id: Option<&'a String>,
    /// The assertion's `aud`.
    pub assertion_audience: ClientAssertionAudience,
}

impl<'a> From<&'a IntrospectionConfig> for ClientSettings<'a> {
    fn from(c: &'a IntrospectionConfig) -> Self {
        Self {
            section: "portcullis.introspection",
            client_id: c.client_id.as_ref(),
            client_secret: c.client_secret.as_ref(),
            auth_method: c.auth_method,
            private_key_file: c.private_key_file.as_ref(),
            private_key_id: c.private_key_id.as_ref(),
            assertion_audience: c.client_assertion_audience,
        }
    }
}

impl<'a> From<&'a ClientConfig> for ClientSettings<'a> {
    fn from(c: &'a ClientConfig) -> Self {
        Self {
            section: "portcullis.client",
            client_id: c.client_id.as_ref(),
            client_secret: c.client_secret.as_ref(),
            auth_method: c.auth_method,
            private_key_file: c.private_key_file.as_ref(),
            private_key_id: c.private_key_id.as_ref(),
            assertion_audience: c.client_assertion_audience,
        }
    }
}

impl ClientAuth {
    /// Builds client authentication from checked settings. `issuer` is the issuer identifier,
    /// for assertions.
    pub fn from_config<'a>(
        settings: impl Into<ClientSettings<'a>>,
        issuer: &str,
    ) -> Result<Self, String> {
        let config = settings.into();
        let section = config.section;
        let client_id = config
            .client_id
            .cloned()
            .ok_or_else(|| format!("{section}.client-id is not set"))?;
        let secret = || {
            config
                .client_secret
                .cloned()
                .ok_or_else(|| format!("{section}.client-secret is not set"))
        };
        Ok(match config.auth_method {
            ClientAuthMethod::ClientSecretBasic => Self::Basic {
                client_id,
                secret: secret()?,
            },
            ClientAuthMethod::ClientSecretPost => Self::Post {
                client_id,
                secret: secret()?,
            },
            ClientAuthMethod::None => Self::None { client_id },
            ClientAuthMethod::PrivateKeyJwt => {
                let path = config
                    .private_key_file
                    .ok_or_else(|| format!("{section}.private-key-file is not set"))?;
                let key =
                    AssertionKey::from_pem_file(Path::new(path), config.private_key_id.cloned())
                        .map_err(|e| format!("{section}.private-key-file = {path:?}: {e}"))?;
                Self::PrivateKeyJwt {
                    client_id,
                    key: Arc::new(key),
                    issuer: issuer.to_owned(),
                    audience: config.assertion_audience,
                }
            }
        })
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id }
            | Self::PrivateKeyJwt { client_id, .. } => client_id,
        }
    }

    /// The method's RFC name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "client_secret_basic",
            Self::Post { .. } => "client_secret_post",
            Self::None { .. } => "none",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }

    /// The method as the startup log names it: with the assertion's audience for
    /// `private_key_jwt`.
    pub fn describe(&self) -> String {
        match self {
            Self::PrivateKeyJwt { audience, .. } => format!(
                "private_key_jwt (assertion aud = the {})",
                match audience {
                    ClientAssertionAudience::Issuer => "issuer",
                    ClientAssertionAudience::Endpoint => "endpoint URL",
                }
            ),
            other => other.method().to_owned(),
        }
    }

    /// The credentials for one request to `endpoint` (a fresh assertion each time for
    /// `private_key_jwt`, addressed to the issuer or to `endpoint`).
    pub fn credentials(&self, endpoint: &str, clock: &dyn Clock) -> Result<Credentials, String> {
        Ok(match self {
            Self::Basic { client_id, secret } => Credentials {
                authorization: Some(basic_authorization(client_id, secret.expose())),
                form: Vec::new(),
            },
            Self::Post { client_id, secret } => Credentials {
                authorization: None,
                form: vec![
                    ("client_id", client_id.clone()),
                    ("client_secret", secret.expose().to_owned()),
                ],
            },
            Self::None { client_id } => Credentials {
                authorization: None,
                form: vec![("client_id", client_id.clone())],
            },
            Self::PrivateKeyJwt {
                client_id,
                key,
                issuer,
                audience,
            } => {
                let aud = match audience {
                    ClientAssertionAudience::Issuer => issuer,
                    ClientAssertionAudience::Endpoint => endpoint,
                };
                let assertion = key.assertion(client_id, aud, clock)?;
                Credentials {
                    authorization: None,
                    form: vec![
                        ("client_id", client_id.clone()),
                        ("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()),
                        ("client_assertion", assertion),
                    ],
                }
            }
        })
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)))
    )
}

/// A private key that signs client assertions.
pub type AssertionKey = crate::jws::SigningKey;

impl crate::jws::SigningKey {
    /// An RFC 7523 client assertion: `iss` = `sub` = client id, `aud`, `jti`, `iat`, `exp` (+60 s).
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        clock: &dyn Clock,
    ) -> Result<String, String> {
        let now = clock.unix_seconds();
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti)
            .map_err(|_| "no randomness for the assertion jti".to_string())?;
        let claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": audience,
            "jti": URL_SAFE_NO_PAD.encode(jti), "iat": now, "exp": now + 60,
        });
        let serde_json::Value::Object(claims) = claims else {
            return Err("the assertion claims are not an object".into());
        };
        self.sign(&claims, Some("JWT"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::Ed25519KeyPair;

    fn ed25519_pem() -> String {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der.as_ref())
        )
    }

    fn assertion_aud(audience: ClientAssertionAudience) -> serde_json::Value {
        let dir = std::env::temp_dir().join(format!("portcullis-assertion-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{audience:?}.pem"));
        std::fs::write(&file, ed25519_pem()).unwrap();
        let path = file.display().to_string();
        let config = IntrospectionConfig {
            client_id: Some("api".into()),
            auth_method: ClientAuthMethod::PrivateKeyJwt,
            private_key_file: Some(path),
            client_assertion_audience: audience,
            ..IntrospectionConfig::default()
        };
        let auth = ClientAuth::from_config(&config, "https://idp.example/oauth2/default").unwrap();
        let credentials = auth
            .credentials(
                "https://idp.example/oauth2/default/v1/introspect",
                &crate::SystemClock,
            )
            .unwrap();
        let assertion = &credentials
            .form
            .iter()
            .find(|(name, _)| *name == "client_assertion")
            .unwrap()
            .1;
        let payload = assertion.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["aud"].clone()
    }

    #[test]
    fn the_assertion_is_addressed_to_the_issuer_or_to_the_endpoint_called() {
        assert_eq!(
            assertion_aud(ClientAssertionAudience::Issuer),
            "https://idp.example/oauth2/default"
        );
        assert_eq!(
            assertion_aud(ClientAssertionAudience::Endpoint),
            "https://idp.example/oauth2/default/v1/introspect"
        );
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_before_base64() {
        let header = basic_authorization("my client", "p@ss:w+rd/ü");
        let decoded = String::from_utf8(
            STANDARD
                .decode(header.strip_prefix("Basic ").unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(decoded, "my+client:p%40ss%3Aw%2Brd%2F%C3%BC");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let auth = ClientAuth::Basic {
            client_id: "api".into(),
            secret: Secret::new("hunter2"),
        };
        assert_eq!(
            format!("{auth:?}"),
            "ClientAuth(client_secret_basic, client_id=api)"
        );
        let creds = ClientAuth::Post {
            client_id: "api".into(),
            secret: Secret::new("hunter2"),
        }
        .credentials("https://idp.example/token", &crate::SystemClock)
        .unwrap();
        assert!(!format!("{:?}", creds.authorization).contains("hunter2"));
    }

    #[test]
    fn a_non_pem_key_is_refused_with_a_reason() {
        assert!(
            AssertionKey::from_pem("hello", None)
                .unwrap_err()
                .contains("PKCS#8")
        );
    }
}
