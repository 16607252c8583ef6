//! JWT header and claims parsing before any signature check: splitting, header rules, claims.
#![no_main]

use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use portcullis_jwt_local::claims::{JwtClaimRules, check_claims};
use portcullis_jwt_local::header::{CompactJws, check_header};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jws) = CompactJws::split(text) else {
        return;
    };
    let allowed = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
    let _ = check_header(&jws.header, &allowed, &[Algorithm::HS256], false);
    let _ = check_header(&jws.header, &allowed, &[], true);
    if let Ok(claims) = jws.claims() {
        let audiences = vec!["api".to_string()];
        // The clock and the leeway at their extremes too: time arithmetic saturates, never
        // overflows (a panic in debug builds).
        for (now, leeway) in [(1_800_000_000, 60), (i64::MIN, i64::MAX), (i64::MAX, i64::MAX), (0, 0)] {
            for typed in [false, true] {
                let rules = JwtClaimRules {
                    issuer: "https://idp",
                    audiences: &audiences,
                    accept_any_audience: false,
                    leeway,
                    now,
                    typed_access_token: typed,
                };
                let _ = check_claims(&claims, &rules);
            }
        }
    }
});
