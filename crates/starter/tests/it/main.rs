//! The starter's layer, extractors and builder, against the in-process development issuer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use portcullis::dev::DevIssuer;
use portcullis::unstable::core::{BoxFuture, ScopeToken};
use portcullis::{
    AuthError, BearerToken, Portcullis, PortcullisConfig, Principal, TokenValidator, require_scopes,
};
use serde_json::json;
use tower::ServiceExt as _;

mod fast_path;

/// The listen address the tests declare for the development issuer (they serve with `oneshot`).
const LOOPBACK: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 3000);

async fn dev_portcullis(tweak: impl FnOnce(&mut PortcullisConfig)) -> (Portcullis, String) {
    let mut config = PortcullisConfig {
        audience: vec!["api://t".into()],
        ..Default::default()
    };
    tweak(&mut config);
    let portcullis = Portcullis::builder()
        .config(config)
        .dev_issuer_when_unconfigured(LOOPBACK)
        .build()
        .await
        .unwrap();
    let token = portcullis
        .dev_issuer()
        .unwrap()
        .mint("alice", &["a"], Duration::from_secs(60));
    (portcullis, token)
}

async fn call(
    app: &Router,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        challenge,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn who(principal: Option<Principal>) -> String {
    principal.map_or_else(
        || "anonymous".into(),
        |p| p.subject().unwrap_or("-").to_owned(),
    )
}

async fn strict(principal: Principal) -> String {
    principal.to_string()
}

#[tokio::test]
async fn option_principal_is_none_without_a_token_but_a_bad_token_is_still_refused() {
    let (portcullis, token) = dev_portcullis(|_| {}).await;
    let app = Router::new()
        .route("/who", get(who))
        .route("/strict", get(strict))
        .layer(portcullis.layer().allow_anonymous());
    assert_eq!(call(&app, "/who", None).await.2, "anonymous");
    assert_eq!(call(&app, "/who", Some(&token)).await.2, "alice");
    let (status, challenge, _) = call(&app, "/who", Some("not-a-jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains("invalid_token"));
    let (status, challenge, _) = call(&app, "/strict", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "Principal without a token is a bare 401"
    );
    assert_eq!(challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn extractors_and_requirements_outside_the_layer_are_a_500_not_a_pass() {
    let (portcullis, token) = dev_portcullis(|_| {}).await;
    let _ = portcullis;
    let app = Router::new()
        .route("/strict", get(strict))
        .route("/who", get(who))
        .merge(
            Router::new()
                .route("/scoped", get(|| async { "secret" }))
                .route_layer(require_scopes(["a"])),
        );
    for uri in ["/strict", "/who", "/scoped"] {
        let (status, _, body) = call(&app, uri, Some(&token)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert!(!body.contains("secret"), "{uri}");
        assert!(
            !body.contains("layer"),
            "the detail stays in the log: {body}"
        );
    }
}

#[tokio::test]
async fn scopes_are_required_by_the_route_layer() {
    let (portcullis, token) = dev_portcullis(|_| {}).await;
    let app = Router::new()
        .route("/a", get(strict))
        .route_layer(require_scopes(["a"]))
        .merge(
            Router::new()
                .route("/b", get(strict))
                .route_layer(require_scopes(["b", "a"])),
        )
        .layer(portcullis.layer());
    assert_eq!(call(&app, "/a", Some(&token)).await.0, StatusCode::OK);
    let (status, challenge, body) = call(&app, "/b", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"this resource needs all of the scope values b a\", scope=\"b a\""
        )
    );
    assert!(body.contains("insufficient_scope"));
}

#[tokio::test]
#[should_panic(expected = "not a valid scope token")]
async fn an_invalid_scope_literal_fails_at_router_construction() {
    let _ = require_scopes(["two words"]);
}

#[tokio::test]
async fn the_realm_appears_in_every_challenge() {
    let (portcullis, _) = dev_portcullis(|c| c.realm = Some("hello".into())).await;
    let app = Router::new()
        .route("/s", get(strict))
        .layer(portcullis.layer());
    assert_eq!(
        call(&app, "/s", None).await.1.as_deref(),
        Some("Bearer realm=\"hello\"")
    );
    assert!(
        call(&app, "/s", Some("x"))
            .await
            .1
            .unwrap()
            .starts_with("Bearer realm=\"hello\", error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn query_tokens_are_ignored_unless_enabled() {
    let (off, token) = dev_portcullis(|_| {}).await;
    let app = Router::new().route("/s", get(strict)).layer(off.layer());
    assert_eq!(
        call(&app, &format!("/s?access_token={token}"), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (on, token) = dev_portcullis(|c| c.token.allow_query_parameter = true).await;
    let app = Router::new().route("/s", get(strict)).layer(on.layer());
    assert_eq!(
        call(&app, &format!("/s?access_token={token}"), None)
            .await
            .0,
        StatusCode::OK
    );
}

struct FixedValidator;

impl TokenValidator for FixedValidator {
    fn validate<'a>(
        &'a self,
        token: &'a BearerToken,
        _request: &'a http::request::Parts,
    ) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(async move {
            if token.expose() == "let-me-in" {
                let claims = json!({"sub": "custom", "scope": "a"});
                Ok(Principal::from_validated_claims(
                    token.clone(),
                    claims.as_object().cloned().unwrap_or_default(),
                ))
            } else {
                Err(AuthError::invalid_token("not the magic word"))
            }
        })
    }
}

#[tokio::test]
async fn a_validator_the_user_supplies_replaces_the_configured_one() {
    // No issuer at all: the user's validator needs none.
    let config = PortcullisConfig {
        audience: vec!["api".into()],
        ..Default::default()
    };
    let portcullis = Portcullis::builder()
        .config(config)
        .validator(FixedValidator)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route("/s", get(strict))
        .layer(portcullis.layer());
    assert_eq!(call(&app, "/s", Some("let-me-in")).await.2, "custom");
    assert!(
        call(&app, "/s", Some("other"))
            .await
            .1
            .unwrap()
            .contains("not the magic word")
    );
}

#[tokio::test]
async fn without_an_issuer_the_build_fails_naming_the_key() {
    let config = PortcullisConfig {
        audience: vec!["api".into()],
        ..Default::default()
    };
    let error = Portcullis::builder()
        .config(config)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("portcullis.issuer"), "{error}");
    assert!(error.contains("PORTCULLIS_ISSUER"), "{error}");
}

#[tokio::test]
async fn without_an_issuer_the_error_says_how_to_set_one_or_ask_for_the_dev_issuer() {
    let error = Portcullis::builder()
        .config(PortcullisConfig {
            audience: vec!["api://t".into()],
            ..Default::default()
        })
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("PORTCULLIS_ISSUER"), "{error}");
    assert!(
        error.contains("dev-issuer") && error.contains("dev_issuer_when_unconfigured"),
        "{error}"
    );
}

#[tokio::test]
async fn the_dev_issuer_refuses_a_service_that_listens_beyond_loopback() {
    let build_on = |listen: &str| {
        Portcullis::builder()
            .config(PortcullisConfig {
                audience: vec!["api://t".into()],
                ..Default::default()
            })
            .dev_issuer_when_unconfigured(listen.parse().unwrap())
            .build()
    };
    for listen in ["0.0.0.0:3000", "192.0.2.10:8080", "[::]:3000"] {
        let error = build_on(listen).await.unwrap_err().to_string();
        assert!(
            error.contains("not a loopback address") && error.contains(listen),
            "{listen}: {error}"
        );
        assert!(error.contains("portcullis.issuer"), "{error}");
    }
    for listen in ["127.0.0.1:3000", "[::1]:3000"] {
        let portcullis = build_on(listen).await.unwrap();
        assert!(portcullis.dev_issuer().is_some(), "{listen}");
    }
}

#[tokio::test]
async fn a_get_rule_guards_head_through_a_real_router() {
    let (portcullis, token) = dev_portcullis(|c| {
        c.default_rule = portcullis::config::DefaultRule::PermitAll;
        c.rules = vec![portcullis::config::RuleConfig {
            path: "/x".into(),
            methods: Some(vec!["GET".into()]),
            scopes: Some(vec!["x:read".into()]),
            ..Default::default()
        }];
    })
    .await;
    let app = Router::new()
        .route(
            "/x",
            get(|| async { ([("x-secret", "header of the GET handler")], "body") }),
        )
        .layer(portcullis.layer());
    let head = |token: Option<&str>| {
        let mut request = Request::head("/x");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let response = head(None).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("x-secret").is_none());
    // A valid token without the scope: 403, as for GET.
    let response = head(Some(&token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("x-secret").is_none());
    assert_eq!(
        call(&app, "/x", Some(&token)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_dev_issuer_is_never_used_when_an_issuer_is_configured() {
    let dev = DevIssuer::start("api").await.unwrap();
    let config = PortcullisConfig {
        issuer: Some(dev.issuer().into()),
        audience: vec!["api".into()],
        ..Default::default()
    };
    let portcullis = Portcullis::builder()
        .config(config)
        .dev_issuer_when_unconfigured(LOOPBACK)
        .build()
        .await
        .unwrap();
    assert!(portcullis.dev_issuer().is_none());
    // The configured issuer's tokens work.
    let token = dev.mint("bob", &["a"], Duration::from_secs(60));
    let app = Router::new()
        .route("/s", get(strict))
        .layer(portcullis.layer());
    assert_eq!(call(&app, "/s", Some(&token)).await.2, "bob");
}

#[test]
fn scope_tokens_are_validated_in_const_context() {
    const CHECKED: () =
        assert!(ScopeToken::is_valid("hello:read") && !ScopeToken::is_valid("hello read"));
    let () = CHECKED;
}

#[test]
fn every_environment_variable_the_documents_name_is_one_the_service_accepts() {
    // Not configuration keys: read by the loader itself, or by the `portcullis` command only
    // (the service's loader ignores PORTCULLIS_CLI_*).
    const NOT_KEYS: [&str; 4] = [
        "PORTCULLIS_PROFILE",
        "PORTCULLIS_CONFIG_DIR",
        "PORTCULLIS_CLI_TOKEN",
        "PORTCULLIS_CLI_CLIENT_SECRET",
    ];
    let keys: Vec<String> = portcullis::LoadedConfig::from_config(PortcullisConfig::default())
        .entries()
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    let mut rejected = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("PORTCULLIS_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            if name.ends_with('_') || NOT_KEYS.contains(&name.as_str()) {
                continue; // a prefix such as `PORTCULLIS_*`
            }
            let key = format!(
                "portcullis.{}",
                name["PORTCULLIS_".len()..]
                    .to_ascii_lowercase()
                    .replace("__", ".")
                    .replace('_', "-")
            );
            checked += 1;
            if !keys.contains(&key) {
                rejected.push(format!("{} names {name} ({key})", document.display()));
            }
        }
    }
    assert!(
        checked > 50,
        "found only {checked} names: is the scan broken?"
    );
    assert!(
        rejected.is_empty(),
        "variables the service would refuse as unknown keys:\n{}",
        rejected.join("\n")
    );
}

/// The Markdown documents of the repository: README.md and everything under docs/.
fn documents() -> Vec<std::path::PathBuf> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut documents = vec![std::path::PathBuf::from(format!("{root}/README.md"))];
    let mut folders = vec![std::path::PathBuf::from(format!("{root}/docs"))];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                documents.push(path);
            }
        }
    }
    documents
}

#[test]
fn every_configuration_block_in_the_documents_loads() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            match &mut current {
                None if line.trim_start() == "```toml" => current = Some(String::new()),
                Some(block) if line.trim_start() == "```" => {
                    blocks.push(std::mem::take(block));
                    current = None;
                }
                Some(block) => {
                    block.push_str(line);
                    block.push('\n');
                }
                None => {}
            }
        }
        for (n, block) in blocks.iter().enumerate() {
            if !block.contains("[portcullis") {
                continue; // Cargo.toml snippets
            }
            checked += 1;
            let dir = std::env::temp_dir().join(format!(
                "portcullis-doc-block-{}-{}-{n}",
                std::process::id(),
                document.file_stem().unwrap().to_string_lossy()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("default.toml"), block).unwrap();
            if let Err(errors) = portcullis::ConfigLoader::new().dir(&dir).load_unchecked() {
                failures.push(format!(
                    "{} block {}: {errors}\n{block}",
                    document.display(),
                    n + 1
                ));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    assert!(
        checked > 20,
        "found only {checked} blocks: is the scan broken?"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn docs_configuration_lists_every_key_with_its_environment_name_and_nothing_else() {
    let mut keys: Vec<String> = portcullis::LoadedConfig::from_config(PortcullisConfig::default())
        .entries()
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    keys.sort();
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let mut documented = Vec::new();
    for line in doc.lines().filter(|l| l.starts_with("| `portcullis.")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let key = cells[1].trim_matches('`').to_owned();
        let env = cells[3].trim_matches('`');
        assert_eq!(
            env,
            portcullis::config::env_name(&key),
            "environment name of {key}"
        );
        documented.push(key);
    }
    documented.sort();
    assert_eq!(
        documented, keys,
        "docs/configuration.md and PortcullisConfig differ"
    );
}

#[test]
fn a_root_build_ships_no_test_authentication() {
    // `cargo build` at the root builds the default members; none of them may turn on the
    // starter's `testing` feature or pull in the test kit (normal and build edges: what a
    // binary links).
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = |workspace: bool| {
        let mut command = std::process::Command::new(&cargo);
        command.current_dir(root).args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal,build,features",
            "-i",
            "portcullis",
            "--prefix",
            "none",
        ]);
        if workspace {
            command.arg("--workspace");
        }
        let output = command.output().expect("cargo tree runs");
        assert!(
            output.status.success(),
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let root_build = tree(false);
    assert!(root_build.contains("hello-api"), "{root_build}");
    assert!(
        !root_build.contains("feature \"testing\"") && !root_build.contains("portcullis-test"),
        "a root build unifies the testing feature:\n{root_build}"
    );
    // The check can fail: the whole workspace (what `cargo test --workspace` builds) has it.
    assert!(tree(true).contains("portcullis feature \"testing\""));
}
