//! JWKS parsing: any bytes as a key set document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_jwt_local::jwks::KeySet;
use portcullis_jwt_local::settings::ASYMMETRIC_ALGORITHMS;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = portcullis_core::json::from_slice(data) else {
        return;
    };
    if let Ok(set) = KeySet::parse(&document, &ASYMMETRIC_ALGORITHMS) {
        // Invariant: every usable key has at least one allowed algorithm.
        assert!(set.keys.iter().all(|k| !k.algorithms.is_empty()));
    }
});
