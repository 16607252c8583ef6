//! Where a value came from: the file and line, the environment variable, or the tool that set
//! it.

#[allow(
    unused_imports,
    reason = "the parent module's imports, as each part needs them"
)]
use super::*;

/// Values set in code by a tool, above every other source.
pub(super) struct Overrides(pub(super) Vec<(String, serde_json::Value)>);

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

pub(super) fn describe_source(metadata: &Metadata, key: &str) -> String {
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

pub(super) fn display_path(path: &Path) -> String {
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
pub(super) fn find_line(path: &Path, key: &str) -> Option<usize> {
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
