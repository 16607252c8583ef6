//! Checks of an introspection answer (RFC 7662 §2.2).

use portcullis_core::AuthError;
use portcullis_core::claims::{ClaimRules, Presence, check_standard_claims, printable};
use portcullis_core::error::Reason;
use portcullis_core::principal::Claims;
use serde_json::Value;

/// What an answer is checked against.
#[derive(Debug, Clone)]
pub struct AnswerRules<'a> {
    /// The configured issuer; `iss`, when present, must equal it.
    pub issuer: &'a str,
    /// Accepted audiences.
    pub audiences: &'a [String],
    /// Skip the audience check (dangerous).
    pub accept_any_audience: bool,
    /// Accept answers without `aud`.
    pub allow_missing_aud: bool,
    /// Seconds of clock skew.
    pub leeway: i64,
    /// Now, Unix seconds.
    pub now: i64,
}

/// The outcome of a well-formed answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Active and acceptable: the claims for the principal (`iss` filled in when absent).
    Active(Claims),
    /// Not active, or not acceptable here: the 401 to answer with.
    Refused(AuthError),
}

/// `token_type` values that name an access token (compared without case).
const ACCESS_TOKEN_TYPES: [&str; 4] = [
    "bearer",
    "dpop",
    "access_token",
    "urn:ietf:params:oauth:token-type:access_token",
];

/// Checks an answer. `Err` means the answer itself is broken (no boolean `active`): the token
/// could not be checked, which is a 503, not a 401.
pub fn check_answer(mut body: Claims, rules: &AnswerRules<'_>) -> Result<Answer, String> {
    match body.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            return Ok(Answer::Refused(AuthError::invalid_token(
                "the token is not active: the authorization server reports it expired, revoked or unknown",
            ).with_reason(Reason::Inactive)));
        }
        Some(other) => return Err(format!("the answer's `active` is {other}, not a boolean")),
        None => return Err("the answer has no `active` member".into()),
    }
    if let Some(kind) = body.get("token_type") {
        let Some(kind) = kind.as_str() else {
            return Ok(Answer::Refused(
                AuthError::invalid_token("the token's type is not a string")
                    .with_reason(Reason::MalformedToken),
            ));
        };
        if !ACCESS_TOKEN_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(kind))
        {
            let description = if kind.to_ascii_lowercase().contains("id_token") {
                "this is an OpenID Connect ID token, not an access token: call APIs with the access token".to_owned()
            } else {
                format!("the token is a {}, not an access token", printable(kind))
            };
            let reason = if kind.to_ascii_lowercase().contains("id_token") {
                Reason::IdToken
            } else {
                Reason::MalformedToken
            };
            return Ok(Answer::Refused(
                AuthError::invalid_token(description).with_reason(reason),
            ));
        }
    }
    let claim_rules = ClaimRules {
        issuer: rules.issuer,
        audiences: rules.audiences,
        accept_any_audience: rules.accept_any_audience,
        leeway: rules.leeway,
        now: rules.now,
        presence: Presence {
            iss: false,
            exp: false,
            aud: !rules.allow_missing_aud,
        },
        id_token_hint: false,
    };
    if let Err(error) = check_standard_claims(&body, &claim_rules) {
        return Ok(Answer::Refused(error));
    }
    body.remove("active");
    body.entry("iss").or_insert_with(|| rules.issuer.into());
    Ok(Answer::Active(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn check(body: Value, allow_missing_aud: bool) -> Result<Answer, String> {
        let audiences = vec!["api".to_string()];
        let rules = AnswerRules {
            issuer: "https://idp",
            audiences: &audiences,
            accept_any_audience: false,
            allow_missing_aud,
            leeway: 60,
            now: NOW,
        };
        check_answer(body.as_object().unwrap().clone(), &rules)
    }

    fn refused(body: Value) -> String {
        match check(body, false) {
            Ok(Answer::Refused(e)) => e.description().to_owned(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_active_answer_as_real_idps_send_it_is_accepted() {
        // aud as array, no iss, lowercase token_type, float numbers, unknown members.
        let body = json!({"active": true, "sub": "alice", "aud": ["x", "api"], "token_type": "bearer",
            "exp": 1.8e9 + 100.0, "iat": 1.8e9, "scope": "a b", "ext": {"tenant": 1}});
        let Ok(Answer::Active(claims)) = check(body, false) else {
            panic!()
        };
        assert_eq!(
            claims["iss"], "https://idp",
            "the configured issuer vouches for the answer"
        );
        assert!(!claims.contains_key("active"));
    }

    #[test]
    fn inactive_and_non_access_tokens_are_refused() {
        assert!(refused(json!({"active": false})).contains("not active"));
        assert!(
            refused(json!({"active": true, "aud": "api", "token_type": "refresh_token"}))
                .contains("refresh_token, not an access token")
        );
        assert!(
            refused(json!({"active": true, "aud": "api", "token_type": "id_token"}))
                .contains("ID token")
        );
        assert!(
            refused(json!({"active": true, "aud": "api", "iss": "https://evil"}))
                .contains("issued by")
        );
        assert!(
            refused(json!({"active": true, "aud": "api", "exp": NOW - 100})).contains("expired")
        );
        assert!(refused(json!({"active": true, "aud": "other"})).contains("another audience"));
    }

    #[test]
    fn a_missing_aud_is_refused_unless_relaxed() {
        // Real IdPs report refresh tokens as active with no aud.
        assert!(refused(json!({"active": true, "sub": "a"})).contains("no audience"));
        assert!(matches!(
            check(json!({"active": true, "sub": "a"}), true),
            Ok(Answer::Active(_))
        ));
    }

    #[test]
    fn a_broken_answer_is_an_error_not_a_refusal() {
        assert!(check(json!({"sub": "a"}), false).is_err());
        assert!(check(json!({"active": "true"}), false).is_err());
    }
}
