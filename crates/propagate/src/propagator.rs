//! [`Propagator`]: which token goes to which downstream.

use std::sync::Arc;

use portcullis_core::cache_key::TokenKey;
use portcullis_core::config::{DownstreamConfig, Strategy};
use portcullis_core::token_cache::{AnswerCache, AnswerKey};
use portcullis_core::{BearerToken, Clock, Principal};
use url::Url;

use crate::{IssuedToken, PropagationError, TokenEndpoint};

/// RFC 8693 grant and token types.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// One configured downstream.
#[derive(Debug, Clone)]
pub struct Downstream {
    /// Its name.
    pub name: String,
    base: Url,
    /// How it gets a token.
    pub strategy: Strategy,
    audience: Option<String>,
    resource: Option<String>,
    scopes: Vec<String>,
}

impl Downstream {
    fn from_config(config: &DownstreamConfig) -> Result<Self, String> {
        let mut base = Url::parse(&config.base_url)
            .map_err(|e| format!("downstream {:?}: base-url: {e}", config.name))?;
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        Ok(Self {
            name: config.name.clone(),
            base,
            strategy: config.strategy,
            audience: config.audience.clone(),
            resource: config.resource.clone(),
            scopes: config.scopes.clone(),
        })
    }

    /// Whether `url` is under this downstream's base: same scheme, host and port, and a path that
    /// is the base path or below it (`/api` covers `/api/x`, not `/apix`).
    pub fn covers(&self, url: &Url) -> bool {
        if url.scheme() != self.base.scheme()
            || url.host_str() != self.base.host_str()
            || url.port_or_known_default() != self.base.port_or_known_default()
        {
            return false;
        }
        let base = self.base.path().trim_end_matches('/');
        let path = url.path();
        path == base
            || base.is_empty()
            || path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    fn strategy_name(&self) -> &'static str {
        match self.strategy {
            Strategy::Relay => "relay",
            Strategy::ClientCredentials => "client-credentials",
            Strategy::Exchange => "exchange",
        }
    }
}

/// Finds the downstream for a URL and the token to send it.
pub struct Propagator {
    downstreams: Vec<Downstream>,
    endpoint: Option<Arc<TokenEndpoint>>,
    clock: Arc<dyn Clock>,
    exchanged: AnswerCache<(TokenKey, usize), BearerToken, PropagationError>,
    own: AnswerCache<usize, BearerToken, PropagationError>,
}

impl std::fmt::Debug for Propagator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Propagator")
            .field("downstreams", &self.downstreams)
            .finish()
    }
}

impl Propagator {
    /// From checked configuration. `endpoint` is needed for `exchange` and `client-credentials`.
    pub fn new(
        configs: &[DownstreamConfig],
        endpoint: Option<Arc<TokenEndpoint>>,
        clock: Arc<dyn Clock>,
        capacity: u64,
    ) -> Result<Self, String> {
        let downstreams = configs
            .iter()
            .map(Downstream::from_config)
            .collect::<Result<Vec<_>, _>>()?;
        if endpoint.is_none()
            && let Some(d) = downstreams.iter().find(|d| d.strategy != Strategy::Relay)
        {
            return Err(format!(
                "downstream {:?} needs this service's client at the IdP (portcullis.client)",
                d.name
            ));
        }
        Ok(Self {
            downstreams,
            endpoint,
            clock,
            exchanged: AnswerCache::new(capacity),
            own: AnswerCache::new(1024),
        })
    }

    /// A propagator without downstreams: every URL is refused.
    pub fn none() -> Self {
        Self {
            downstreams: Vec::new(),
            endpoint: None,
            clock: Arc::new(portcullis_core::SystemClock),
            exchanged: AnswerCache::new(0),
            own: AnswerCache::new(0),
        }
    }

    /// The configured downstreams.
    pub fn downstreams(&self) -> &[Downstream] {
        &self.downstreams
    }

    /// The downstream a URL belongs to (the longest matching base).
    pub fn downstream_for(&self, url: &str) -> Result<(usize, &Downstream), PropagationError> {
        let unknown = || PropagationError::UnknownDownstream {
            url: url.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|_| unknown())?;
        self.downstreams
            .iter()
            .enumerate()
            .filter(|(_, d)| d.covers(&parsed))
            .max_by_key(|(_, d)| d.base.as_str().len())
            .ok_or_else(unknown)
    }

    /// The token to send to `url`, acting for `principal` (needed by `relay` and `exchange`).
    pub async fn bearer_for(
        &self,
        principal: Option<&Principal>,
        url: &str,
    ) -> Result<BearerToken, PropagationError> {
        let (index, downstream) = self.downstream_for(url)?;
        let needs_caller = || PropagationError::NoPrincipal {
            downstream: downstream.name.clone(),
            strategy: downstream.strategy_name(),
        };
        match downstream.strategy {
            Strategy::Relay => Ok(principal.ok_or_else(needs_caller)?.token().clone()),
            Strategy::Exchange => {
                let subject = principal.ok_or_else(needs_caller)?.token();
                let key = (TokenKey::of(subject), index);
                self.cached(&self.exchanged, key, || self.exchange(downstream, subject))
                    .await
            }
            Strategy::ClientCredentials => {
                self.cached(&self.own, index, || self.client_credentials(downstream))
                    .await
            }
        }
    }

    /// The token under `key`, fetched once for concurrent callers and kept until shortly
    /// before it expires ([`margin_secs`]).
    async fn cached<K, F, Fut>(
        &self,
        cache: &AnswerCache<K, BearerToken, PropagationError>,
        key: K,
        fetch: F,
    ) -> Result<BearerToken, PropagationError>
    where
        K: AnswerKey,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<IssuedToken, PropagationError>>,
    {
        cache
            .get_or_fetch(key, &*self.clock, || async {
                let issued = fetch().await?;
                let now = self.clock.unix_seconds();
                let lifetime = u64::try_from(issued.expires_at.saturating_sub(now)).unwrap_or(0);
                let usable = lifetime.saturating_sub(margin_secs(lifetime));
                let refresh_at = now.saturating_add(i64::try_from(usable).unwrap_or(i64::MAX));
                Ok((issued.token, refresh_at))
            })
            .await
    }

    fn endpoint(&self) -> Result<&TokenEndpoint, PropagationError> {
        self.endpoint
            .as_deref()
            .ok_or_else(|| PropagationError::Misconfigured(
                "this downstream needs a token from the IdP, and no client is configured: set portcullis.client.client-id".into(),
            ))
    }

    async fn exchange(
        &self,
        downstream: &Downstream,
        subject: &BearerToken,
    ) -> Result<IssuedToken, PropagationError> {
        let mut form = vec![
            ("grant_type", TOKEN_EXCHANGE.to_owned()),
            ("subject_token", subject.expose().to_owned()),
            ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
            ("requested_token_type", ACCESS_TOKEN_TYPE.to_owned()),
        ];
        push_target(&mut form, downstream);
        self.endpoint()?
            .grant(form, &downstream.name, "token-exchange")
            .await
    }

    async fn client_credentials(
        &self,
        downstream: &Downstream,
    ) -> Result<IssuedToken, PropagationError> {
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        push_target(&mut form, downstream);
        self.endpoint()?
            .grant(form, &downstream.name, "client_credentials")
            .await
    }
}

fn push_target(form: &mut Vec<(&'static str, String)>, downstream: &Downstream) {
    if let Some(audience) = &downstream.audience {
        form.push(("audience", audience.clone()));
    }
    if let Some(resource) = &downstream.resource {
        form.push(("resource", resource.clone()));
    }
    if !downstream.scopes.is_empty() {
        form.push(("scope", downstream.scopes.join(" ")));
    }
}

/// Tokens are renewed this long before they expire: 30 s, or half the lifetime of short ones.
fn margin_secs(lifetime: u64) -> u64 {
    30.min(lifetime / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn downstream(base: &str) -> Downstream {
        Downstream::from_config(&DownstreamConfig {
            name: "d".into(),
            base_url: base.into(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_base_url_covers_its_own_paths_only() {
        let d = downstream("https://inventory.internal/api/");
        for ok in [
            "https://inventory.internal/api",
            "https://inventory.internal/api/items/1?x=1",
            "https://inventory.internal:443/api/x",
        ] {
            assert!(d.covers(&Url::parse(ok).unwrap()), "{ok}");
        }
        for no in [
            "https://inventory.internal/apix",
            "http://inventory.internal/api/x",
            "https://inventory.internal.evil.example/api/x",
            "https://inventory.internal:8443/api/x",
            "https://evil.example/https://inventory.internal/api",
        ] {
            assert!(!d.covers(&Url::parse(no).unwrap()), "{no}");
        }
        assert!(
            downstream("http://127.0.0.1:8080")
                .covers(&Url::parse("http://127.0.0.1:8080/anything").unwrap())
        );
    }
}
