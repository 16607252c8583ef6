//! The fast path (`Pipeline::admit_verified`, a lookup of a verified token) must decide exactly
//! as the full path (`Pipeline::admit`) wherever it decides at all, and step aside everywhere
//! else. One table: each case is sent to both, after the token was verified once.

use http::Method;
use portcullis::config::RuleConfig;

use super::*;

struct Case {
    name: &'static str,
    method: Method,
    uri: &'static str,
    /// Raw `Authorization` values; `{t}` is replaced by the verified token.
    authorization: &'static [&'static str],
    /// Whether the fast path decides (accepts) this request.
    fast: bool,
    /// The full path's answer: `Ok(true)` a principal, `Ok(false)` anonymous, `Err(status)`.
    full: Result<bool, u16>,
    /// Sent to the service that also takes `access_token` from the query
    /// (`token.allow-query-parameter = true`).
    query_allowed: bool,
}

#[tokio::test]
async fn the_fast_path_decides_as_the_full_path_or_not_at_all() {
    let rule = |path: &str, edit: fn(&mut RuleConfig)| {
        let mut rule = RuleConfig {
            path: path.into(),
            ..Default::default()
        };
        edit(&mut rule);
        rule
    };
    let rules_config = || {
        vec![
            rule("/open", |r| r.permit_all = true),
            rule("/closed", |r| r.deny_all = true),
            rule("/needs-a", |r| r.scopes = Some(vec!["a".into()])),
            rule("/needs-b", |r| r.scopes = Some(vec!["b".into()])),
            rule("/any-a-or-b", |r| {
                r.any_scopes = Some(vec!["a".into(), "b".into()])
            }),
            rule("/admins", |r| {
                r.authorities = Some(vec!["ROLE_admin".into()])
            }),
            rule("/get-needs-b", |r| {
                r.methods = Some(vec!["GET".into()]);
                r.scopes = Some(vec!["b".into()]);
            }),
        ]
    };
    let mut services = Vec::new();
    for query_allowed in [false, true] {
        let (portcullis, _) = dev_portcullis(|config| {
            config.rules = rules_config();
            config.token.allow_query_parameter = query_allowed;
        })
        .await;
        services.push(portcullis);
    }
    // Each service has its own development issuer, so each gets its own token.
    let mut tokens = Vec::new();
    for portcullis in &services {
        let token = portcullis
            .dev_issuer()
            .unwrap()
            .mint("alice", &["a"], Duration::from_secs(60));
        // Verified once, by the full path: from here on the fast path knows the token.
        let pipeline = portcullis.pipeline();
        let warm = Request::get("/x")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap();
        let (parts, ()) = warm.into_parts();
        let rules = pipeline.rules().clone();
        assert!(pipeline.admit(&parts, &rules).await.unwrap().is_some());
        tokens.push(token);
    }

    let cases = [
        Case {
            name: "valid token, default rule",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer {t}"],
            fast: true,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "scheme in another case, two spaces (the fast path takes only `Bearer `)",
            method: Method::GET,
            uri: "/x",
            authorization: &["bEaReR  {t}"],
            fast: false,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "the scope the token has",
            method: Method::GET,
            uri: "/needs-a",
            authorization: &["Bearer {t}"],
            fast: true,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "one of the scopes",
            method: Method::POST,
            uri: "/any-a-or-b",
            authorization: &["Bearer {t}"],
            fast: true,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "a scope the token lacks",
            method: Method::GET,
            uri: "/needs-b",
            authorization: &["Bearer {t}"],
            fast: false,
            full: Err(403),
            query_allowed: false,
        },
        Case {
            name: "an authority the token lacks",
            method: Method::GET,
            uri: "/admins",
            authorization: &["Bearer {t}"],
            fast: false,
            full: Err(403),
            query_allowed: false,
        },
        Case {
            name: "HEAD under a GET rule it fails",
            method: Method::HEAD,
            uri: "/get-needs-b",
            authorization: &["Bearer {t}"],
            fast: false,
            full: Err(403),
            query_allowed: false,
        },
        Case {
            name: "POST outside the GET rule",
            method: Method::POST,
            uri: "/get-needs-b",
            authorization: &["Bearer {t}"],
            fast: true,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "permit-all with the token",
            method: Method::GET,
            uri: "/open",
            authorization: &["Bearer {t}"],
            fast: false,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "permit-all without a token",
            method: Method::GET,
            uri: "/open",
            authorization: &[],
            fast: false,
            full: Ok(false),
            query_allowed: false,
        },
        Case {
            name: "deny-all",
            method: Method::GET,
            uri: "/closed",
            authorization: &["Bearer {t}"],
            fast: false,
            full: Err(403),
            query_allowed: false,
        },
        Case {
            name: "no token",
            method: Method::GET,
            uri: "/x",
            authorization: &[],
            fast: false,
            full: Err(401),
            query_allowed: false,
        },
        Case {
            name: "two Authorization headers",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer {t}", "Bearer {t}"],
            fast: false,
            full: Err(400),
            query_allowed: false,
        },
        Case {
            name: "a query token where none is taken",
            method: Method::GET,
            uri: "/x?access_token=abc",
            authorization: &["Bearer {t}"],
            fast: true,
            full: Ok(true),
            query_allowed: false,
        },
        Case {
            name: "the token and a query token",
            method: Method::GET,
            uri: "/x?access_token=abc",
            authorization: &["Bearer {t}"],
            fast: false,
            full: Err(400),
            query_allowed: true,
        },
        Case {
            name: "the token in the query only",
            method: Method::GET,
            uri: "/x?access_token={t}",
            authorization: &[],
            fast: false,
            full: Ok(true),
            query_allowed: true,
        },
        Case {
            name: "the token in the header, query allowed",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer {t}"],
            fast: true,
            full: Ok(true),
            query_allowed: true,
        },
        Case {
            name: "a trailing comma",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer {t},"],
            fast: false,
            full: Err(400),
            query_allowed: false,
        },
        Case {
            name: "more words",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer {t} {t}"],
            fast: false,
            full: Err(400),
            query_allowed: false,
        },
        Case {
            name: "a tab after the scheme",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer\t{t}"],
            fast: false,
            full: Err(400),
            query_allowed: false,
        },
        Case {
            name: "another scheme",
            method: Method::GET,
            uri: "/x",
            authorization: &["DPoP {t}"],
            fast: false,
            full: Err(401),
            query_allowed: false,
        },
        Case {
            name: "the token with a byte changed",
            method: Method::GET,
            uri: "/x",
            authorization: &["Bearer {t}x"],
            fast: false,
            full: Err(401),
            query_allowed: false,
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let index = usize::from(case.query_allowed);
        let (pipeline, token) = (services[index].pipeline(), &tokens[index]);
        let rules = pipeline.rules().clone();
        let uri = case.uri.replace("{t}", token);
        let mut request = Request::builder().method(case.method.clone()).uri(uri);
        for value in case.authorization {
            request = request.header(header::AUTHORIZATION, value.replace("{t}", token));
        }
        let request = request.body(()).unwrap();
        let fast = pipeline.admit_verified(&request, &rules);
        let (parts, ()) = request.into_parts();
        let full = pipeline.admit(&parts, &rules).await;
        let full_seen = match &full {
            Ok(principal) => Ok(principal.is_some()),
            Err(error) => Err(error.status().as_u16()),
        };
        if fast.is_some() != case.fast || full_seen != case.full {
            failures.push(format!(
                "{}: fast {} (expected {}), full {full_seen:?} (expected {:?})",
                case.name,
                fast.is_some(),
                case.fast,
                case.full
            ));
        }
        // Where the fast path decides, it gives the full path's principal.
        if let (Some(fast), Ok(Some(full))) = (&fast, &full) {
            assert_eq!(fast.subject(), full.subject(), "{}", case.name);
            assert_eq!(fast.scopes(), full.scopes(), "{}", case.name);
            assert_eq!(fast.authorities(), full.authorities(), "{}", case.name);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
