//! JWKS parsing: any bytes as a key set document.
#![no_main]

use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use portcullis_jwt_local::jwks::KeySet;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = portcullis_core::json::from_slice(data) else {
        return;
    };
    let all = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    if let Ok(set) = KeySet::parse(&document, &all) {
        // Invariant: every usable key has at least one allowed algorithm.
        assert!(set.keys.iter().all(|k| !k.algorithms.is_empty()));
    }
});
