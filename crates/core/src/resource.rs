//! This service as its clients see it: the RFC 9728 resource identifier and the metadata URL that
//! every challenge names, either configured (`portcullis.resource-metadata.resource`, the
//! service's public URL) or taken from each request's own origin.
//!
//! Only the cold path asks: a refusal being rendered, or a request for the metadata document.

use std::borrow::Cow;

use http::{HeaderMap, Uri};
use url::Url;

/// The RFC 9728 well-known suffix.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Where this resource is, and so where its metadata is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceLocation {
    /// A configured resource identifier: the same for every request.
    Configured {
        /// The identifier, as configured.
        resource: String,
        /// The metadata URL derived from it (RFC 9728 §3.1: the well-known string between the
        /// host and the path).
        metadata_url: String,
        /// The path of that URL, which the layer answers.
        metadata_path: String,
    },
    /// No identifier configured: each request's own origin (`http://` for a loopback host,
    /// `https://` otherwise, or the scheme the request names), so that the challenge points at
    /// the host the client reached.
    RequestOrigin,
}

impl ResourceLocation {
    /// The location for a configured identifier; `None` when it is not an absolute URL with a
    /// host (configuration checks reject those before).
    pub fn configured(resource: &str) -> Option<Self> {
        let parsed = Url::parse(resource).ok()?;
        parsed.host()?;
        let path = parsed.path().trim_end_matches('/');
        let metadata_path = format!("{WELL_KNOWN}{path}");
        Some(Self::Configured {
            resource: resource.to_owned(),
            metadata_url: format!("{}{metadata_path}", parsed.origin().ascii_serialization()),
            metadata_path,
        })
    }

    /// The path the metadata document is served on.
    pub fn metadata_path(&self) -> &str {
        match self {
            Self::Configured { metadata_path, .. } => metadata_path,
            Self::RequestOrigin => WELL_KNOWN,
        }
    }

    /// The resource identifier for a request; `None` when it comes from the request and the
    /// request names no usable host.
    pub fn resource_for(&self, uri: &Uri, headers: &HeaderMap) -> Option<Cow<'_, str>> {
        match self {
            Self::Configured { resource, .. } => Some(Cow::Borrowed(resource)),
            Self::RequestOrigin => request_origin(uri, headers).map(Cow::Owned),
        }
    }

    /// The metadata URL a challenge to this request names.
    pub fn metadata_url_for(&self, uri: &Uri, headers: &HeaderMap) -> Option<Cow<'_, str>> {
        match self {
            Self::Configured { metadata_url, .. } => Some(Cow::Borrowed(metadata_url)),
            Self::RequestOrigin => request_origin(uri, headers)
                .map(|origin| Cow::Owned(format!("{origin}{WELL_KNOWN}"))),
        }
    }
}

/// The longest `Host` taken as an origin (a DNS name is at most 253 bytes, plus a port).
const MAX_HOST: usize = 260;

/// The origin (`scheme://host[:port]`, normalised: lower-case host, no default port) a request
/// reached, from its `:authority` (HTTP/2, absolute-form) or its one `Host` header. The scheme is
/// the request's own when it names one, else `http` for a loopback host and `https` for any
/// other (a service behind a TLS-terminating proxy sees plain HTTP). `None` for a missing,
/// repeated or malformed host, or one with user information.
///
/// The value is the client's own claim: it only ever goes back to that client. Behind a proxy
/// that rewrites `Host`, configure `portcullis.resource-metadata.resource`.
pub fn request_origin(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let authority = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => {
            let mut hosts = headers.get_all(http::header::HOST).iter();
            let host = hosts.next()?;
            if hosts.next().is_some() {
                return None;
            }
            host.to_str().ok()?
        }
    };
    if authority.is_empty()
        || authority.len() > MAX_HOST
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
    {
        return None;
    }
    let scheme = match uri.scheme_str() {
        Some(scheme @ ("http" | "https")) => Some(scheme),
        Some(_) => return None,
        None => None,
    };
    let parsed = Url::parse(&format!("{}://{authority}/", scheme.unwrap_or("https"))).ok()?;
    let origin = if scheme.is_none() && crate::discovery::is_loopback(&parsed) {
        let mut plain = parsed;
        plain.set_scheme("http").ok()?;
        plain
    } else {
        parsed
    };
    match origin.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn origin(uri: &str, hosts: &[&[u8]]) -> Option<String> {
        let uri: Uri = uri.parse().unwrap();
        let mut headers = HeaderMap::new();
        for host in hosts {
            headers.append(http::header::HOST, HeaderValue::from_bytes(host).unwrap());
        }
        request_origin(&uri, &headers)
    }

    #[test]
    fn the_origin_comes_from_the_host_with_a_scheme_by_host() {
        assert_eq!(
            origin("/orders", &[b"127.0.0.1:3000"]).as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            origin("/orders", &[b"LocalHost:8080"]).as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(origin("/", &[b"[::1]:80"]).as_deref(), Some("http://[::1]"));
        assert_eq!(
            origin("/", &[b"API.example.com"]).as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            origin("/", &[b"api.example.com:443"]).as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            origin("/", &[b"api.example.com:8443"]).as_deref(),
            Some("https://api.example.com:8443")
        );
    }

    #[test]
    fn an_authority_in_the_request_line_wins_with_its_scheme() {
        assert_eq!(
            origin("http://api.example.com:8080/x", &[b"other"]).as_deref(),
            Some("http://api.example.com:8080")
        );
        assert_eq!(
            origin("https://127.0.0.1:3000/x", &[]).as_deref(),
            Some("https://127.0.0.1:3000")
        );
    }

    #[test]
    fn hostile_or_missing_hosts_give_no_origin() {
        for hosts in [
            &[][..],
            &[&b""[..]],
            &[b"a.example.com", b"b.example.com"],
            &[b"user@evil.example"],
            &[b"evil.example/path"],
            &[b"evil.example\", error=\"x"],
            &[b"evil.example:port"],
            &[b"evil example"],
            &[b"\xffhost"],
        ] {
            assert_eq!(origin("/", hosts), None, "{hosts:?}");
        }
        assert_eq!(origin("/", &[&[b'a'; 300][..]]), None);
        assert_eq!(origin("ftp://host/x", &[]), None);
    }

    #[test]
    fn a_configured_resource_fixes_the_url_with_its_path_after_the_well_known_string() {
        let location = ResourceLocation::configured("https://api.example.com/orders/").unwrap();
        assert_eq!(
            location.metadata_path(),
            "/.well-known/oauth-protected-resource/orders"
        );
        let uri: Uri = "/x".parse().unwrap();
        assert_eq!(
            location
                .metadata_url_for(&uri, &HeaderMap::new())
                .as_deref(),
            Some("https://api.example.com/.well-known/oauth-protected-resource/orders")
        );
        assert_eq!(ResourceLocation::configured("orders api"), None);
    }

    #[test]
    fn without_configuration_the_url_follows_the_request() {
        let uri: Uri = "/x".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("127.0.0.1:3000"),
        );
        let location = ResourceLocation::RequestOrigin;
        assert_eq!(location.metadata_path(), WELL_KNOWN);
        assert_eq!(
            location.metadata_url_for(&uri, &headers).as_deref(),
            Some("http://127.0.0.1:3000/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            location.resource_for(&uri, &headers).as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(location.metadata_url_for(&uri, &HeaderMap::new()), None);
    }
}
