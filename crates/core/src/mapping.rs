//! Where scopes and authorities come from: `[portcullis.claims]`.
//!
//! Scopes are read from the claims named in `claims.scopes` (default `scope` and `scp`; each a
//! space-delimited string, as the RFCs and Entra ID send it, or an array, as Okta sends `scp`).
//! Authorities (roles, groups) are read from any claim path, with an optional prefix:
//! `roles`, `groups`, Keycloak's `realm_access.roles` and `resource_access.<client>.roles`. A
//! claim whose whole name is the path is taken first, so namespaced claims with dots in their
//! name (Auth0's `https://example.com/roles`) are addressed as written.
//!
//! Only a **string** claim is split on spaces (the RFC 6749 §3.3 shape). An **array** element is
//! taken whole: a group named `"not admin"` is the authority `not admin`, never `not` and
//! `admin`, and an array element that is not one valid scope token grants no scope.

use serde_json::Value;

use crate::config::ClaimsConfig;
use crate::principal::{Claims, Principal};
use crate::scope::{ScopeToken, Scopes};
use crate::secret::BearerToken;

/// One source of authorities.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AuthoritySource {
    /// The path as written: a claim of exactly this name is taken first (a namespaced claim
    /// such as `https://example.com/roles` has dots in its name).
    name: String,
    path: Vec<String>,
    prefix: String,
}

/// Turns validated claims into a [`Principal`]; every validator uses one, so the principal has
/// the same shape whichever validator made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    scope_claims: Vec<String>,
    authorities: Vec<AuthoritySource>,
    client_id_as_subject: bool,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self::from_config(&ClaimsConfig::default())
    }
}

impl ClaimMapping {
    /// From `[portcullis.claims]`.
    pub fn from_config(config: &ClaimsConfig) -> Self {
        Self {
            scope_claims: config.scopes.clone(),
            authorities: config
                .authorities
                .iter()
                .map(|a| AuthoritySource {
                    name: a.path.clone(),
                    path: a.path.split('.').map(str::to_owned).collect(),
                    prefix: a.prefix.clone(),
                })
                .collect(),
            client_id_as_subject: config.client_id_as_subject,
        }
    }

    /// The principal for validated claims.
    pub fn principal(&self, token: BearerToken, claims: Claims) -> Principal {
        let mut scopes = Scopes::empty();
        for name in &self.scope_claims {
            for_each_item(claims.get(name), |item| {
                if let Ok(scope) = ScopeToken::new(item) {
                    scopes.extend([scope]);
                }
            });
        }
        let mut authorities: Vec<String> = Vec::new();
        for source in &self.authorities {
            let (first, rest) = source
                .path
                .split_first()
                .map_or((None, &[][..]), |(f, r)| (Some(f), r));
            let node = match claims.get(&source.name) {
                Some(whole) => Some(whole),
                None => {
                    let mut node = first.and_then(|f| claims.get(f));
                    for segment in rest {
                        node = node.and_then(|v| v.get(segment));
                    }
                    node
                }
            };
            for_each_item(node, |item| {
                if item.is_empty() {
                    return;
                }
                let authority = format!("{}{item}", source.prefix);
                if !authorities.contains(&authority) {
                    authorities.push(authority);
                }
            });
        }
        Principal::from_mapped(
            token,
            claims,
            scopes,
            authorities,
            self.client_id_as_subject,
        )
    }
}

/// Calls `each` for the items of a claim: a string is space-delimited (RFC 6749 §3.3), so each
/// word is an item; an array's string elements are items whole (a name with a space in it stays
/// one name); anything else has no items.
fn for_each_item<'a>(value: Option<&'a Value>, each: impl FnMut(&'a str)) {
    match value {
        Some(Value::String(s)) => s.split(' ').for_each(each),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(each),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthorityClaim;
    use serde_json::json;

    fn map(config: &ClaimsConfig, claims: Value) -> Principal {
        ClaimMapping::from_config(config)
            .principal(BearerToken::new("t"), claims.as_object().unwrap().clone())
    }

    #[test]
    fn scopes_come_from_scope_and_scp_as_string_or_array() {
        let p = map(
            &ClaimsConfig::default(),
            json!({"scope": "a b", "scp": ["c"]}),
        );
        assert_eq!(p.scopes().to_string(), "a b c");
        let entra = map(&ClaimsConfig::default(), json!({"scp": "x y"}));
        assert_eq!(entra.scopes().to_string(), "x y");
    }

    #[test]
    fn authorities_come_from_any_claim_path_with_a_prefix() {
        let config = ClaimsConfig {
            scopes: vec!["scope".into()],
            authorities: vec![
                AuthorityClaim {
                    path: "realm_access.roles".into(),
                    prefix: "ROLE_".into(),
                },
                AuthorityClaim {
                    path: "resource_access.orders-api.roles".into(),
                    prefix: "ORDERS_".into(),
                },
                AuthorityClaim {
                    path: "groups".into(),
                    prefix: String::new(),
                },
            ],
            ..Default::default()
        };
        let p = map(
            &config,
            json!({
                "scope": "a",
                "scp": ["ignored"],
                "realm_access": {"roles": ["admin", "user"]},
                "resource_access": {"orders-api": {"roles": ["writer"]}, "other": {"roles": ["x"]}},
                "groups": "staff"
            }),
        );
        assert_eq!(
            p.scopes().to_string(),
            "a",
            "only the configured scope claims"
        );
        assert_eq!(
            p.authorities(),
            ["ROLE_admin", "ROLE_user", "ORDERS_writer", "staff"]
        );
        assert!(p.has_authority("ROLE_admin"));
        assert!(!p.has_authority("admin"));
    }

    #[test]
    fn array_elements_are_taken_whole_and_strings_are_split() {
        let config = ClaimsConfig {
            scopes: vec!["scope".into(), "scp".into()],
            authorities: vec![
                AuthorityClaim {
                    path: "groups".into(),
                    prefix: "ROLE_".into(),
                },
                AuthorityClaim {
                    path: "roles".into(),
                    prefix: String::new(),
                },
            ],
            ..Default::default()
        };
        let p = map(
            &config,
            json!({
                "groups": ["not admin", "Sales Team"],
                "roles": "reader writer",
                "scope": "a b",
                "scp": ["orders:read orders:write", "c"]
            }),
        );
        assert_eq!(
            p.authorities(),
            ["ROLE_not admin", "ROLE_Sales Team", "reader", "writer"]
        );
        assert!(
            !p.has_authority("ROLE_admin"),
            "a group named `not admin` is not `admin`"
        );
        assert!(!p.has_authority("ROLE_not"));
        assert_eq!(
            p.scopes().to_string(),
            "a b c",
            "an array element with a space is not a scope token and grants nothing"
        );
    }

    #[test]
    fn a_namespaced_claim_with_dots_in_its_name_is_addressed_as_written() {
        let config = ClaimsConfig {
            authorities: vec![AuthorityClaim {
                path: "https://example.com/roles".into(),
                prefix: "ROLE_".into(),
            }],
            ..Default::default()
        };
        // Auth0 drops custom claims named `roles`; an Action adds a namespaced one.
        let p = map(
            &config,
            json!({"https://example.com/roles": ["admin"], "https://example": {"com/roles": ["x"]}}),
        );
        assert_eq!(p.authorities(), ["ROLE_admin"]);
        // Without such a claim the dotted path is walked as before.
        let nested = ClaimsConfig {
            authorities: vec![AuthorityClaim {
                path: "realm_access.roles".into(),
                prefix: String::new(),
            }],
            ..Default::default()
        };
        let p = map(&nested, json!({"realm_access": {"roles": ["user"]}}));
        assert_eq!(p.authorities(), ["user"]);
    }

    #[test]
    fn missing_or_odd_claims_give_nothing_not_an_error() {
        let config = ClaimsConfig {
            scopes: vec!["scope".into()],
            authorities: vec![AuthorityClaim {
                path: "realm_access.roles".into(),
                prefix: String::new(),
            }],
            ..Default::default()
        };
        let p = map(&config, json!({"scope": 5, "realm_access": "nope"}));
        assert!(p.scopes().is_empty());
        assert!(p.authorities().is_empty());
    }

    #[test]
    fn the_client_id_stands_in_for_a_missing_subject_only_when_asked() {
        let machine = json!({"client_id": "billing", "scope": "a"});
        assert_eq!(
            map(&ClaimsConfig::default(), machine.clone()).subject(),
            None
        );
        let asked = ClaimsConfig {
            client_id_as_subject: true,
            ..Default::default()
        };
        assert_eq!(map(&asked, machine).subject(), Some("billing"));
        // A real `sub` always wins.
        let user = json!({"sub": "alice", "client_id": "web"});
        assert_eq!(map(&asked, user).subject(), Some("alice"));
    }
}
