//! Choosing components from configuration, one log line per decision (Spring Boot's
//! auto-configuration report, in the log).

use std::sync::Arc;

use portcullis_core::client_auth::{ClientAuth, ClientSettings};
use portcullis_core::config::{Mode, PortcullisConfig, Strategy, UserinfoFailure};
use portcullis_core::http::HttpClient;
use portcullis_core::rules::RuleSet;
use portcullis_core::{
    Clock, Discovery, Endpoint, EndpointSource, Enricher, IssuerUrl, TokenValidator,
};
use portcullis_introspect_remote::{IntrospectionSettings, IntrospectionValidator};
use portcullis_jwt_local::{JwtSettings, JwtValidator};
use portcullis_propagate::{Propagator, TokenEndpoint};
use portcullis_userinfo::{UserinfoClient, UserinfoEnricher};

use crate::auto::AutoValidator;
use crate::builder::StartupError;
use crate::config::{ConfigError, ConfigErrors, LoadedConfig};

/// What the configured components share: one HTTP client, one clock, one discovery per issuer.
pub(crate) struct Wiring<'a> {
    loaded: &'a LoadedConfig,
    clock: Arc<dyn Clock>,
    http: HttpClient,
    issuer: Option<IssuerUrl>,
    discovery: Option<Arc<Discovery>>,
}

impl<'a> Wiring<'a> {
    pub(crate) fn new(
        loaded: &'a LoadedConfig,
        clock: Arc<dyn Clock>,
        dev: bool,
    ) -> Result<Self, StartupError> {
        let config = &loaded.config;
        let http = HttpClient::new(config.http.settings())
            .map_err(|e| config_error(loaded, "http", "", e))?;
        let issuer = match &config.issuer {
            Some(text) => Some(
                IssuerUrl::parse(text, config.dangerous.allow_http_issuer)
                    .map_err(|e| config_error(loaded, "issuer", text, e.to_string()))?,
            ),
            None => None,
        };
        if let Some(issuer) = &issuer {
            let source = if dev {
                "the development issuer".to_owned()
            } else {
                loaded.source_of("issuer")
            };
            tracing::info!("portcullis: issuer = {} ({source})", issuer.as_str());
            if config.dangerous.allow_http_issuer
                && !issuer.is_loopback()
                && issuer.as_str().starts_with("http:")
            {
                tracing::warn!(
                    "portcullis: DANGEROUS: plain-http issuer accepted (portcullis.dangerous.allow-http-issuer)"
                );
            }
        }
        let discovery = issuer.clone().map(|issuer| {
            Arc::new(Discovery::new(
                issuer,
                http.clone(),
                clock.clone(),
                config.discovery.retry_backoff,
            ))
        });
        Ok(Self {
            loaded,
            clock,
            http,
            issuer,
            discovery,
        })
    }

    /// The telemetry every component reports to (through the shared HTTP client).
    pub(crate) fn telemetry(&self) -> &Arc<portcullis_core::observe::Telemetry> {
        self.http.telemetry()
    }

    /// The RFC 9728 metadata, unless turned off.
    pub(crate) fn resource_metadata(
        &self,
        rules: &RuleSet,
    ) -> Option<Arc<crate::metadata::ProtectedResource>> {
        let config = self.config();
        let Some(metadata) = crate::metadata::ProtectedResource::from_config(config, rules) else {
            tracing::info!(
                "portcullis: no protected-resource metadata (RFC 9728): portcullis.resource-metadata.enabled = false ({})",
                self.source("resource-metadata.enabled")
            );
            return None;
        };
        match &config.resource_metadata.resource {
            Some(resource) => {
                tracing::info!(
                    "portcullis: protected-resource metadata (RFC 9728) for {resource} at {}, named in every challenge (portcullis.resource-metadata.resource, {})",
                    metadata.path(),
                    self.source("resource-metadata.resource")
                );
                if !config.audience.iter().any(|aud| aud == resource) {
                    tracing::info!(
                        "portcullis: clients that ask the authorization server for a token for {resource} (RFC 8707 `resource`) get `aud` = {resource}, which portcullis.audience ({}) does not accept; add it to the audience if such clients call this API",
                        self.source("audience")
                    );
                }
            }
            None => tracing::info!(
                "portcullis: protected-resource metadata (RFC 9728) at {}, for the origin each request reaches (http://{{Host}} for loopback hosts, https://{{Host}} otherwise), named in every challenge; behind a proxy, set portcullis.resource-metadata.resource to this API's public URL",
                metadata.path()
            ),
        }
        Some(Arc::new(metadata))
    }

    /// The health check, sharing the components' HTTP client and telemetry.
    pub(crate) fn health_check(&self) -> crate::health::HealthCheck {
        crate::health::HealthCheck::new(
            self.issuer.clone(),
            self.config().mode,
            self.config().health.show_details,
            self.http.clone(),
        )
    }

    fn config(&self) -> &PortcullisConfig {
        &self.loaded.config
    }

    fn source(&self, key: &str) -> String {
        self.loaded.source_of(key)
    }

    fn issuer(&self) -> Result<IssuerUrl, StartupError> {
        self.issuer.clone().ok_or_else(missing_issuer)
    }

    /// `Configured` when `key` is set, else from discovery.
    fn endpoint(
        &self,
        configured: Option<&String>,
        key: &str,
        endpoint: Endpoint,
    ) -> Result<EndpointSource, StartupError> {
        if let Some(url) = configured {
            tracing::info!(
                "portcullis: {} = {url} ({})",
                endpoint.member(),
                self.source(key)
            );
            return Ok(EndpointSource::Configured(url.clone()));
        }
        let discovery = self.discovery.clone().ok_or_else(missing_issuer)?;
        tracing::info!(
            "portcullis: {} from discovery at {} ({} not set)",
            endpoint.member(),
            discovery.issuer().openid_configuration_url(),
            endpoint.setting()
        );
        Ok(EndpointSource::Discovered(discovery, endpoint))
    }

    /// The validator `mode` names.
    pub(crate) fn validator(&self) -> Result<Arc<dyn TokenValidator>, StartupError> {
        let config = self.config();
        if config.dangerous.accept_any_audience {
            tracing::warn!(
                "portcullis: DANGEROUS: any audience is accepted (portcullis.dangerous.accept-any-audience, {})",
                self.source("dangerous.accept-any-audience")
            );
        } else {
            tracing::info!(
                "portcullis: audience = {:?} ({})",
                config.audience,
                self.source("audience")
            );
        }
        if let Some(audience) = config.okta_org_server_audience() {
            tracing::warn!(
                "portcullis: the issuer is an Okta ORG authorization server and the audience {audience} is its own URL ({}): Okta issues such tokens for its own APIs, to any app of the org, so this service would accept tokens that were never meant for it. Use a custom authorization server (issuer https://{{yourOktaDomain}}/oauth2/default or /oauth2/{{id}}; needs Okta's API Access Management) with this API's audience; see docs/idp/okta.md",
                self.source("audience")
            );
        }
        Ok(match config.mode {
            Mode::Jwt => {
                tracing::info!(
                    "portcullis: mode = jwt: tokens are validated locally ({})",
                    self.source("mode")
                );
                Arc::new(self.jwt()?)
            }
            Mode::Introspect => {
                tracing::info!(
                    "portcullis: mode = introspect: every token is checked at the introspection endpoint ({})",
                    self.source("mode")
                );
                Arc::new(self.introspection()?)
            }
            Mode::Auto => {
                tracing::info!(
                    "portcullis: mode = auto: JWS tokens from {} are validated locally, everything else by introspection ({})",
                    self.issuer()?.as_str(),
                    self.source("mode")
                );
                Arc::new(AutoValidator::new(
                    self.jwt()?,
                    self.introspection()?,
                    self.issuer()?.as_str().to_owned(),
                ))
            }
        })
    }

    fn jwt(&self) -> Result<JwtValidator, StartupError> {
        let config = self.config();
        let settings = JwtSettings::from_config(config, self.issuer()?)
            .map_err(|e| config_error(self.loaded, "jwt.algorithms", "", e))?;
        tracing::info!(
            "portcullis: algorithms = {:?}, leeway = {}s, typ at+jwt {} ({})",
            config.jwt.algorithms,
            config.jwt.leeway.as_secs(),
            if config.jwt.strict_typ {
                "required"
            } else {
                "accepted, not required"
            },
            self.source("jwt.algorithms"),
        );
        let keys = self.endpoint(config.jwks_uri.as_ref(), "jwks-uri", Endpoint::Jwks)?;
        tracing::info!(
            "portcullis: JWKS refresh every {}s unless the IdP's max-age says otherwise (bounded {}s..{}s); unknown kids refetch at most once per {:?}, the same kid once per {:?}",
            config.jwks.refresh_interval.as_secs(),
            config.jwks.min_refresh.as_secs(),
            config.jwks.max_refresh.as_secs(),
            config.jwks.unknown_kid_min_interval,
            config.jwks.unknown_kid_cooldown,
        );
        Ok(JwtValidator::new(
            settings,
            keys,
            self.http.clone(),
            self.clock.clone(),
        ))
    }

    fn introspection(&self) -> Result<IntrospectionValidator, StartupError> {
        let config = self.config();
        let issuer = self.issuer()?;
        let i = &config.introspection;
        let client_auth = ClientAuth::from_config(i, issuer.as_str())
            .map_err(|e| config_error(self.loaded, "introspection.auth-method", "", e))?;
        tracing::info!(
            "portcullis: introspection as client {} with {} ({})",
            client_auth.client_id(),
            client_auth.describe(),
            self.source("introspection.client-id")
        );
        let endpoint = self.endpoint(
            i.endpoint.as_ref(),
            "introspection.endpoint",
            Endpoint::Introspection,
        )?;
        tracing::info!(
            "portcullis: introspection answers cached up to {}s (never past exp; a revoked token stays accepted that long), inactive {}s, at most {} answers{}",
            i.cache_ttl.as_secs(),
            i.inactive_cache_ttl.as_secs(),
            i.cache_capacity,
            if i.allow_missing_aud {
                "; answers without aud accepted (portcullis.introspection.allow-missing-aud)"
            } else {
                ""
            }
        );
        let settings = IntrospectionSettings::from_config(config, issuer);
        Ok(IntrospectionValidator::new(
            settings,
            endpoint,
            client_auth,
            self.http.clone(),
            self.clock.clone(),
        ))
    }

    /// The access rules (already checked with the configuration).
    pub(crate) fn rules(&self) -> Result<RuleSet, StartupError> {
        let config = self.config();
        let rules = RuleSet::compile(&config.rules, config.default_rule)
            .map_err(|problems| self.loaded.problems_to_errors(problems))?;
        tracing::info!(
            "portcullis: {} access rule(s) ({}); unmatched requests: {:?} (portcullis.default-rule, {})",
            config.rules.len(),
            self.source("rules"),
            config.default_rule,
            self.source("default-rule")
        );
        Ok(rules)
    }

    /// The propagator when downstreams are configured.
    pub(crate) fn propagator(&self) -> Result<Option<Arc<Propagator>>, StartupError> {
        let config = self.config();
        if config.downstream.is_empty() {
            return Ok(None);
        }
        let endpoint = if config
            .downstream
            .iter()
            .any(|d| d.strategy != Strategy::Relay)
        {
            let (settings, section) = if config.client.client_id.is_some() {
                (ClientSettings::from(&config.client), "client")
            } else {
                (ClientSettings::from(&config.introspection), "introspection")
            };
            let issuer = self.issuer()?;
            let client_auth = ClientAuth::from_config(settings, issuer.as_str())
                .map_err(|e| config_error(self.loaded, &format!("{section}.client-id"), "", e))?;
            tracing::info!(
                "portcullis: outbound tokens as client {} with {} (portcullis.{section})",
                client_auth.client_id(),
                client_auth.describe()
            );
            let source = self.endpoint(
                config.client.token_endpoint.as_ref(),
                "client.token-endpoint",
                Endpoint::Token,
            )?;
            Some(Arc::new(TokenEndpoint::new(
                source,
                client_auth,
                self.http.clone(),
                self.clock.clone(),
            )))
        } else {
            None
        };
        for d in &config.downstream {
            tracing::info!(
                "portcullis: downstream {:?} at {}: {:?}{}",
                d.name,
                d.base_url,
                d.strategy,
                d.audience
                    .as_deref()
                    .or(d.resource.as_deref())
                    .map(|a| format!(" for {a}"))
                    .unwrap_or_default()
            );
        }
        let capacity = config.introspection.cache_capacity;
        Propagator::new(&config.downstream, endpoint, self.clock.clone(), capacity)
            .map(|p| Some(Arc::new(p)))
            .map_err(|e| config_error(self.loaded, "downstream", "", e))
    }

    /// A userinfo client when an endpoint is configured or discovery can name one.
    pub(crate) fn userinfo_client(&self) -> Option<Arc<UserinfoClient>> {
        let u = &self.config().userinfo;
        let endpoint = match (&u.endpoint, &self.discovery) {
            (Some(url), _) => EndpointSource::Configured(url.clone()),
            (None, Some(discovery)) => {
                EndpointSource::Discovered(discovery.clone(), Endpoint::Userinfo)
            }
            (None, None) => return None,
        };
        Some(Arc::new(UserinfoClient::new(
            endpoint,
            self.http.clone(),
            self.clock.clone(),
            u.cache_capacity,
        )))
    }

    /// The userinfo enricher when `userinfo.enabled`, else none.
    pub(crate) fn enricher(
        &self,
        client: Option<Arc<UserinfoClient>>,
    ) -> Option<Arc<dyn Enricher>> {
        let u = &self.config().userinfo;
        match client {
            Some(client) if u.enabled => {
                tracing::info!(
                    "portcullis: userinfo fetched for every request (portcullis.userinfo.enabled, {}); on failure: {}",
                    self.source("userinfo.enabled"),
                    match u.on_failure {
                        UserinfoFailure::Continue => "continue without it",
                        UserinfoFailure::Fail => "fail with 503",
                    }
                );
                Some(Arc::new(UserinfoEnricher::new(client, u.on_failure)))
            }
            Some(_) => {
                tracing::info!(
                    "portcullis: userinfo on demand (the UserInfo extractor); portcullis.userinfo.enabled = false"
                );
                None
            }
            None => {
                if u.enabled {
                    tracing::warn!(
                        "portcullis: portcullis.userinfo.enabled is set but no userinfo endpoint is known; set portcullis.userinfo.endpoint"
                    );
                }
                None
            }
        }
    }
}

fn missing_issuer() -> StartupError {
    ConfigErrors(vec![missing_issuer_error()]).into()
}

/// `portcullis.issuer` is not set (and no development issuer stands in).
pub(crate) fn missing_issuer_error() -> ConfigError {
    ConfigError {
        key: "portcullis.issuer".into(),
        value: None,
        reason: "not set: name your issuer in config/default.toml ([portcullis] issuer = \"https://…\") or PORTCULLIS_ISSUER; for local development without an IdP, enable the starter's `dev-issuer` feature and call PortcullisBuilder::dev_issuer_when_unconfigured(<loopback listen address>)".into(),
        source: None,
    }
}

fn config_error(loaded: &LoadedConfig, key: &str, value: &str, reason: String) -> StartupError {
    StartupError::Config(ConfigErrors(vec![ConfigError {
        key: format!("portcullis.{key}"),
        value: (!value.is_empty()).then(|| value.to_owned()),
        reason,
        source: Some(loaded.source_of(key)),
    }]))
}
