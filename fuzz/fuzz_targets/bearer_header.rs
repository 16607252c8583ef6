//! Bearer-header parsing: any bytes as `Authorization` values (one or two), any query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{HeaderTokenResolver, TokenResolver};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (first, rest) = data.split_at(split);
    let mut request = http::Request::get("/");
    for value in [first, rest.get(1..).unwrap_or_default()] {
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            request = request.header(http::header::AUTHORIZATION, value);
        }
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    for resolver in [
        HeaderTokenResolver::new(),
        HeaderTokenResolver::new()
            .allow_query_parameter(true)
            .max_token_bytes(64),
    ] {
        if let Ok(Some(token)) = resolver.resolve(&parts) {
            // Invariant: an accepted token is non-empty token68 text.
            assert!(!token.is_empty());
            assert!(token.expose().bytes().all(|b| b.is_ascii_graphic()));
        }
    }
});
