//! Access rules from configuration (Spring's `authorizeHttpRequests`, in TOML):
//! `[[portcullis.rules]]` with a path pattern, optional methods and what the request needs.
//! First match wins; unmatched requests follow `default-rule`. Unparseable patterns and rules that
//! an earlier rule shadows are configuration errors at startup.

use http::Method;

use crate::config::{ConfigProblem, DefaultRule, RuleConfig};
use crate::scope::{Matching, ScopePolicy, Target};

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Nothing; a token, when sent, must still be valid.
    PermitAll,
    /// A valid token.
    Authenticated,
    /// A valid token satisfying the policy.
    Require(ScopePolicy),
    /// Refused to everyone (403).
    DenyAll,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}` or `*`: exactly one segment.
    One,
    /// `**`, last only: zero or more segments.
    Rest,
}

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

impl PathPattern {
    /// Parses `/orders/{id}/items/*`, `/admin/**`, `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or("a path pattern starts with /")?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let parts: Vec<&str> = rest.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let segment = match *part {
                    "" => return Err("empty segment (// or a trailing /)".into()),
                    "**" if i + 1 == parts.len() => Segment::Rest,
                    "**" => return Err("** may only be the last segment".into()),
                    "*" => Segment::One,
                    p if p.starts_with('{') && p.ends_with('}') => {
                        let name = &p[1..p.len() - 1];
                        if name.is_empty()
                            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        {
                            return Err(format!("`{p}` is not a {{name}} placeholder"));
                        }
                        Segment::One
                    }
                    p if p.contains(['{', '}', '*']) => {
                        return Err(format!(
                            "`{p}`: wildcards and placeholders take a whole segment"
                        ));
                    }
                    p => Segment::Literal(p.to_owned()),
                };
                segments.push(segment);
            }
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// Whether a request path matches.
    pub fn matches(&self, path: &str) -> bool {
        // Segments without empty ones (`//` and a trailing `/` do not count), without allocating:
        // this runs for every request.
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::One => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(l) => {
                    if parts.next() != Some(l.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }

    /// Whether every path `other` matches, this one matches too.
    pub fn covers(&self, other: &Self) -> bool {
        let mut theirs = other.segments.iter();
        for mine in &self.segments {
            let Some(their) = theirs.next() else {
                return *mine == Segment::Rest;
            };
            match (mine, their) {
                (Segment::Rest, _) => return true,
                (_, Segment::Rest) => return false,
                (Segment::One, _) => {}
                (Segment::Literal(a), Segment::Literal(b)) if a == b => {}
                _ => return false,
            }
        }
        theirs.next().is_none()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: PathPattern,
    methods: Option<Vec<Method>>,
    access: Access,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PermitAll => f.write_str("open to everyone (a token, when sent, must be valid)"),
            Self::Authenticated => f.write_str("needs a valid token"),
            // "this resource needs the scope x" → "needs the scope x"
            Self::Require(policy) => {
                let sentence = policy.describe();
                f.write_str(sentence.strip_prefix("this resource ").unwrap_or(&sentence))
            }
            Self::DenyAll => f.write_str("denied to everyone"),
        }
    }
}

/// Compiled rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    default: Access,
}

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
];

impl RuleSet {
    /// The scopes the rules require (for `scopes_supported`).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .map(|r| &r.access)
            .chain(std::iter::once(&self.default))
            .filter_map(|access| match access {
                Access::Require(policy) if policy.target() == crate::scope::Target::Scopes => {
                    Some(policy.items())
                }
                _ => None,
            })
            .flatten()
    }

    /// No rules; every request follows `default`.
    pub fn only(default: Access) -> Self {
        Self {
            rules: Vec::new(),
            default,
        }
    }

    /// Compiles the configured rules; every problem at once.
    pub fn compile(
        configs: &[RuleConfig],
        default: DefaultRule,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for (index, config) in configs.iter().enumerate() {
            let at = |what: &str| format!("[{index}] {what}");
            let pattern = match PathPattern::parse(&config.path) {
                Ok(p) => Some(p),
                Err(reason) => {
                    problems.push(ConfigProblem {
                        key: "rules",
                        value: at(&format!("path = {:?}", config.path)),
                        reason,
                    });
                    None
                }
            };
            let methods = match &config.methods {
                None => Some(None),
                Some(list) if list.is_empty() => {
                    problems.push(ConfigProblem {
                        key: "rules",
                        value: at("methods = []"),
                        reason: "list the methods, or leave methods out for all".into(),
                    });
                    None
                }
                Some(list) => {
                    let mut parsed = Vec::new();
                    for m in list {
                        let upper = m.to_ascii_uppercase();
                        if METHODS.contains(&upper.as_str()) {
                            parsed.extend(Method::from_bytes(upper.as_bytes()).ok());
                        } else {
                            problems.push(ConfigProblem {
                                key: "rules",
                                value: at(&format!("methods = {m:?}")),
                                reason: format!("not an HTTP method ({})", METHODS.join(", ")),
                            });
                        }
                    }
                    // axum (like HTTP itself, RFC 9110 §9.3.2) answers HEAD with the GET handler:
                    // a rule that guards GET guards HEAD too, or HEAD would read its headers freely.
                    if parsed.contains(&Method::GET) && !parsed.contains(&Method::HEAD) {
                        parsed.push(Method::HEAD);
                    }
                    Some(Some(parsed))
                }
            };
            let access = match access_of(config) {
                Ok(a) => Some(a),
                Err(reason) => {
                    problems.push(ConfigProblem {
                        key: "rules",
                        value: at(&format!("path = {:?}", config.path)),
                        reason,
                    });
                    None
                }
            };
            if let (Some(pattern), Some(methods), Some(access)) = (pattern, methods, access) {
                if let Some(earlier) = rules
                    .iter()
                    .position(|r| r.pattern.covers(&pattern) && methods_cover(&r.methods, &methods))
                {
                    problems.push(ConfigProblem { key: "rules", value: at(&format!("path = {:?}", config.path)), reason: format!(
                            "this rule can never match: rule [{earlier}] (path {:?}) comes first and covers it; first match wins, so put the narrower rule first",
                            rules[earlier].pattern.as_str()
                        ) });
                }
                rules.push(Rule {
                    pattern,
                    methods,
                    access,
                });
            }
        }
        let default = match default {
            DefaultRule::Authenticated => Access::Authenticated,
            DefaultRule::PermitAll => Access::PermitAll,
            DefaultRule::DenyAll => Access::DenyAll,
        };
        if problems.is_empty() {
            Ok(Self { rules, default })
        } else {
            Err(problems)
        }
    }

    /// What a request needs: the first matching rule's access, else the default.
    pub fn decide(&self, method: &Method, path: &str) -> &Access {
        self.rules
            .iter()
            .find(|r| {
                r.methods.as_ref().is_none_or(|m| m.contains(method)) && r.pattern.matches(path)
            })
            .map_or(&self.default, |r| &r.access)
    }

    /// Whether any rule is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Replaces the default (the layer's `allow_anonymous`).
    #[must_use]
    pub fn with_default(mut self, default: Access) -> Self {
        self.default = default;
        self
    }
}

fn methods_cover(earlier: &Option<Vec<Method>>, later: &Option<Vec<Method>>) -> bool {
    match (earlier, later) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(l)) => l.iter().all(|m| e.contains(m)),
    }
}

fn access_of(config: &RuleConfig) -> Result<Access, String> {
    let mut chosen = Vec::new();
    if config.permit_all {
        chosen.push(Access::PermitAll);
    }
    if config.authenticated {
        chosen.push(Access::Authenticated);
    }
    if config.deny_all {
        chosen.push(Access::DenyAll);
    }
    let lists = [
        (&config.scopes, Matching::All, Target::Scopes, "scopes"),
        (
            &config.any_scopes,
            Matching::Any,
            Target::Scopes,
            "any-scopes",
        ),
        (
            &config.authorities,
            Matching::All,
            Target::Authorities,
            "authorities",
        ),
        (
            &config.any_authorities,
            Matching::Any,
            Target::Authorities,
            "any-authorities",
        ),
    ];
    for (list, matching, target, key) in lists {
        if let Some(items) = list {
            if items.is_empty() {
                return Err(format!("{key} is empty; list what the path needs"));
            }
            let policy =
                ScopePolicy::new(matching, target, items).map_err(|e| format!("{key}: {e}"))?;
            chosen.push(Access::Require(policy));
        }
    }
    match chosen.len() {
        1 => Ok(chosen.remove(0)),
        0 => Err("say what the path needs: permit-all, authenticated, deny-all, scopes, any-scopes, authorities or any-authorities".into()),
        _ => Err("give one of permit-all, authenticated, deny-all, scopes, any-scopes, authorities, any-authorities".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, methods: Option<&[&str]>, scopes: &[&str]) -> RuleConfig {
        RuleConfig {
            path: path.into(),
            methods: methods.map(|m| m.iter().map(|s| (*s).to_owned()).collect()),
            scopes: (!scopes.is_empty()).then(|| scopes.iter().map(|s| (*s).to_owned()).collect()),
            permit_all: scopes.is_empty(),
            ..Default::default()
        }
    }

    #[test]
    fn patterns_match_segments_placeholders_and_rest() {
        let p = PathPattern::parse("/orders/{id}/items/*").unwrap();
        assert!(p.matches("/orders/7/items/3"));
        assert!(!p.matches("/orders/7/items"));
        assert!(!p.matches("/orders/7/items/3/x"));
        let rest = PathPattern::parse("/admin/**").unwrap();
        assert!(rest.matches("/admin") && rest.matches("/admin/a/b"));
        assert!(!rest.matches("/administrator"));
        assert!(PathPattern::parse("/").unwrap().matches("/"));
    }

    #[test]
    fn unparseable_patterns_are_refused_with_a_reason() {
        for bad in ["orders", "/a//b", "/a/**/b", "/a{b}", "/{}", "/a/"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_match_wins_and_methods_narrow() {
        let set = RuleSet::compile(
            &[
                rule("/orders/{id}", Some(&["POST"]), &["orders:write"]),
                rule("/orders/**", None, &["orders:read"]),
                rule("/health", None, &[]),
            ],
            DefaultRule::Authenticated,
        )
        .unwrap();
        let scope = |a: &Access| match a {
            Access::Require(p) => p.challenge_scope(),
            other => Some(format!("{other:?}")),
        };
        assert_eq!(
            scope(set.decide(&Method::POST, "/orders/1")).as_deref(),
            Some("orders:write")
        );
        assert_eq!(
            scope(set.decide(&Method::GET, "/orders/1")).as_deref(),
            Some("orders:read")
        );
        assert_eq!(set.decide(&Method::GET, "/health"), &Access::PermitAll);
        assert_eq!(set.decide(&Method::GET, "/other"), &Access::Authenticated);
    }

    #[test]
    fn a_get_rule_guards_head_too() {
        let set = RuleSet::compile(
            &[rule("/x", Some(&["GET"]), &["x:read"])],
            DefaultRule::PermitAll,
        )
        .unwrap();
        assert!(
            matches!(set.decide(&Method::HEAD, "/x"), Access::Require(_)),
            "HEAD is answered by the GET handler, so the GET rule must apply"
        );
        assert_eq!(set.decide(&Method::POST, "/x"), &Access::PermitAll);
    }

    #[test]
    fn a_shadowed_rule_is_a_configuration_error() {
        let problems = RuleSet::compile(
            &[
                rule("/orders/**", None, &["a"]),
                rule("/orders/{id}", Some(&["GET"]), &["b"]),
            ],
            DefaultRule::Authenticated,
        )
        .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].reason.contains("can never match"),
            "{problems:?}"
        );
        // A narrower method set first does not shadow a broader later rule.
        assert!(
            RuleSet::compile(
                &[
                    rule("/orders/**", Some(&["POST"]), &["a"]),
                    rule("/orders/{id}", None, &["b"])
                ],
                DefaultRule::Authenticated
            )
            .is_ok()
        );
    }

    #[test]
    fn a_rule_needs_exactly_one_action_and_valid_values() {
        let none = RuleConfig {
            path: "/a".into(),
            ..Default::default()
        };
        let two = RuleConfig {
            path: "/a".into(),
            permit_all: true,
            scopes: Some(vec!["x".into()]),
            ..Default::default()
        };
        let bad_scope = RuleConfig {
            path: "/a".into(),
            scopes: Some(vec!["two words".into()]),
            ..Default::default()
        };
        let bad_method = RuleConfig {
            path: "/a".into(),
            methods: Some(vec!["FETCH".into()]),
            permit_all: true,
            ..Default::default()
        };
        for config in [none, two, bad_scope, bad_method] {
            assert!(
                RuleSet::compile(std::slice::from_ref(&config), DefaultRule::Authenticated)
                    .is_err(),
                "{config:?}"
            );
        }
    }
}
