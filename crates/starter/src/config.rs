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
use portcullis_core::config::{ConfigProblem, PortcullisConfig};

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
    pub fn figment(&self) -> Result<Figment, ConfigErrors> {
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

/// Reads the section; each key that fails (unknown, wrong type) becomes an error and is removed
/// before reading again, so one run reports every such key. `None` when the rest still cannot be
/// read (an error that names no removable key).
fn extract_reporting_all(figment: &Figment) -> (Option<PortcullisConfig>, Vec<ConfigError>) {
    let mut errors: Vec<ConfigError> = Vec::new();
    let Ok(data) = figment.data() else {
        return match figment.extract_inner::<PortcullisConfig>(SECTION) {
            Ok(config) => (Some(config), errors),
            Err(e) => (None, figment_errors(figment, e).0),
        };
    };
    let mut data = data;
    let mut current = figment.clone();
    // Each round removes one key; a configuration has far fewer keys than this.
    for _ in 0..64 {
        match current.extract_inner::<PortcullisConfig>(SECTION) {
            Ok(config) => return (Some(config), errors),
            Err(error) => {
                let mut removed = false;
                for e in error {
                    let raw = raw_key_path(figment, &e);
                    let mut reported = figment_errors(figment, e.clone()).0;
                    errors.append(&mut reported);
                    for dict in data.values_mut() {
                        removed |= remove_path(dict, &raw);
                    }
                }
                if !removed {
                    return (None, errors);
                }
                current = Figment::from(figment::providers::Serialized::from(
                    data.values().next().cloned().unwrap_or_default(),
                    figment::Profile::Default,
                ));
            }
        }
    }
    (None, errors)
}

/// The path of the value an error is about, from the root (`portcullis`, …), as in the data:
/// for an unknown or missing key, the key itself (figment sometimes puts it in the path already).
fn raw_key_path(figment: &Figment, error: &figment::Error) -> Vec<String> {
    let mut path = key_path(figment, &error.path);
    let field: Option<String> = match &error.kind {
        Kind::UnknownField(field, _) => Some(field.clone()),
        Kind::MissingField(field) => Some(field.to_string()),
        _ => None,
    };
    if let Some(field) = field
        && path.last() != Some(&field)
    {
        path.push(field);
    }
    path
}

/// Removes the value at `path` (table keys, or indexes into arrays) from `dict`.
fn remove_path(dict: &mut figment::value::Dict, path: &[String]) -> bool {
    use figment::value::Value;
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    if rest.is_empty() {
        return dict.remove(first).is_some();
    }
    fn walk(value: &mut Value, path: &[String]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        match value {
            Value::Dict(_, dict) if rest.is_empty() => dict.remove(first).is_some(),
            Value::Dict(_, dict) => dict.get_mut(first).is_some_and(|v| walk(v, rest)),
            Value::Array(_, items) => first
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .is_some_and(|v| {
                    if rest.is_empty() {
                        false
                    } else {
                        walk(v, rest)
                    }
                }),
            _ => false,
        }
    }
    dict.get_mut(first).is_some_and(|v| walk(v, rest))
}

/// An empty `portcullis` table, so that a missing file or section yields defaults rather than
/// "missing field portcullis".
#[derive(Default, serde::Serialize)]
struct Defaults {
    portcullis: std::collections::BTreeMap<String, String>,
}

fn figment_errors(figment: &Figment, error: figment::Error) -> ConfigErrors {
    let mut errors = Vec::new();
    for e in error {
        let key = raw_key_path(figment, &e).join(".");
        let (value, reason) = match &e.kind {
            Kind::UnknownField(field, expected) => {
                let suggestion = nearest(field, expected)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("valid keys here: {}", expected.join(", ")));
                (None, format!("unknown key; {suggestion}"))
            }
            Kind::UnknownVariant(variant, expected) => (
                Some(format!("{variant:?}")),
                format!("unknown value; expected one of: {}", expected.join(", ")),
            ),
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                (Some(mask(&key, actual)), format!("expected {expected}"))
            }
            Kind::MissingField(_) => (None, "this key is required".into()),
            Kind::Message(message) => (None, message.clone()),
            other => (None, other.to_string()),
        };
        // The original sources (a later round reads a copy of the data, without them).
        let source = figment
            .find_metadata(&key)
            .or(e.metadata.as_ref())
            .map(|m| describe_source(m, &key));
        errors.push(ConfigError {
            key,
            value,
            reason,
            source,
        });
    }
    ConfigErrors(errors)
}

/// figment reports some paths innermost first and some without the section: find the order
/// that names a value present in the configuration.
fn key_path(figment: &Figment, raw: &[String]) -> Vec<String> {
    let inner: Vec<String> = raw
        .iter()
        .filter(|p| p.as_str() != SECTION)
        .cloned()
        .collect();
    let mut reversed = inner.clone();
    reversed.reverse();
    let present = |p: &[String]| figment.contains(&format!("{SECTION}.{}", p.join(".")));
    let chosen = if !present(&inner) && present(&reversed) {
        reversed
    } else {
        inner
    };
    std::iter::once(SECTION.to_owned()).chain(chosen).collect()
}

fn with_section_hint(figment: &Figment, mut errors: ConfigErrors) -> ConfigErrors {
    if let Some(hint) = suggest_section(figment) {
        errors.0.insert(0, hint);
    }
    errors
}

/// A `[portcullus]`-like section next to a missing `[portcullis]` is almost certainly a typo.
fn suggest_section(figment: &Figment) -> Option<ConfigError> {
    let dict = figment.data().ok()?.into_values().next()?;
    dict.keys()
        .find(|k| k.as_str() != SECTION && levenshtein(k, SECTION) <= 2)
        .map(|typo| ConfigError {
            key: typo.clone(),
            value: None,
            reason: format!("unknown section; did you mean `[{SECTION}]`?"),
            source: None,
        })
}

fn mask(key: &str, actual: &Actual) -> String {
    if is_secret_key(key) {
        "***".into()
    } else {
        actual.to_string()
    }
}

/// Keys whose values are never shown.
pub fn is_secret_key(key: &str) -> bool {
    key.contains("secret") || key.contains("password") || key.ends_with("private-key")
}

/// Values set in code by a tool, above every other source.
struct Overrides(Vec<(String, serde_json::Value)>);

impl Provider for Overrides {
    fn metadata(&self) -> Metadata {
        Metadata::named("command line")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        // One nested table: `portcullis.jwt.leeway = 5` becomes {portcullis: {jwt: {leeway: 5}}}.
        let mut root = serde_json::Map::new();
        for (key, value) in &self.0 {
            let mut node = &mut root;
            let path: Vec<&str> = std::iter::once(SECTION).chain(key.split('.')).collect();
            let (last, parents) = path.split_last().unwrap_or((&SECTION, &[]));
            for part in parents {
                let entry = node
                    .entry((*part).to_owned())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if !entry.is_object() {
                    *entry = serde_json::Value::Object(serde_json::Map::new());
                }
                let Some(next) = entry.as_object_mut() else {
                    return Err(figment::Error::from(format!("cannot set {key}")));
                };
                node = next;
            }
            node.insert((*last).to_owned(), value.clone());
        }
        Serialized::defaults(serde_json::Value::Object(root)).data()
    }
}

fn describe_source(metadata: &Metadata, key: &str) -> String {
    match &metadata.source {
        Some(Source::File(path)) => match find_line(path, key) {
            Some(line) => format!("{}:{line}", display_path(path)),
            None => display_path(path),
        },
        _ if metadata.name.contains("environment") => {
            format!("environment variable {}", env_name(key))
        }
        Some(source) => source.to_string(),
        None => metadata.name.to_string(),
    }
}

fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

/// `portcullis.introspection.client-id` → `PORTCULLIS_INTROSPECTION__CLIENT_ID`.
pub fn env_name(key: &str) -> String {
    let inner = key.strip_prefix("portcullis.").unwrap_or(key);
    format!(
        "{ENV_PREFIX}{}",
        inner
            .replace('.', "__")
            .replace('-', "_")
            .to_ascii_uppercase()
    )
}

/// The line of `key`'s last segment inside its table, found by reading the file (figment does
/// not keep positions). Best effort.
fn find_line(path: &Path, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut segments: Vec<&str> = key.split('.').collect();
    let last = segments.pop()?;
    let table = segments.join(".");
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        let Some((name, _)) = trimmed.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        let full = if current.is_empty() {
            name.to_owned()
        } else {
            format!("{current}.{name}")
        };
        if full == format!("{table}.{last}") || (current == table && name == last) {
            return Some(index + 1);
        }
    }
    None
}

fn nearest<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    let normalized = field.replace('_', "-").to_ascii_lowercase();
    expected
        .iter()
        .map(|candidate| (levenshtein(&normalized, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error"
)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in(jail: &Jail) -> Result<LoadedConfig, ConfigErrors> {
        ConfigLoader::new()
            .dir(jail.directory().join("config"))
            .load()
    }

    #[test]
    fn files_then_profile_then_environment_later_wins() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file("config/default.toml", "[portcullis]\nissuer = \"https://a.example\"\naudience = \"api\"\n[portcullis.jwt]\nleeway = 30\n")?;
            jail.create_file(
                "config/prod.toml",
                "[portcullis]\nissuer = \"https://b.example\"\n",
            )?;
            jail.set_env("PORTCULLIS_PROFILE", "prod");
            jail.set_env("PORTCULLIS_JWT__LEEWAY", "5");
            jail.set_env("PORTCULLIS_JWT__STRICT_TYP", "true");
            let loaded = ConfigLoader::new()
                .dir(jail.directory().join("config"))
                .load()
                .unwrap();
            assert_eq!(loaded.config.issuer.as_deref(), Some("https://b.example"));
            assert_eq!(loaded.config.audience, vec!["api"]);
            assert_eq!(loaded.config.jwt.leeway, std::time::Duration::from_secs(5));
            assert!(loaded.config.jwt.strict_typ);
            assert_eq!(
                loaded.source_of("jwt.leeway"),
                "environment variable PORTCULLIS_JWT__LEEWAY"
            );
            assert!(
                loaded.source_of("issuer").ends_with("prod.toml:2"),
                "{}",
                loaded.source_of("issuer")
            );
            assert!(
                loaded.source_of("audience").ends_with("default.toml:3"),
                "{}",
                loaded.source_of("audience")
            );
            assert_eq!(loaded.source_of("mode"), "default");
            Ok(())
        });
    }

    #[test]
    fn values_set_by_a_tool_win_name_their_source_and_are_still_checked() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "[portcullis]\naudience = \"api\"\n[portcullis.jwt]\nleeway = 30\n",
            )?;
            jail.set_env("PORTCULLIS_ISSUER", "https://env.example");
            let loaded = ConfigLoader::new()
                .dir(jail.directory().join("config"))
                .set("issuer", "https://cli.example")
                .load()
                .unwrap();
            assert_eq!(loaded.config.issuer.as_deref(), Some("https://cli.example"));
            assert_eq!(loaded.source_of("issuer"), "command line");
            assert_eq!(loaded.config.jwt.leeway, std::time::Duration::from_secs(30));
            let errors = ConfigLoader::new()
                .dir(jail.directory().join("config"))
                .set("mode", "jwtt")
                .load()
                .unwrap_err()
                .to_string();
            assert!(
                errors.contains("portcullis.mode") && errors.contains("command line"),
                "{errors}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_fixed_environment_names_reach_their_keys() {
        Jail::expect_with(|jail| {
            jail.set_env("PORTCULLIS_ISSUER", "https://idp.example");
            jail.set_env("PORTCULLIS_AUDIENCE", "api://x");
            jail.set_env("PORTCULLIS_MODE", "introspect");
            jail.set_env("PORTCULLIS_JWKS_URI", "https://idp.example/keys");
            jail.set_env(
                "PORTCULLIS_INTROSPECTION__ENDPOINT",
                "https://idp.example/introspect",
            );
            jail.set_env("PORTCULLIS_INTROSPECTION__CLIENT_ID", "orders-api");
            jail.set_env("PORTCULLIS_INTROSPECTION__CLIENT_SECRET", "s3cret");
            let loaded = load_in(jail).unwrap();
            assert_eq!(
                loaded.config.mode,
                portcullis_core::config::Mode::Introspect
            );
            let i = &loaded.config.introspection;
            assert_eq!(
                i.endpoint.as_deref(),
                Some("https://idp.example/introspect")
            );
            assert_eq!(i.client_id.as_deref(), Some("orders-api"));
            assert_eq!(i.client_secret.as_ref().map(|s| s.expose()), Some("s3cret"));
            assert_eq!(loaded.config.issuer.as_deref(), Some("https://idp.example"));
            assert_eq!(loaded.config.audience, vec!["api://x"]);
            assert_eq!(
                loaded.config.jwks_uri.as_deref(),
                Some("https://idp.example/keys")
            );
            Ok(())
        });
    }

    #[test]
    fn a_typo_is_an_error_with_the_nearest_key_and_its_file() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "[portcullis]\nissuer = \"https://a.example\"\naudiance = \"api\"\n",
            )?;
            let errors = load_in(jail).unwrap_err();
            let text = errors.to_string();
            assert!(text.contains("portcullis.audiance"), "{text}");
            assert!(text.contains("did you mean `audience`?"), "{text}");
            assert!(text.contains("default.toml"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn every_problem_is_reported_in_one_run_with_the_key_as_written_and_its_line() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            // Two typos and a bad value (the missing issuer is the builder's to report: a
            // development issuer may stand in).
            jail.create_file(
                "config/default.toml",
                "[portcullis]\nisuer = \"https://a.example\"\naudiance = \"api\"\n\n[portcullis.jwt]\nleeway = \"soon\"\n",
            )?;
            let errors = load_in(jail).unwrap_err();
            let text = errors.to_string();
            let lines: Vec<&str> = text.lines().collect();
            let line_of = |key: &str| {
                lines
                    .iter()
                    .find(|l| l.contains(&format!("- {key} ")) || l.contains(&format!("- {key}:")))
                    .unwrap_or_else(|| panic!("no line for {key} in:\n{text}"))
                    .to_string()
            };
            assert!(
                line_of("portcullis.isuer").contains("config/default.toml:2"),
                "{text}"
            );
            assert!(
                line_of("portcullis.isuer").contains("did you mean `issuer`?"),
                "{text}"
            );
            assert!(
                line_of("portcullis.audiance").contains("config/default.toml:3"),
                "{text}"
            );
            assert!(
                line_of("portcullis.jwt.leeway").contains("config/default.toml:6"),
                "{text}"
            );
            assert!(!text.contains("audiance.audiance"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn without_default_toml_the_errors_say_where_it_was_looked_for() {
        Jail::expect_with(|jail| {
            let text = load_in(jail).unwrap_err().to_string();
            assert!(text.contains("portcullis.audience"), "{text}");
            assert!(text.contains("configuration folder = "), "{text}");
            assert!(
                text.contains(&jail.directory().join("config").display().to_string()),
                "the absolute folder: {text}"
            );
            jail.set_env("PORTCULLIS_CONFIG_DIR", "/nowhere/config");
            let text = ConfigLoader::new().load().unwrap_err().to_string();
            assert!(
                text.contains("configuration folder = /nowhere/config (from environment variable PORTCULLIS_CONFIG_DIR): names no folder"),
                "{text}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_typo_in_the_environment_names_the_variable_that_was_set() {
        Jail::expect_with(|jail| {
            jail.set_env("PORTCULLIS_ISSUER", "https://a.example");
            jail.set_env("PORTCULLIS_AUDIANCE", "api");
            let text = load_in(jail).unwrap_err().to_string();
            assert!(
                text.contains(
                    "portcullis.audiance (from environment variable PORTCULLIS_AUDIANCE)"
                ),
                "{text}"
            );
            assert!(!text.contains("PORTCULLIS_AUDIANCE__"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_key_value_and_variable_and_masks_secrets() {
        Jail::expect_with(|jail| {
            jail.set_env("PORTCULLIS_AUDIENCE", "api");
            jail.set_env("PORTCULLIS_JWT__LEEWAY", "soon");
            let text = load_in(jail).unwrap_err().to_string();
            assert!(text.contains("portcullis.jwt.leeway"), "{text}");
            assert!(text.contains("PORTCULLIS_JWT__LEEWAY"), "{text}");
            jail.set_env("PORTCULLIS_JWT__LEEWAY", "5");
            jail.set_env("PORTCULLIS_JWT__HMAC_SECRET", "tiny-secret-value");
            jail.set_env("PORTCULLIS_JWT__ALGORITHMS", "[HS256]");
            let text = load_in(jail).unwrap_err().to_string();
            assert!(text.contains("portcullis.jwt.hmac-secret = ***"), "{text}");
            assert!(!text.contains("tiny-secret-value"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_mode_and_an_insecure_issuer_are_explained() {
        Jail::expect_with(|jail| {
            jail.set_env("PORTCULLIS_AUDIENCE", "api");
            jail.set_env("PORTCULLIS_MODE", "magic");
            let text = load_in(jail).unwrap_err().to_string();
            assert!(text.contains("portcullis.mode = \"magic\""), "{text}");
            assert!(text.contains("expected one of: jwt"), "{text}");
            jail.set_env("PORTCULLIS_MODE", "jwt");
            jail.set_env("PORTCULLIS_ISSUER", "http://idp.example");
            let text = load_in(jail).unwrap_err().to_string();
            assert!(text.contains("portcullis.issuer = http://idp.example (from environment variable PORTCULLIS_ISSUER)"), "{text}");
            assert!(text.contains("https"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn a_misspelled_section_is_pointed_out() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "[portcullus]\nissuer = \"https://a.example\"\n",
            )?;
            let text = load_in(jail).unwrap_err().to_string();
            assert!(text.contains("did you mean `[portcullis]`?"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_profile_file_is_an_error() {
        Jail::expect_with(|jail| {
            let error = ConfigLoader::new()
                .dir(jail.directory())
                .profile("prdo")
                .load()
                .unwrap_err();
            assert!(
                error.to_string().contains("prdo.toml does not exist"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_config_types_deserialize_from_config_rs() {
        let settings = config::Config::builder()
            .add_source(config::File::from_str(
                "[portcullis]\nissuer = \"https://idp.example\"\naudience = [\"a\", \"b\"]\n[portcullis.jwt]\nleeway = \"90s\"\nstrict-typ = true\n",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap();
        let config: PortcullisConfig = settings.get("portcullis").unwrap();
        assert_eq!(config.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(config.audience, vec!["a", "b"]);
        assert_eq!(config.jwt.leeway, std::time::Duration::from_secs(90));
        assert!(config.jwt.strict_typ);
        assert!(config.check().is_empty());
    }

    #[test]
    fn env_names_follow_the_documented_mapping() {
        assert_eq!(
            env_name("portcullis.introspection.client-secret"),
            "PORTCULLIS_INTROSPECTION__CLIENT_SECRET"
        );
        assert_eq!(env_name("portcullis.jwks-uri"), "PORTCULLIS_JWKS_URI");
    }
}
