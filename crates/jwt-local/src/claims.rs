//! Claim checks after the signature was verified: one linear list, each failure with a
//! description that says what to fix.

use portcullis_core::AuthError;
use portcullis_core::principal::numeric_date;
use serde_json::{Map, Value};

use crate::header::printable;

/// What the claims are checked against.
#[derive(Debug)]
pub struct ClaimRules<'a> {
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

/// Claims only OpenID Connect ID tokens carry.
const ID_TOKEN_ONLY_CLAIMS: [&str; 3] = ["nonce", "at_hash", "c_hash"];

const ID_TOKEN_MESSAGE: &str = "this is an OpenID Connect ID token, not an access token: an ID token tells a client who signed in and is addressed to that client; call APIs with the access token";

/// Runs every claim check, in order: ID-token markers, `iss`, `exp`, `nbf`, `iat`, `aud`.
pub fn check_claims(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<(), AuthError> {
    if !rules.typed_access_token && looks_like_id_token(claims) {
        return Err(AuthError::invalid_token(ID_TOKEN_MESSAGE));
    }

    match claims.get("iss") {
        None => return Err(AuthError::invalid_token("the token has no issuer (iss)")),
        Some(Value::String(iss)) if iss == rules.issuer => {}
        Some(Value::String(iss)) => {
            return Err(AuthError::invalid_token(format!(
                "the token was issued by {}, not by the issuer this API trusts ({})",
                printable(iss),
                rules.issuer
            )));
        }
        Some(_) => {
            return Err(AuthError::invalid_token(
                "the token's issuer (iss) is not a string",
            ));
        }
    }

    let exp = time_claim(claims, "exp")?
        .ok_or_else(|| AuthError::invalid_token("the token has no expiry (exp)"))?;
    if rules.now > exp.saturating_add(rules.leeway) {
        return Err(AuthError::invalid_token(format!(
            "the token expired {} s ago",
            rules.now - exp
        )));
    }
    if let Some(nbf) = time_claim(claims, "nbf")?
        && rules.now.saturating_add(rules.leeway) < nbf
    {
        return Err(AuthError::invalid_token(format!(
            "the token is not valid for another {} s (nbf)",
            nbf - rules.now
        )));
    }
    if let Some(iat) = time_claim(claims, "iat")?
        && iat > rules.now.saturating_add(rules.leeway)
    {
        return Err(AuthError::invalid_token(format!(
            "the token claims to be issued {} s in the future (iat); check the issuer's clock",
            iat - rules.now
        )));
    }

    if !rules.accept_any_audience {
        check_audience(claims, rules)?;
    }
    Ok(())
}

fn check_audience(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<(), AuthError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        None => {
            return Err(AuthError::invalid_token(
                "the token has no audience (aud); this API accepts only tokens issued for it",
            ));
        }
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => {
            let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if strings.len() != items.len() {
                return Err(AuthError::invalid_token(
                    "the token's audience (aud) holds a value that is not a string",
                ));
            }
            strings
        }
        Some(_) => {
            return Err(AuthError::invalid_token(
                "the token's audience (aud) is not a string or a list of strings",
            ));
        }
    };
    if audiences
        .iter()
        .any(|aud| rules.audiences.iter().any(|ok| ok == aud))
    {
        return Ok(());
    }
    let shown = printable(&audiences.join(" "));
    let accepted = rules.audiences.join(" ");
    if !rules.typed_access_token && may_be_id_token(claims) {
        return Err(AuthError::invalid_token(format!(
            "the audience is not this API (aud {shown}; this API accepts {accepted}); an ID token's audience is the client, so this is probably an ID token: call APIs with an access token issued for this API"
        )));
    }
    Err(AuthError::invalid_token(format!(
        "the token is for another audience (aud {shown}); this API accepts {accepted}"
    )))
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

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => numeric_date(value).map(Some).ok_or_else(|| {
            AuthError::invalid_token(format!(
                "the token's {name} is not a NumericDate (seconds since 1970)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn rules(audiences: &[String]) -> ClaimRules<'_> {
        ClaimRules {
            issuer: "https://idp",
            audiences,
            accept_any_audience: false,
            leeway: 60,
            now: NOW,
            typed_access_token: false,
        }
    }

    fn check(claims: Value) -> Result<(), String> {
        let audiences = vec!["api".to_string(), "api2".to_string()];
        check_claims(claims.as_object().unwrap(), &rules(&audiences))
            .map_err(|e| e.description().to_string())
    }

    fn good() -> Value {
        json!({"iss": "https://idp", "aud": "api", "exp": NOW + 300, "iat": NOW, "sub": "alice", "scope": "a"})
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    #[test]
    fn a_good_access_token_passes_with_string_or_array_audience() {
        assert_eq!(check(good()), Ok(()));
        assert_eq!(check(with(good(), "aud", json!(["other", "api2"]))), Ok(()));
        assert_eq!(check(with(good(), "exp", json!(1.8e9 + 300.0))), Ok(()));
    }

    #[test]
    fn each_claim_failure_says_what_is_wrong() {
        let cases = [
            (without(good(), "iss"), "no issuer"),
            (
                with(good(), "iss", json!("https://evil")),
                "issued by https://evil",
            ),
            (with(good(), "iss", json!(["https://idp"])), "not a string"),
            (without(good(), "exp"), "no expiry"),
            (
                with(good(), "exp", json!("soon")),
                "exp is not a NumericDate",
            ),
            (with(good(), "exp", json!(NOW - 61)), "expired 61 s ago"),
            (
                with(good(), "nbf", json!(NOW + 120)),
                "not valid for another 120 s",
            ),
            (with(good(), "iat", json!(NOW + 3600)), "in the future"),
            (without(good(), "aud"), "no audience"),
            (with(good(), "aud", json!("other")), "another audience"),
            (with(good(), "aud", json!(["api", 5])), "not a string"),
        ];
        for (claims, expected) in cases {
            let error = check(claims.clone()).unwrap_err();
            assert!(error.contains(expected), "{claims}: {error}");
        }
    }

    #[test]
    fn leeway_tolerates_small_skew() {
        assert_eq!(check(with(good(), "exp", json!(NOW - 59))), Ok(()));
        assert_eq!(check(with(good(), "nbf", json!(NOW + 59))), Ok(()));
    }

    #[test]
    fn id_tokens_are_named_as_such() {
        let error = check(with(good(), "nonce", json!("n-0S6"))).unwrap_err();
        assert!(error.contains("ID token"), "{error}");
        // An ID token with no marker at all: the audience check explains.
        let bare = json!({"iss": "https://idp", "aud": "web-client", "exp": NOW + 300, "iat": NOW, "sub": "alice"});
        let error = check(bare).unwrap_err();
        assert!(
            error.contains("an ID token's audience is the client"),
            "{error}"
        );
    }

    #[test]
    fn typed_access_tokens_are_not_mistaken_for_id_tokens() {
        let audiences = vec!["api".to_string()];
        let mut r = rules(&audiences);
        r.typed_access_token = true;
        let claims = with(with(good(), "azp", json!("web")), "auth_time", json!(NOW));
        assert!(check_claims(claims.as_object().unwrap(), &r).is_ok());
    }
}
