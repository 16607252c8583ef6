//! `[[portcullis.rules]]` and `default-rule`: access rules as data (compiled by
//! [`crate::rules::RuleSet::compile`], which also reports their problems).

use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "each section uses some")]
use super::{PortcullisConfig, check_endpoint, duration, one_or_many};

/// `[[portcullis.rules]]`: one access rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleConfig {
    /// Path pattern: literal segments, `{name}` or `*` for one segment, `**` as the last segment
    /// for any rest.
    pub path: String,
    /// HTTP methods the rule covers; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// No token needed (a bad token is still refused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permit_all: bool,
    /// Any valid token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authenticated: bool,
    /// Refused to everyone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny_all: bool,
    /// All of these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// One of these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_scopes: Option<Vec<String>>,
    /// All of these authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities: Option<Vec<String>>,
    /// One of these authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_authorities: Option<Vec<String>>,
}

/// What requests no rule matches need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultRule {
    /// A valid token.
    #[default]
    Authenticated,
    /// Nothing (a bad token is still refused).
    PermitAll,
    /// Refused to everyone.
    DenyAll,
}

/// The problems `RuleSet::compile` finds, as configuration problems.
pub(super) fn check(
    rules: &[RuleConfig],
    default_rule: DefaultRule,
    problem: &mut impl FnMut(&'static str, String, String),
) {
    if let Err(rule_problems) = crate::rules::RuleSet::compile(rules, default_rule) {
        for p in rule_problems {
            problem(p.key, p.value, p.reason);
        }
    }
}
