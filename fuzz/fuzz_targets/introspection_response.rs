//! Introspection answers: any bytes as the body of a 200.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_introspect_remote::response::{Answer, AnswerRules, check_answer};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = portcullis_core::json::object_from_slice(data) else {
        return;
    };
    let audiences = vec!["api".to_string()];
    let times = [(1_800_000_000, 60), (i64::MIN, i64::MAX), (i64::MAX, i64::MAX)];
    for (allow_missing_aud, (now, leeway)) in [false, true]
        .into_iter()
        .flat_map(|a| times.into_iter().map(move |t| (a, t)))
    {
        let rules = AnswerRules {
            issuer: "https://idp",
            audiences: &audiences,
            accept_any_audience: false,
            allow_missing_aud,
            leeway,
            now,
        };
        if let Ok(Answer::Active(claims)) = check_answer(body.clone(), &rules) {
            // Invariant: an accepted answer was active, and names this issuer.
            assert_eq!(body.get("active"), Some(&serde_json::Value::Bool(true)));
            assert_eq!(
                claims.get("iss").and_then(|v| v.as_str()),
                Some("https://idp")
            );
        }
    }
});
