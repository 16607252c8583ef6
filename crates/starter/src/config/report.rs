//! Figment's errors in the user's words: every failing key at once, with its line and the
//! nearest valid key.

#[allow(
    unused_imports,
    reason = "the parent module's imports, as each part needs them"
)]
use super::*;

/// Reads the section; each key that fails (unknown, wrong type) becomes an error and is removed
/// before reading again, so one run reports every such key. `None` when the rest still cannot be
/// read (an error that names no removable key).
pub(super) fn extract_reporting_all(
    figment: &Figment,
) -> (Option<PortcullisConfig>, Vec<ConfigError>) {
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
pub(super) fn raw_key_path(figment: &Figment, error: &figment::Error) -> Vec<String> {
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
pub(super) fn remove_path(dict: &mut figment::value::Dict, path: &[String]) -> bool {
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
pub(super) struct Defaults {
    portcullis: std::collections::BTreeMap<String, String>,
}

pub(super) fn figment_errors(figment: &Figment, error: figment::Error) -> ConfigErrors {
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
pub(super) fn key_path(figment: &Figment, raw: &[String]) -> Vec<String> {
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

pub(super) fn with_section_hint(figment: &Figment, mut errors: ConfigErrors) -> ConfigErrors {
    if let Some(hint) = suggest_section(figment) {
        errors.0.insert(0, hint);
    }
    errors
}

/// A `[portcullus]`-like section next to a missing `[portcullis]` is almost certainly a typo.
pub(super) fn suggest_section(figment: &Figment) -> Option<ConfigError> {
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

pub(super) fn mask(key: &str, actual: &Actual) -> String {
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

pub(super) fn nearest<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    let normalized = field.replace('_', "-").to_ascii_lowercase();
    expected
        .iter()
        .map(|candidate| (levenshtein(&normalized, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

pub(super) fn levenshtein(a: &str, b: &str) -> usize {
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
