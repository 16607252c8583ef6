//! Step 1: find the bearer token in the request (RFC 6750 §2).

use http::header::AUTHORIZATION;
use http::request::Parts;

use crate::error::{AuthError, Reason};
use crate::secret::BearerToken;

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Finds the bearer token in a request.
pub trait TokenResolver: Send + Sync + 'static {
    /// `Ok(None)` when the request carries no bearer credentials; an error when they are
    /// malformed or duplicated.
    fn resolve(&self, request: &Parts) -> Result<Option<BearerToken>, AuthError>;

    /// The hot path's shortcut: the token exactly as sent, without checking or copying it, when
    /// the request carries it in the one obvious way (exactly one `Authorization` header,
    /// `Bearer` and one space, nothing anywhere else that could carry a token). Portcullis only
    /// uses it to look the token up among tokens that passed every check before, comparing every
    /// byte: a request that matches is one [`TokenResolver::resolve`] would have accepted with
    /// the same token. `None` (the default) means "use `resolve`".
    fn sent_token<'a>(&self, headers: &'a http::HeaderMap, uri: &http::Uri) -> Option<&'a [u8]> {
        let _ = (headers, uri);
        None
    }
}

/// Reads `Authorization: Bearer <token>` (scheme case-insensitive) and, only when enabled, the
/// `access_token` query parameter (RFC 6750 §2.3, discouraged).
#[derive(Debug, Clone)]
pub struct HeaderTokenResolver {
    max_token_bytes: usize,
    allow_query: bool,
}

impl Default for HeaderTokenResolver {
    fn default() -> Self {
        Self {
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            allow_query: false,
        }
    }
}

impl HeaderTokenResolver {
    /// The secure default: header only, 16 KiB at most.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the largest token accepted.
    #[must_use]
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Also reads the `access_token` query parameter. Tokens in URLs end up in logs and
    /// browser history; use only where a client cannot send headers.
    #[must_use]
    pub fn allow_query_parameter(mut self, allow: bool) -> Self {
        self.allow_query = allow;
        self
    }

    fn sent_token_in_header<'a>(
        &self,
        headers: &'a http::HeaderMap,
        uri: &http::Uri,
    ) -> Option<&'a [u8]> {
        if self.allow_query && uri.query().is_some() {
            return None;
        }
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        let bytes = value.as_bytes();
        let (scheme, token) = bytes.split_at_checked(7)?;
        (scheme.eq_ignore_ascii_case(b"bearer ") && !token.is_empty()).then_some(token)
    }

    fn header_token(&self, request: &Parts) -> Result<Option<BearerToken>, AuthError> {
        let mut values = request.headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(AuthError::invalid_request(
                "the request has more than one Authorization header",
            ));
        }
        let bytes = value.as_bytes();
        let Some(separator) = bytes.iter().position(|&b| b == b' ' || b == b'\t') else {
            if bytes.eq_ignore_ascii_case(b"bearer") {
                return Err(AuthError::invalid_request(
                    "the Bearer credentials are empty",
                ));
            }
            return Ok(None);
        };
        let (scheme, rest) = bytes.split_at(separator);
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            // Another scheme (Basic, DPoP, ...): not ours to judge.
            return Ok(None);
        }
        if rest.first() == Some(&b'\t') {
            return Err(AuthError::invalid_request(
                "the Bearer credentials are malformed: a space separates the scheme and the token",
            ));
        }
        let token = trim_spaces(rest);
        self.check(token).map(Some)
    }

    fn query_token(&self, request: &Parts) -> Result<Option<BearerToken>, AuthError> {
        let Some(query) = request.uri.query() else {
            return Ok(None);
        };
        let mut found = None;
        for pair in query.split('&') {
            let Some(value) = pair.strip_prefix("access_token=") else {
                continue;
            };
            if found.is_some() {
                return Err(AuthError::invalid_request(
                    "the access_token query parameter appears more than once",
                ));
            }
            found = Some(value);
        }
        match found {
            // token68 characters need no percent-decoding except '+', '/' and '=' which a
            // client should have encoded; decode the three that matter.
            Some(value) => {
                let decoded = value
                    .replace("%2B", "+")
                    .replace("%2F", "/")
                    .replace("%3D", "=");
                self.check(decoded.as_bytes()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn check(&self, token: &[u8]) -> Result<BearerToken, AuthError> {
        if token.is_empty() {
            return Err(AuthError::invalid_request(
                "the Bearer credentials are empty",
            ));
        }
        if token.len() > self.max_token_bytes {
            return Err(AuthError::invalid_token(format!(
                "the token is {} bytes long; this resource accepts at most {}",
                token.len(),
                self.max_token_bytes
            ))
            .with_reason(Reason::TokenTooLarge));
        }
        if !is_token68(token) {
            return Err(AuthError::invalid_request(
                "the Bearer credentials are malformed: a token is one word of the characters A-Z a-z 0-9 - . _ ~ + / and trailing =",
            ));
        }
        // is_token68 guarantees ASCII.
        let text = std::str::from_utf8(token)
            .map_err(|_| AuthError::invalid_request("the Bearer credentials are not ASCII"))?;
        Ok(BearerToken::new(text))
    }
}

impl TokenResolver for HeaderTokenResolver {
    fn resolve(&self, request: &Parts) -> Result<Option<BearerToken>, AuthError> {
        let header = self.header_token(request)?;
        if !self.allow_query {
            return Ok(header);
        }
        let query = self.query_token(request)?;
        match (header, query) {
            (Some(_), Some(_)) => Err(AuthError::invalid_request(
                "the request carries a token in both the Authorization header and the query",
            )),
            (header, query) => Ok(header.or(query)),
        }
    }

    fn sent_token<'a>(&self, headers: &'a http::HeaderMap, uri: &http::Uri) -> Option<&'a [u8]> {
        self.sent_token_in_header(headers, uri)
    }
}

fn trim_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' '] = bytes {
        bytes = rest;
    }
    bytes
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
/// A table lookup per byte: this runs on every request, over the whole token.
fn is_token68(bytes: &[u8]) -> bool {
    const TABLE: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] =
                c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            b += 1;
        }
        table
    };
    let body_end = bytes.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body_end > 0
        && bytes[..body_end]
            .iter()
            .fold(true, |ok, &b| ok & TABLE[usize::from(b)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use http::{HeaderValue, Request};

    fn parts(headers: &[&[u8]], uri: &str) -> Parts {
        let mut request = Request::get(uri).body(()).unwrap();
        for value in headers {
            request
                .headers_mut()
                .append(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        }
        request.into_parts().0
    }

    fn resolve(headers: &[&[u8]]) -> Result<Option<BearerToken>, AuthError> {
        HeaderTokenResolver::new().resolve(&parts(headers, "/"))
    }

    #[test]
    fn resolve_when_bearer_header_then_token_whatever_the_scheme_case() {
        for value in [
            &b"Bearer abc.def-ghi"[..],
            b"bearer abc.def-ghi",
            b"BEARER   abc.def-ghi  ",
        ] {
            assert_eq!(resolve(&[value]).unwrap().unwrap().expose(), "abc.def-ghi");
        }
    }

    #[test]
    fn resolve_when_no_header_or_other_scheme_then_none() {
        assert!(resolve(&[]).unwrap().is_none());
        assert!(resolve(&[b"Basic dXNlcjpwYXNz"]).unwrap().is_none());
    }

    #[test]
    fn resolve_when_two_authorization_headers_then_invalid_request() {
        let error = resolve(&[b"Bearer a", b"Bearer b"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn resolve_when_malformed_then_invalid_request() {
        for value in [
            &b"Bearer\tabc"[..],
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer a b",
            b"Bearer a\tb",
            b"Bearer \xff\xfe",
            b"Bearer =abc",
            b"Bearer a=b",
        ] {
            let error = resolve(&[value]).unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidRequest,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn resolve_when_token_too_large_then_invalid_token() {
        let big = format!("Bearer {}", "a".repeat(DEFAULT_MAX_TOKEN_BYTES + 1));
        let error = resolve(&[big.as_bytes()]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidToken);
        assert!(error.description().contains("at most 16384"));
    }

    #[test]
    fn resolve_when_token_in_query_then_ignored_unless_enabled() {
        let request = parts(&[], "/x?access_token=abc");
        assert!(
            HeaderTokenResolver::new()
                .resolve(&request)
                .unwrap()
                .is_none()
        );
        let resolver = HeaderTokenResolver::new().allow_query_parameter(true);
        assert_eq!(resolver.resolve(&request).unwrap().unwrap().expose(), "abc");
        let both = parts(&[b"Bearer abc"], "/x?access_token=abc");
        assert_eq!(
            resolver.resolve(&both).unwrap_err().kind(),
            ErrorKind::InvalidRequest
        );
    }
}
