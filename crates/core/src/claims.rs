//! The standard claim checks shared by every validator: `iss`, `exp`, `nbf`, `iat`, `aud`, as one
//! linear list, each failure with a description that says what to fix. A JWT must carry `iss`,
//! `exp` and `aud`; an introspection answer may leave some out ([`Presence`]).

use serde_json::{Map, Value};

use crate::error::{AuthError, Reason};
use crate::principal::numeric_date;

/// Which claims must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    /// `iss` required.
    pub iss: bool,
    /// `exp` required.
    pub exp: bool,
    /// `aud` required (when an audience is configured).
    pub aud: bool,
}

impl Presence {
    /// JWT access tokens (RFC 9068): all required.
    pub const JWT: Self = Self {
        iss: true,
        exp: true,
        aud: true,
    };
}

/// What the claims are checked against.
#[derive(Debug, Clone)]
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
    /// Which claims must be present.
    pub presence: Presence,
    /// On an audience failure, say that this is probably an ID token.
    pub id_token_hint: bool,
}

/// One standard claim check.
pub type ClaimCheck = fn(&Map<String, Value>, &ClaimRules<'_>) -> Result<(), AuthError>;

/// The checks in the order they run, with the name `portcullis inspect` shows.
pub const STANDARD_CHECKS: [(&str, ClaimCheck); 5] = [
    ("issuer (iss)", check_issuer),
    ("expiry (exp)", check_expiry),
    ("not before (nbf)", check_not_before),
    ("issued at (iat)", check_issued_at),
    ("audience (aud)", check_audience_rule),
];

/// Runs the checks in order: `iss`, `exp`, `nbf`, `iat`, `aud`; the first failure decides.
pub fn check_standard_claims(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
) -> Result<(), AuthError> {
    STANDARD_CHECKS
        .iter()
        .try_for_each(|(_, check)| check(claims, rules))
}

/// `iss`: present (when required) and exactly the configured issuer.
pub fn check_issuer(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<(), AuthError> {
    match claims.get("iss") {
        None if rules.presence.iss => {
            return Err(AuthError::invalid_token("the token has no issuer (iss)")
                .with_reason(Reason::WrongIssuer));
        }
        None => {}
        Some(Value::String(iss)) if iss == rules.issuer => {}
        Some(Value::String(iss)) => {
            return Err(AuthError::invalid_token(format!(
                "the token was issued by {}, not by the issuer this API trusts ({})",
                printable(iss),
                rules.issuer
            ))
            .with_reason(Reason::WrongIssuer));
        }
        Some(_) => {
            return Err(
                AuthError::invalid_token("the token's issuer (iss) is not a string")
                    .with_reason(Reason::WrongIssuer),
            );
        }
    }
    Ok(())
}

/// `exp`: present (when required) and not past, leeway allowed.
pub fn check_expiry(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<(), AuthError> {
    match time_claim(claims, "exp")? {
        None if rules.presence.exp => {
            return Err(AuthError::invalid_token("the token has no expiry (exp)")
                .with_reason(Reason::Expired));
        }
        None => {}
        Some(exp) if rules.now > exp.saturating_add(rules.leeway) => {
            return Err(AuthError::invalid_token(format!(
                "the token expired {} s ago",
                rules.now.saturating_sub(exp)
            ))
            .with_reason(Reason::Expired));
        }
        Some(_) => {}
    }
    Ok(())
}

/// `nbf`: when present, not in the future, leeway allowed.
pub fn check_not_before(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
) -> Result<(), AuthError> {
    if let Some(nbf) = time_claim(claims, "nbf")?
        && rules.now.saturating_add(rules.leeway) < nbf
    {
        return Err(AuthError::invalid_token(format!(
            "the token is not valid for another {} s (nbf)",
            nbf.saturating_sub(rules.now)
        ))
        .with_reason(Reason::NotYetValid));
    }
    Ok(())
}

/// `iat`: when present, not in the future, leeway allowed.
pub fn check_issued_at(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
) -> Result<(), AuthError> {
    if let Some(iat) = time_claim(claims, "iat")?
        && iat > rules.now.saturating_add(rules.leeway)
    {
        return Err(AuthError::invalid_token(format!(
            "the token claims to be issued {} s in the future (iat); check the issuer's clock",
            iat.saturating_sub(rules.now)
        ))
        .with_reason(Reason::IssuedInFuture));
    }
    Ok(())
}

/// `aud`: one of the configured audiences, unless any audience is accepted (dangerous).
pub fn check_audience_rule(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
) -> Result<(), AuthError> {
    if rules.accept_any_audience {
        return Ok(());
    }
    check_audience(claims, rules)
}

fn check_audience(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<(), AuthError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        None if !rules.presence.aud => return Ok(()),
        None => {
            return Err(AuthError::invalid_token(
                "the token has no audience (aud); this API accepts only tokens issued for it",
            )
            .with_reason(Reason::WrongAudience));
        }
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => {
            let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if strings.len() != items.len() {
                return Err(AuthError::invalid_token(
                    "the token's audience (aud) holds a value that is not a string",
                )
                .with_reason(Reason::WrongAudience));
            }
            strings
        }
        Some(_) => {
            return Err(AuthError::invalid_token(
                "the token's audience (aud) is not a string or a list of strings",
            )
            .with_reason(Reason::WrongAudience));
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
    if rules.id_token_hint {
        return Err(AuthError::invalid_token(format!(
            "the audience is not this API (aud {shown}; this API accepts {accepted}); an ID token's audience is the client, so this is probably an ID token: call APIs with an access token issued for this API"
        )).with_reason(Reason::IdToken));
    }
    Err(AuthError::invalid_token(format!(
        "the token is for another audience (aud {shown}); this API accepts {accepted}"
    ))
    .with_reason(Reason::WrongAudience))
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => numeric_date(value).map(Some).ok_or_else(|| {
            AuthError::invalid_token(format!(
                "the token's {name} is not a NumericDate (seconds since 1970)"
            ))
            .with_reason(Reason::BadClaim)
        }),
    }
}

/// A token-supplied string shortened and made printable for a description.
pub fn printable(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if value.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn rules(audiences: &[String], presence: Presence) -> ClaimRules<'_> {
        ClaimRules {
            issuer: "https://idp",
            audiences,
            accept_any_audience: false,
            leeway: 60,
            now: NOW,
            presence,
            id_token_hint: false,
        }
    }

    fn check(claims: Value) -> Result<(), String> {
        let audiences = vec!["api".to_string(), "api2".to_string()];
        check_standard_claims(
            claims.as_object().unwrap(),
            &rules(&audiences, Presence::JWT),
        )
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
    fn good_claims_pass_with_string_or_array_audience_and_float_dates() {
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
    fn time_claims_at_the_extremes_of_i64_are_refused_or_accepted_without_overflow() {
        // Debug builds panic on overflow: each of these used to.
        let expired = check(with(good(), "exp", json!(i64::MIN))).unwrap_err();
        assert!(
            expired.contains(&format!("expired {} s ago", i64::MAX)),
            "{expired}"
        );
        let not_yet = check(with(good(), "nbf", json!(i64::MAX))).unwrap_err();
        assert!(not_yet.contains("not valid for another"), "{not_yet}");
        let future = check(with(good(), "iat", json!(i64::MAX))).unwrap_err();
        assert!(future.contains("in the future"), "{future}");
        assert_eq!(check(with(good(), "exp", json!(i64::MAX))), Ok(()));
        assert_eq!(check(with(good(), "nbf", json!(i64::MIN))), Ok(()));
        assert_eq!(check(with(good(), "iat", json!(i64::MIN))), Ok(()));
        for at in [u64::MAX as f64, -1e300, 1e300] {
            assert!(check(with(good(), "exp", json!(at))).is_err(), "{at}");
        }
    }

    #[test]
    fn leeway_tolerates_small_skew() {
        assert_eq!(check(with(good(), "exp", json!(NOW - 59))), Ok(()));
        assert_eq!(check(with(good(), "nbf", json!(NOW + 59))), Ok(()));
    }

    #[test]
    fn optional_presence_allows_missing_claims_but_still_checks_present_ones() {
        let audiences = vec!["api".to_string()];
        let lenient = rules(
            &audiences,
            Presence {
                iss: false,
                exp: false,
                aud: false,
            },
        );
        let bare = json!({"sub": "alice"});
        assert!(check_standard_claims(bare.as_object().unwrap(), &lenient).is_ok());
        let wrong = json!({"sub": "alice", "aud": "other", "iss": "https://idp"});
        assert!(check_standard_claims(wrong.as_object().unwrap(), &lenient).is_err());
    }
}
