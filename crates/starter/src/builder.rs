//! [`Portcullis`] and its builder: configuration in, a ready pipeline out, with one log line per
//! decision.

use std::sync::Arc;

use portcullis_core::config::PortcullisConfig;
use portcullis_core::{
    AuthError, Clock, Enricher, ErrorRenderer, HeaderTokenResolver, Rfc6750Renderer, SystemClock,
    TokenResolver, TokenValidator, UserinfoSource,
};

use crate::config::{ConfigErrors, ConfigLoader, LoadedConfig};
use crate::health::{Health, HealthCheck};
use crate::layer::AuthLayer;
use crate::pipeline::Pipeline;
use crate::wiring::Wiring;
use portcullis_core::observe::Telemetry;
use portcullis_propagate::{Propagator, outbound_client};

/// Why the service could not start.
///
/// `Debug` prints the same text as `Display`, so `fn main() -> Result<(), Box<dyn Error>>`
/// (which reports an error with `Debug`) shows people the message, not the structure.
#[derive(thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// Eager discovery failed. The message is the operator's detail (what failed, which
    /// setting), not the description a client would get.
    #[error(
        "portcullis.discovery.eager = true and the issuer could not be prepared ({}): {}",
        .0.reason(),
        .0.detail().unwrap_or(.0.description())
    )]
    Discovery(AuthError),
    /// The development issuer could not start, or was refused.
    #[error("the development issuer could not start: {0}")]
    DevIssuer(String),
    /// The outbound HTTP client could not be built.
    #[error("{0}")]
    Outbound(String),
}

/// What Portcullis prints on standard error, once per process, when it is built and no tracing
/// subscriber is installed: without one, every refusal's reason and every startup decision is
/// logged nowhere.
pub const NO_SUBSCRIBER_NOTICE: &str = "portcullis: no tracing subscriber is installed, so the \
reasons for refused requests (401, 403, 503) and the startup decisions are logged nowhere. Add \
one line at the start of main: `tracing_subscriber::fmt().init();` (crate tracing-subscriber); \
see docs/observability.md";

fn tell_if_the_log_goes_nowhere() {
    static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let nowhere = tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    if nowhere && !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{NO_SUBSCRIBER_NOTICE}");
    }
}

impl std::fmt::Debug for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The configured resource server: hand out [`Portcullis::layer`] to routers.
#[derive(Clone, Debug)]
pub struct Portcullis {
    pipeline: Arc<Pipeline>,
    config: Arc<PortcullisConfig>,
    propagator: Option<Arc<Propagator>>,
    outbound: reqwest_middleware::ClientWithMiddleware,
    health: Arc<HealthCheck>,
    #[cfg(feature = "dev-issuer")]
    dev: Option<Arc<crate::dev::DevIssuer>>,
}

impl Portcullis {
    /// A builder.
    pub fn builder() -> PortcullisBuilder {
        PortcullisBuilder::default()
    }

    /// Loads `config/default.toml`, the profile and the environment, and builds.
    pub async fn from_default_config() -> Result<Self, StartupError> {
        Self::builder().build().await
    }

    /// The authentication layer: every request under it must carry a valid token.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.pipeline.clone())
    }

    /// The configuration in force.
    pub fn config(&self) -> &PortcullisConfig {
        &self.config
    }

    /// Outbound identity (`[[portcullis.downstream]]`), when downstreams are configured.
    pub fn propagator(&self) -> Option<&Arc<Propagator>> {
        self.propagator.as_ref()
    }

    /// An HTTP client that attaches, for each configured downstream, the token it needs (relay,
    /// exchange or client credentials). Pass the caller with `.with_extension(principal)`. A URL
    /// under no configured downstream is an error, never a silent forward. It follows no
    /// redirect: a `3xx` answer comes back to your code, so a token never goes to a URL the
    /// configuration does not name (see [`portcullis_propagate::outbound_client`]). One client
    /// (one connection pool) is shared by every clone.
    pub fn outbound_client(&self) -> reqwest_middleware::ClientWithMiddleware {
        self.outbound.clone()
    }

    /// A health report: the issuer probed (the probe is reused for 10 s), the JWKS age, the
    /// last introspection, userinfo and token-endpoint outcomes. Serialize it for an
    /// Actuator-style endpoint; [`Health::http_status`] gives 200 or 503.
    ///
    /// Only the overall status (`{"status":"UP"}`) unless `portcullis.health.show-details =
    /// "always"`: the components name IdP URLs, the client id and IdP error bodies, which a
    /// public endpoint must not show. For an endpoint only operators reach, see
    /// [`Portcullis::health_details`].
    pub async fn health(&self) -> Health {
        self.health.public_report().await
    }

    /// The whole health report with every component's details, whatever
    /// `health.show-details` says: for a route your code protects (an admin scope, say).
    pub async fn health_details(&self) -> Health {
        self.health.report().await
    }

    /// Metrics and health state (see [`portcullis_core::observe`]). Call
    /// [`Telemetry::record_gauges`] before rendering a metrics scrape.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        self.pipeline.telemetry()
    }

    /// The pipeline, to authenticate outside a tower stack.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// The development issuer, when it stands in for a configured one.
    #[cfg(feature = "dev-issuer")]
    pub fn dev_issuer(&self) -> Option<&crate::dev::DevIssuer> {
        self.dev.as_deref()
    }
}

/// Chooses the components. Each one the user supplies replaces the auto-configured one.
#[derive(Default)]
pub struct PortcullisBuilder {
    loaded: Option<LoadedConfig>,
    validator: Option<Arc<dyn TokenValidator>>,
    resolver: Option<Arc<dyn TokenResolver>>,
    enricher: Option<Arc<dyn Enricher>>,
    renderer: Option<Arc<dyn ErrorRenderer>>,
    clock: Option<Arc<dyn Clock>>,
    /// The address the service listens on, when the application asked for the development
    /// issuer in place of a missing one.
    #[cfg_attr(
        not(feature = "dev-issuer"),
        allow(dead_code, reason = "read only with the dev-issuer feature")
    )]
    dev_issuer_for: Option<std::net::SocketAddr>,
    /// Whether the application's code asked for test authentication (the test kit does).
    #[cfg_attr(
        not(feature = "testing"),
        allow(dead_code, reason = "read only with the testing feature")
    )]
    test_authentication: bool,
}

impl std::fmt::Debug for PortcullisBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortcullisBuilder")
            .field("config", &self.loaded.is_some())
            .field("validator", &self.validator.is_some())
            .field("resolver", &self.resolver.is_some())
            .field("enricher", &self.enricher.is_some())
            .field("renderer", &self.renderer.is_some())
            .field("clock", &self.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl PortcullisBuilder {
    /// Loads configuration the standard way (what `build` does when no configuration was given).
    pub fn load_config(mut self) -> Result<Self, ConfigErrors> {
        self.loaded = Some(ConfigLoader::new().load()?);
        Ok(self)
    }

    /// Uses configuration loaded with a custom [`ConfigLoader`].
    #[must_use]
    pub fn loaded_config(mut self, loaded: LoadedConfig) -> Self {
        self.loaded = Some(loaded);
        self
    }

    /// Uses configuration built in code (or loaded by another library, such as config-rs).
    #[must_use]
    pub fn config(mut self, config: PortcullisConfig) -> Self {
        self.loaded = Some(LoadedConfig::from_config(config));
        self
    }

    /// Replaces the configured validator (the `mode` setting is then not used).
    #[must_use]
    pub fn validator(mut self, validator: impl TokenValidator) -> Self {
        self.validator = Some(Arc::new(validator));
        self
    }

    /// Replaces the bearer-token resolver.
    #[must_use]
    pub fn resolver(mut self, resolver: impl TokenResolver) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Adds an enricher (the default adds nothing).
    #[must_use]
    pub fn enricher(mut self, enricher: impl Enricher) -> Self {
        self.enricher = Some(Arc::new(enricher));
        self
    }

    /// Replaces the error renderer.
    #[must_use]
    pub fn error_renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Some(Arc::new(renderer));
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// When no issuer is configured, start the in-process development issuer instead of failing,
    /// for a service that listens on `listen`. For examples and local development only: it is
    /// never used when an issuer is configured, and [`PortcullisBuilder::build`] refuses it when
    /// `listen` is not a loopback address (anyone who can reach the service could otherwise get
    /// tokens for it).
    ///
    /// Needs the starter's `dev-issuer` feature, which is off by default.
    #[cfg(feature = "dev-issuer")]
    #[must_use]
    pub fn dev_issuer_when_unconfigured(mut self, listen: std::net::SocketAddr) -> Self {
        self.dev_issuer_for = Some(listen);
        self
    }

    /// Lets requests that carry test claims (`portcullis_test::RequestExt::with_jwt`) stand in
    /// for a validated token. Only the application's code can turn this on, at startup: the
    /// `testing` feature alone (which feature unification can turn on in a workspace build)
    /// leaves every request to the real pipeline. The test kit's `MockIssuer::portcullis` calls
    /// it; call it yourself when you build a `Portcullis` for handler tests.
    #[cfg(feature = "testing")]
    #[must_use]
    pub fn test_authentication(mut self) -> Self {
        self.test_authentication = true;
        self
    }

    /// Builds the pipeline. With `discovery.eager`, fetches metadata and keys first.
    pub async fn build(self) -> Result<Portcullis, StartupError> {
        tell_if_the_log_goes_nowhere();
        #[cfg(feature = "dev-issuer")]
        let dev_may_stand_in = self.dev_issuer_for.is_some() && self.validator.is_none();
        #[cfg(not(feature = "dev-issuer"))]
        let dev_may_stand_in = false;
        #[cfg_attr(
            not(feature = "dev-issuer"),
            allow(unused_mut, reason = "the dev issuer fills in the issuer")
        )]
        let mut loaded = match self.loaded {
            Some(loaded) => loaded,
            None => {
                let loader = ConfigLoader::new();
                loader.load().map_err(|mut errors| {
                    // The issuer is checked after loading (a development issuer may stand in);
                    // when loading fails, say it is missing too, so one run lists everything.
                    if !dev_may_stand_in
                        && loader.issuer_missing()
                        && !errors.0.iter().any(|e| e.key == "portcullis.issuer")
                    {
                        errors.0.insert(0, crate::wiring::missing_issuer_error());
                    }
                    errors
                })?
            }
        };
        #[cfg(not(feature = "dev-issuer"))]
        let dev = ();
        #[cfg(feature = "dev-issuer")]
        let dev = match self.dev_issuer_for {
            Some(listen) if loaded.config.issuer.is_none() && self.validator.is_none() => Some(
                Arc::new(start_dev_issuer(&mut loaded.config, listen).await?),
            ),
            _ => None,
        };
        let problems = loaded.config.check();
        if !problems.is_empty() {
            return Err(loaded.problems_to_errors(problems).into());
        }
        let config = &loaded.config;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let wiring = Wiring::new(&loaded, clock, dev_in_use(&dev))?;

        let validator: Arc<dyn TokenValidator> = match self.validator {
            Some(validator) => {
                tracing::info!(
                    "portcullis: validator = {} (supplied by the application; portcullis.mode is not used)",
                    validator.name()
                );
                validator
            }
            None => wiring.validator()?,
        };
        let userinfo = wiring.userinfo_client();
        let resolver: Arc<dyn TokenResolver> = match self.resolver {
            Some(resolver) => {
                tracing::info!("portcullis: token resolver supplied by the application");
                resolver
            }
            None => {
                tracing::info!(
                    "portcullis: tokens from the Authorization header{}, at most {} bytes (portcullis.token.*, {})",
                    if config.token.allow_query_parameter {
                        " and the access_token query parameter"
                    } else {
                        " only"
                    },
                    config.token.max_size,
                    loaded.source_of("token.max-size"),
                );
                Arc::new(
                    HeaderTokenResolver::new()
                        .max_token_bytes(config.token.max_size)
                        .allow_query_parameter(config.token.allow_query_parameter),
                )
            }
        };
        let rules = Arc::new(wiring.rules()?);
        let metadata = wiring.resource_metadata(&rules);
        let renderer: Arc<dyn ErrorRenderer> = match self.renderer {
            Some(renderer) => renderer,
            None => {
                let mut renderer = Rfc6750Renderer::new();
                if let Some(realm) = &config.realm {
                    renderer = renderer.with_realm(realm.clone());
                }
                Arc::new(renderer)
            }
        };
        let enricher: Option<Arc<dyn Enricher>> = match self.enricher {
            Some(enricher) => {
                tracing::info!("portcullis: enricher supplied by the application");
                Some(enricher)
            }
            None => wiring.enricher(userinfo.clone()),
        };

        if config.discovery.eager {
            tracing::info!(
                "portcullis: discovery is eager (portcullis.discovery.eager, {}): preparing before the first request",
                loaded.source_of("discovery.eager")
            );
            validator.prepare().await.map_err(StartupError::Discovery)?;
        } else {
            tracing::info!(
                "portcullis: discovery is lazy: metadata and keys are fetched at the first request (the service starts while the IdP is down)"
            );
        }
        #[cfg(feature = "testing")]
        if self.test_authentication {
            tracing::warn!(
                "portcullis: test authentication is on (PortcullisBuilder::test_authentication): requests carrying test claims skip token validation; for tests only"
            );
        }
        let propagator = wiring.propagator()?;
        let outbound = outbound_client(
            propagator
                .clone()
                .unwrap_or_else(|| Arc::new(Propagator::none())),
        )
        .map_err(|e| StartupError::Outbound(e.to_string()))?;
        let health = Arc::new(wiring.health_check());
        Ok(Portcullis {
            propagator,
            outbound,
            health,
            pipeline: Arc::new(Pipeline {
                resolver,
                validator,
                enricher,
                renderer,
                userinfo: userinfo.map(|client| client as Arc<dyn UserinfoSource>),
                rules,
                metadata,
                telemetry: wiring.telemetry().clone(),
                mapping: portcullis_core::mapping::ClaimMapping::from_config(&loaded.config.claims),
                #[cfg(feature = "testing")]
                test_authentication: self.test_authentication,
            }),
            config: Arc::new(loaded.config),
            #[cfg(feature = "dev-issuer")]
            dev,
        })
    }
}

#[cfg(feature = "dev-issuer")]
fn dev_in_use(dev: &Option<Arc<crate::dev::DevIssuer>>) -> bool {
    dev.is_some()
}

#[cfg(not(feature = "dev-issuer"))]
fn dev_in_use(_: &()) -> bool {
    false
}

#[cfg(feature = "dev-issuer")]
async fn start_dev_issuer(
    config: &mut PortcullisConfig,
    listen: std::net::SocketAddr,
) -> Result<crate::dev::DevIssuer, StartupError> {
    if !listen.ip().is_loopback() {
        return Err(StartupError::DevIssuer(format!(
            "no issuer is configured and this service listens on {listen}, which is not a loopback address; the development issuer serves only services on 127.0.0.1 or ::1 (anyone who reaches it can mint tokens). Set portcullis.issuer (or PORTCULLIS_ISSUER) to your IdP, or listen on 127.0.0.1 for local development"
        )));
    }
    let audience = config
        .audience
        .first()
        .cloned()
        .unwrap_or_else(|| "portcullis-dev".to_owned());
    let dev = crate::dev::DevIssuer::start(audience.clone())
        .await
        .map_err(|e| StartupError::DevIssuer(e.to_string()))?;
    tracing::warn!(
        "portcullis: NO ISSUER CONFIGURED: using the in-process DEVELOPMENT issuer at {} (audience {audience}). Anyone who can reach this process can mint tokens. Set portcullis.issuer (or PORTCULLIS_ISSUER) for anything but local development.",
        dev.issuer()
    );
    config.issuer = Some(dev.issuer().to_owned());
    if config.audience.is_empty() {
        config.audience = vec![audience];
    }
    // The dev issuer answers at once; a short refresh keeps restarts of it painless.
    config.jwks.unknown_kid_cooldown = config
        .jwks
        .unknown_kid_cooldown
        .min(std::time::Duration::from_secs(1));
    Ok(dev)
}
