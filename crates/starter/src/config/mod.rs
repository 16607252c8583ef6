//! Loading configuration: built-in defaults → `config/default.toml` → `config/{profile}.toml`
//! (`PORTCULLIS_PROFILE`) → environment `PORTCULLIS_*` (`__` for nesting, `_` for `-`).
//!
//! Errors name the key, the value (secrets masked) and where the value came from; unknown keys
//! suggest the nearest valid key.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata, Provider, Source};
pub use portcullis_core::config::PortcullisConfig;

pub use portcullis_core::config::{
    AuthorityClaim, ClaimsConfig, ClientAssertionAudience, ClientAuthMethod, ClientConfig,
    ConfigProblem, DEFAULT_ALGORITHMS, DangerousConfig, DefaultRule, DiscoveryConfig,
    DownstreamConfig, HealthConfig, HttpConfig, IntrospectionConfig, JwksConfig, JwtConfig,
    KNOWN_ALGORITHMS, Mode, ResourceMetadataConfig, RuleConfig, ShowDetails, Strategy, TokenConfig,
    UserinfoConfig, UserinfoFailure, duration,
};

mod report;
mod sources;

pub use self::report::is_secret_key;
use self::report::{Defaults, extract_reporting_all, with_section_hint};
pub use self::sources::env_name;
use self::sources::{Overrides, describe_source};

/// The section of the configuration files that Portcullis reads.
pub const SECTION: &str = "portcullis";
/// Environment variables Portcullis reads start with this.
pub const ENV_PREFIX: &str = "PORTCULLIS_";
/// Chooses `config/{profile}.toml`.
pub const PROFILE_VAR: &str = "PORTCULLIS_PROFILE";
/// Overrides the configuration folder (default `config`).
pub const CONFIG_DIR_VAR: &str = "PORTCULLIS_CONFIG_DIR";

/// One configuration error: key, value, reason, source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The full key, for example `portcullis.jwt.leeway`.
    pub key: String,
    /// The offending value, masked when secret; `None` when there is none (a missing key).
    pub value: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
    /// Where the value came from: a file (with line when found) or an environment variable.
    pub source: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(value) = &self.value {
            write!(f, " = {value}")?;
        }
        if let Some(source) = &self.source {
            write!(f, " (from {source})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every configuration error found at once, so one restart fixes them all. `Debug` prints the
/// same text as `Display` (see [`crate::StartupError`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Debug for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid Portcullis configuration:")?;
        for error in &self.0 {
            writeln!(f, "  - {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Configuration as loaded, with the sources of its values.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The values.
    pub config: PortcullisConfig,
    figment: Option<Figment>,
}

impl LoadedConfig {
    /// Configuration given in code (no sources to report).
    pub fn from_config(config: PortcullisConfig) -> Self {
        Self {
            config,
            figment: None,
        }
    }

    /// Where `key` (below `portcullis`, dotted, kebab-case) got its value: a file, an environment
    /// variable, or `default`.
    pub fn source_of(&self, key: &str) -> String {
        let full = format!("{SECTION}.{key}");
        self.figment
            .as_ref()
            .and_then(|f| f.find_metadata(&full).map(|m| describe_source(m, &full)))
            .unwrap_or_else(|| {
                if self.figment.is_some() {
                    "default".into()
                } else {
                    "code".into()
                }
            })
    }

    /// Every key in force (`portcullis.…`, dotted; arrays are one value), its value with secrets
    /// as `***`, and where it came from: what `portcullis config` prints.
    pub fn entries(&self) -> Vec<ConfigEntry> {
        let mut leaves = Vec::new();
        leaf_values(
            "",
            serde_json::to_value(&self.config).unwrap_or_default(),
            &mut leaves,
        );
        leaves
            .into_iter()
            .map(|(key, value)| {
                let value = if is_secret_key(&key) && !value.is_null() {
                    serde_json::Value::String("***".into())
                } else {
                    value
                };
                let mut source = self.source_of(&key);
                if let Some(effective) = self.effective_default(&key, &value) {
                    source = format!("{source}: {effective}");
                }
                ConfigEntry {
                    source,
                    key: format!("{SECTION}.{key}"),
                    value,
                }
            })
            .collect()
    }

    /// What an unset key means in effect, where that is not the value itself.
    fn effective_default(&self, key: &str, value: &serde_json::Value) -> Option<&'static str> {
        match key {
            "resource-metadata.resource" if value.is_null() => {
                Some(if self.config.resource_metadata.enabled {
                    "the origin each request reached, http://{Host} for a loopback host, https://{Host} otherwise"
                } else {
                    "no metadata (resource-metadata.enabled = false)"
                })
            }
            _ => None,
        }
    }

    /// Turns the problems `PortcullisConfig::check` finds into errors with sources.
    pub fn problems_to_errors(&self, problems: Vec<ConfigProblem>) -> ConfigErrors {
        ConfigErrors(
            problems
                .into_iter()
                .map(|p| {
                    let source = self.source_of(p.key);
                    ConfigError {
                        key: format!("{SECTION}.{}", p.key),
                        value: Some(p.value),
                        reason: p.reason,
                        source: (source != "default" && source != "code").then_some(source),
                    }
                })
                .collect(),
        )
    }
}

/// One value of [`LoadedConfig::entries`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfigEntry {
    /// `portcullis.jwt.leeway`.
    pub key: String,
    /// The value (`***` for a secret that is set).
    pub value: serde_json::Value,
    /// `config/default.toml:12`, `environment variable …`, `command line` or `default`.
    pub source: String,
}

/// The leaves of a JSON object, with dotted keys; arrays and empty objects are leaves.
fn leaf_values(prefix: &str, value: serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_values(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other)),
    }
}

/// Reads configuration the standard way.
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    dir: PathBuf,
    /// The folder came from `PORTCULLIS_CONFIG_DIR`.
    dir_from_env: bool,
    profile: Option<String>,
    overrides: Vec<(String, serde_json::Value)>,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// The folder from `PORTCULLIS_CONFIG_DIR` (default `config`), the profile from
    /// `PORTCULLIS_PROFILE`.
    pub fn new() -> Self {
        let from_env = std::env::var_os(CONFIG_DIR_VAR);
        let dir_from_env = from_env.is_some();
        let dir = from_env.map_or_else(|| PathBuf::from("config"), PathBuf::from);
        let profile = std::env::var(PROFILE_VAR).ok().filter(|p| !p.is_empty());
        Self {
            dir,
            dir_from_env,
            profile,
            overrides: Vec::new(),
        }
    }

    /// Reads from another folder.
    #[must_use]
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = dir.as_ref().to_path_buf();
        self.dir_from_env = false;
        self
    }

    /// Uses another profile.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Sets `key` (below `portcullis`, dotted, kebab-case) over every other source; its source
    /// reads "command line". For tools (`portcullis inspect --issuer …`): the result is still
    /// checked, and the files' other values still apply.
    #[must_use]
    pub fn set(mut self, key: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.overrides.push((key.to_owned(), value));
        self
    }

    /// The figment that loads, later sources winning.
    pub(crate) fn figment(&self) -> Result<Figment, ConfigErrors> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()))
            .merge(Toml::file(self.dir.join("default.toml")));
        if let Some(profile) = &self.profile {
            let file = self.dir.join(format!("{profile}.toml"));
            if !file.is_file() {
                return Err(ConfigErrors(vec![ConfigError {
                    key: PROFILE_VAR.into(),
                    value: Some(profile.clone()),
                    reason: format!("the profile file {} does not exist", file.display()),
                    source: Some(format!("environment variable {PROFILE_VAR}")),
                }]));
            }
            figment = figment.merge(Toml::file(file));
        }
        // PORTCULLIS_CLI_* belong to the `portcullis` command (a token, a client secret to try),
        // not to the service's configuration.
        let env = Env::prefixed(ENV_PREFIX)
            .ignore(&["profile", "config_dir"])
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("cli_"))
            .map(|key| {
                format!(
                    "{SECTION}.{}",
                    key.as_str().replace("__", ".").replace('_', "-")
                )
                .into()
            });
        let figment = figment.merge(env);
        Ok(if self.overrides.is_empty() {
            figment
        } else {
            figment.merge(Overrides(self.overrides.clone()))
        })
    }

    /// Loads and checks the `[portcullis]` section. Every problem is reported in one run: a key
    /// that cannot be read (unknown, or a value of the wrong type) is reported and set aside, the
    /// rest is read again, and the checks of the whole configuration run on what remains.
    pub fn load(&self) -> Result<LoadedConfig, ConfigErrors> {
        // PORTCULLIS_CONFIG_DIR naming nothing is a mistake on its own.
        if self.dir_from_env && !self.dir.is_dir() {
            return Err(ConfigErrors(vec![self.where_it_looked(
                "names no folder; set it to the folder that holds default.toml",
            )]));
        }
        let errors = self.load_section();
        // With problems and no default.toml, say where it was looked for: the usual cause is a
        // service started from another working directory.
        errors.map_err(|mut errors| {
            if !self.dir.join("default.toml").is_file() {
                errors.0.push(self.where_it_looked(
                    "holds no default.toml, so only defaults and PORTCULLIS_* variables were read; \
                     start the service where config/ is, or set PORTCULLIS_CONFIG_DIR",
                ));
            }
            errors
        })
    }

    /// Whether no source sets `portcullis.issuer`.
    pub fn issuer_missing(&self) -> bool {
        self.figment()
            .is_ok_and(|figment| !figment.contains(&format!("{SECTION}.issuer")))
    }

    fn where_it_looked(&self, reason: &str) -> ConfigError {
        let absolute = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        ConfigError {
            key: "configuration folder".into(),
            value: Some(absolute.display().to_string()),
            reason: reason.into(),
            source: Some(if self.dir_from_env {
                format!("environment variable {CONFIG_DIR_VAR}")
            } else {
                "the working directory's config/".into()
            }),
        }
    }

    /// Reads the `[portcullis]` section without the checks across keys (a missing audience is
    /// fine): for tools that need part of the configuration, such as `portcullis discover`.
    /// Unknown keys and unreadable values are errors, reported as [`ConfigLoader::load`] does.
    pub fn load_unchecked(&self) -> Result<PortcullisConfig, ConfigErrors> {
        let figment = self.figment()?;
        match extract_reporting_all(&figment) {
            (Some(config), errors) if errors.is_empty() => Ok(config),
            (_, errors) => Err(with_section_hint(&figment, ConfigErrors(errors))),
        }
    }

    fn load_section(&self) -> Result<LoadedConfig, ConfigErrors> {
        let figment = self.figment()?;
        let (config, mut errors) = extract_reporting_all(&figment);
        let Some(config) = config else {
            return Err(with_section_hint(&figment, ConfigErrors(errors)));
        };
        let loaded = LoadedConfig {
            config,
            figment: Some(figment.clone()),
        };
        // Checks about keys already reported (a missing issuer because `isuer` was misspelled)
        // add nothing: the report of the key itself says it.
        let reported: Vec<String> = errors.iter().map(|e| e.key.clone()).collect();
        let problems: Vec<ConfigProblem> = loaded
            .config
            .check()
            .into_iter()
            .filter(|p| !reported.contains(&format!("{SECTION}.{}", p.key)))
            .collect();
        errors.extend(loaded.problems_to_errors(problems).0);
        if errors.is_empty() {
            Ok(loaded)
        } else {
            Err(with_section_hint(&figment, ConfigErrors(errors)))
        }
    }
}

#[cfg(test)]
mod tests;
