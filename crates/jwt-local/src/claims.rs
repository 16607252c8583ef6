//! JWT-specific claim rules on top of the shared checks (`portcullis_core::claims`): refusing ID
//! tokens presented as access tokens, with a description that says so.

use portcullis_core::AuthError;
use portcullis_core::claims::{ClaimRules, Presence, check_standard_claims};
use portcullis_core::error::Reason;
use serde_json::{Map, Value};

/// Claims only OpenID Connect ID tokens carry.
const ID_TOKEN_ONLY_CLAIMS: [&str; 3] = ["nonce", "at_hash", "c_hash"];

const ID_TOKEN_MESSAGE: &str = "this is an OpenID Connect ID token, not an access token: an ID token tells a client who signed in and is addressed to that client; call APIs with the access token";

/// What the claims of a JWT are checked against.
#[derive(Debug)]
pub struct JwtClaimRules<'a> {
    /// Exact `iss`.
    pub issuer: &'a str,
    /// Accepted audiences (any one).
    pub audiences: &'a [String],
    /// Skip the audience check (dangerous).
    pub accept_any_audience: bool,
    /// Seconds of clock skew allowed.
    pub leeway: i64,
    /// Now, in Unix seconds.
    pub now: i64,
    /// Whether the header said `typ: at+jwt`.
    pub typed_access_token: bool,
}

/// ID-token markers first, then the shared checks with `iss`, `exp` and `aud` required.
pub fn check_claims(
    claims: &Map<String, Value>,
    rules: &JwtClaimRules<'_>,
) -> Result<(), AuthError> {
    check_not_id_token(claims, rules.typed_access_token)?;
    check_standard_claims(claims, &standard_rules(claims, rules))
}

/// Refuses a token with ID-token markers, unless its header said `typ: at+jwt`.
pub fn check_not_id_token(
    claims: &Map<String, Value>,
    typed_access_token: bool,
) -> Result<(), AuthError> {
    if !typed_access_token && looks_like_id_token(claims) {
        return Err(AuthError::invalid_token(ID_TOKEN_MESSAGE).with_reason(Reason::IdToken));
    }
    Ok(())
}

/// The shared rules for a JWT: every standard claim required.
pub fn standard_rules<'a>(
    claims: &Map<String, Value>,
    rules: &JwtClaimRules<'a>,
) -> ClaimRules<'a> {
    ClaimRules {
        issuer: rules.issuer,
        audiences: rules.audiences,
        accept_any_audience: rules.accept_any_audience,
        leeway: rules.leeway,
        now: rules.now,
        presence: Presence::JWT,
        id_token_hint: !rules.typed_access_token && may_be_id_token(claims),
    }
}

/// Markers only an ID token carries (nonce, at_hash, c_hash; Keycloak's `typ: "ID"` claim).
fn looks_like_id_token(claims: &Map<String, Value>) -> bool {
    ID_TOKEN_ONLY_CLAIMS
        .iter()
        .any(|name| claims.contains_key(*name))
        || claims
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("ID"))
}

/// Weaker signs, used only to explain an audience failure: no scope at all, or `azp` / `auth_time`
/// (which access tokens of some IdPs carry too, so they never reject a token by themselves).
fn may_be_id_token(claims: &Map<String, Value>) -> bool {
    let no_scope = !claims.contains_key("scope") && !claims.contains_key("scp");
    no_scope || claims.contains_key("azp") || claims.contains_key("auth_time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn rules(audiences: &[String], typed: bool) -> JwtClaimRules<'_> {
        JwtClaimRules {
            issuer: "https://idp",
            audiences,
            accept_any_audience: false,
            leeway: 60,
            now: NOW,
            typed_access_token: typed,
        }
    }

    fn good() -> Value {
        json!({"iss": "https://idp", "aud": "api", "exp": NOW + 300, "iat": NOW, "sub": "alice", "scope": "a"})
    }

    #[test]
    fn id_tokens_are_named_as_such() {
        let audiences = vec!["api".to_string()];
        let mut nonce = good();
        nonce["nonce"] = json!("n-0S6");
        let error =
            check_claims(nonce.as_object().unwrap(), &rules(&audiences, false)).unwrap_err();
        assert!(error.description().contains("ID token"), "{error:?}");
        // An ID token with no marker at all: the audience check explains.
        let bare = json!({"iss": "https://idp", "aud": "web-client", "exp": NOW + 300, "iat": NOW, "sub": "alice"});
        let error = check_claims(bare.as_object().unwrap(), &rules(&audiences, false)).unwrap_err();
        assert!(
            error
                .description()
                .contains("an ID token's audience is the client"),
            "{error:?}"
        );
    }

    #[test]
    fn typed_access_tokens_are_not_mistaken_for_id_tokens() {
        let audiences = vec!["api".to_string()];
        let mut claims = good();
        claims["azp"] = json!("web");
        claims["auth_time"] = json!(NOW);
        assert!(check_claims(claims.as_object().unwrap(), &rules(&audiences, true)).is_ok());
        // Keycloak-style access tokens (azp, auth_time, no typ header) pass too when the
        // audience matches: the weak markers only explain failures.
        assert!(check_claims(claims.as_object().unwrap(), &rules(&audiences, false)).is_ok());
    }

    #[test]
    fn all_standard_claims_are_required_in_a_jwt() {
        let audiences = vec!["api".to_string()];
        for name in ["iss", "exp", "aud"] {
            let mut claims = good();
            claims.as_object_mut().unwrap().remove(name);
            assert!(
                check_claims(claims.as_object().unwrap(), &rules(&audiences, true)).is_err(),
                "{name}"
            );
        }
    }
}
