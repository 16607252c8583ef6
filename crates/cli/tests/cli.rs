//! The `portcullis` command, run as a user runs it, against the real test IdP
//! and the development issuer: output, `--json` and exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests: a failure stops the test with its message"
)]

use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_e2e::{AUDIENCE, Idp, Kit, decode_part};

/// hello-api's client secret at the test IdP.
const IDP_CLIENT_SECRET: &str = "hello-secret";
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Runs the command off the async runtime (it has its own).
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .env_remove("PORTCULLIS_PROFILE")
            .output()
            .expect("the portcullis binary runs")
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

/// A fresh configuration directory holding `default.toml`.
fn config_dir(toml: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "portcullis-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("default.toml"), toml).unwrap();
    dir
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn idp_config(idp: &Idp, mode: &str) -> PathBuf {
    config_dir(&format!(
        r#"[portcullis]
issuer = "{}"
audience = "{AUDIENCE}"
mode = "{mode}"

[portcullis.introspection]
client-id = "hello-api"
client-secret = "hello-secret"
"#,
        idp.issuer
    ))
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report}"))
}

#[tokio::test]
async fn inspect_accepts_a_valid_token_of_the_real_idp_and_shows_every_step() {
    let idp = Idp::start().await;
    let dir = idp_config(&idp, "jwt");
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::JWT.hello))
        .await
        .access_token;
    let dir_arg = dir.display().to_string();
    let output = run(args(&["inspect", &token, "--config-dir", &dir_arg])).await;
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("✓ key and signature"), "{text}");
    assert!(text.contains("accepted"), "{text}");
    assert!(!text.contains(&token), "the token is not echoed");

    let output = run(args(&[
        "inspect",
        &token,
        "--config-dir",
        &dir_arg,
        "--json",
    ]))
    .await;
    let report = json(&output);
    assert_eq!(report["verdict"]["accepted"], true);
    assert_eq!(report["verdict"]["subject"], "alice");
    for name in ["key and signature", "expiry (exp)", "audience (aud)"] {
        assert_eq!(step(&report, name)["status"], "passed", "{name}");
    }
}

#[tokio::test]
async fn inspect_says_why_an_id_token_and_a_forged_token_are_refused() {
    let idp = Idp::start().await;
    let dir = idp_config(&idp, "jwt").display().to_string();
    let tokens = idp
        .user_token("alice", "openid hello:read", Some(Kit::JWT.hello))
        .await;
    let id_token = tokens.id_token.unwrap();
    let output = run(args(&[
        "inspect",
        &id_token,
        "--config-dir",
        &dir,
        "--json",
    ]))
    .await;
    assert_eq!(code(&output), 1);
    let report = json(&output);
    assert_eq!(report["verdict"]["status"], 401);
    assert!(
        report["verdict"]["description"]
            .as_str()
            .unwrap()
            .contains("ID token"),
        "{report}"
    );

    let access = tokens.access_token;
    let forged = format!("{}AAAA", &access[..access.len() - 4]);
    let output = run(args(&["inspect", &forged, "--config-dir", &dir, "--json"])).await;
    assert_eq!(code(&output), 1);
    let report = json(&output);
    assert_eq!(report["verdict"]["reason"], "bad_signature");
    let signature = step(&report, "key and signature");
    assert_eq!(signature["status"], "failed");
    // The claims are still checked (and marked unverified), so one run shows every problem.
    assert_eq!(step(&report, "audience (aud)")["status"], "passed");
}

#[tokio::test]
async fn inspect_reports_several_claim_problems_of_one_token() {
    // Signed with the real IdP's own key: expired two minutes ago, for another audience.
    let idp = Idp::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = idp.sign_rs256(
        &serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": idp.keys()["rsa"]["jwk"]["kid"]}),
        &serde_json::json!({"iss": idp.issuer, "aud": "api://elsewhere", "sub": "alice",
            "client_id": "portcullis-test", "iat": now - 600, "exp": now - 120}),
    );
    let dir = config_dir("[portcullis]\n").display().to_string();
    let output = run(args(&[
        "inspect",
        &format!("Bearer {token}"),
        "--config-dir",
        &dir,
        "--issuer",
        &idp.issuer,
        "--audience",
        "api://test",
        "--json",
    ]))
    .await;
    assert_eq!(code(&output), 1, "{}", stdout(&output));
    let report = json(&output);
    assert_eq!(report["verdict"]["reason"], "expired");
    assert_eq!(step(&report, "expiry (exp)")["status"], "failed");
    assert_eq!(step(&report, "audience (aud)")["status"], "failed");
    assert_eq!(step(&report, "key and signature")["status"], "passed");
}

#[tokio::test]
async fn overrides_on_the_command_line_keep_the_rest_of_the_configuration() {
    // The file names no issuer (so alone it is incomplete) but holds a rule; the command line
    // adds issuer and audience, and the rule still applies.
    let idp = Idp::start().await;
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::JWT.hello))
        .await
        .access_token;
    let dir =
        config_dir("[portcullis]\n\n[[portcullis.rules]]\npath = \"/admin/**\"\ndeny-all = true\n")
            .display()
            .to_string();
    let common = [
        "--config-dir",
        &dir,
        "--issuer",
        &idp.issuer,
        "--audience",
        AUDIENCE,
        "--json",
    ];
    let at = |path: &str| {
        let mut list = vec!["inspect", &token, "--path", path];
        list.extend(common);
        args(&list)
    };
    let open = run(at("/orders")).await;
    assert_eq!(code(&open), 0, "{}", stdout(&open));
    let denied = run(at("/admin/users")).await;
    assert_eq!(code(&denied), 1, "{}", stdout(&denied));
    assert_eq!(json(&denied)["verdict"]["status"], 403);

    // Accepted, and the verdict says what it could not see, with the principal to compare.
    assert_eq!(
        json(&open)["verdict"]["scopes"],
        serde_json::json!(["hello:read"])
    );
    assert!(
        json(&open)["verdict"]["not_checked"]
            .as_str()
            .unwrap()
            .contains("#[requires_scopes]"),
        "{}",
        stdout(&open)
    );
    // A route that needs orders:write in code: named with --require-scope, it is checked as the
    // route would check it, and the verdict agrees with the service (403).
    let mut needs = at("/orders");
    needs.extend(args(&["--require-scope", "orders:write"]));
    let forbidden = run(needs).await;
    assert_eq!(code(&forbidden), 1, "{}", stdout(&forbidden));
    assert_eq!(json(&forbidden)["verdict"]["status"], 403);
    assert_eq!(json(&forbidden)["verdict"]["reason"], "insufficient_scope");
    let mut has = at("/orders");
    has.extend(args(&["--require-scope", "hello:read"]));
    assert_eq!(code(&run(has).await), 0);

    let bad_mode = run(args(&["inspect", &token, "--mode", "jwtt"])).await;
    assert_eq!(code(&bad_mode), 2, "a bad --mode is a usage error");
}

#[tokio::test]
async fn inspect_introspects_opaque_tokens_and_exits_4_when_the_idp_is_down() {
    let mut idp = Idp::start().await;
    let dir = idp_config(&idp, "introspect").display().to_string();
    let token = idp
        .user_token("bob", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    let output = run(args(&["inspect", &token, "--config-dir", &dir, "--json"])).await;
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let report = json(&output);
    assert_eq!(step(&report, "introspection call")["status"], "passed");
    assert_eq!(report["verdict"]["subject"], "bob");

    idp.stop().await;
    let output = run(args(&["inspect", &token, "--config-dir", &dir])).await;
    assert_eq!(code(&output), 4, "{}", stdout(&output));
    assert!(
        stdout(&output).contains("refused: 503"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn discover_lists_metadata_and_keys_and_checks_client_credentials() {
    let idp = Idp::start().await;
    let output = run(args(&["discover", &idp.issuer, "--json"])).await;
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let report = json(&output);
    assert_eq!(report["metadata"]["issuer"], idp.issuer.as_str());
    let keys = report["keys"]["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["usable"] == true), "{report}");

    let good = run(args(&[
        "discover",
        &idp.issuer,
        "--client-id",
        "hello-api",
        "--client-secret",
        "hello-secret",
    ]))
    .await;
    assert_eq!(code(&good), 0, "{}", stdout(&good));
    assert!(
        stdout(&good).contains("✓ introspection"),
        "{}",
        stdout(&good)
    );

    let bad = run(args(&[
        "discover",
        &idp.issuer,
        "--client-id",
        "hello-api",
        "--client-secret",
        "wrong",
        "--json",
    ]))
    .await;
    assert_eq!(code(&bad), 1, "{}", stdout(&bad));
    let report = json(&bad);
    let detail = step(&report, "introspection")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.contains("refused our client credentials"),
        "{detail}"
    );
    assert!(
        !detail.contains("wrong"),
        "the secret is not shown: {detail}"
    );
    // Without an issuer argument: the service's issuer and introspection client, with the
    // secret in the variable the service itself reads.
    let service_dir = config_dir(&format!(
        "[portcullis]\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\n\n[portcullis.introspection]\nclient-id = \"hello-api\"\n",
        idp.issuer
    ))
    .display()
    .to_string();
    let configured = run_with(
        args(&["discover", "--config-dir", &service_dir]),
        &[("PORTCULLIS_INTROSPECTION__CLIENT_SECRET", IDP_CLIENT_SECRET)],
        "",
    )
    .await;
    assert_eq!(code(&configured), 0, "{}", stdout(&configured));
    assert!(
        stdout(&configured).contains("✓ introspection"),
        "{}",
        stdout(&configured)
    );
    assert!(
        stdout(&configured).contains("client hello-api"),
        "{}",
        stdout(&configured)
    );
    // A typo in that configuration is reported as the service reports it: key, file and line.
    let typo = config_dir(&format!("[portcullis]\nisuer = \"{}\"\n", idp.issuer))
        .display()
        .to_string();
    let broken = run(args(&["discover", "--config-dir", &typo])).await;
    assert_eq!(code(&broken), 3, "{}", stdout(&broken));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("portcullis.isuer") && stderr.contains("default.toml:2"),
        "{stderr}"
    );

    // One reason and one status for refused credentials, as the service gives them.
    assert_eq!(
        step(&report, "introspection")["reason"],
        "credentials_refused"
    );
    assert_eq!(step(&report, "introspection")["status_code"], 503);

    // inspect, with the same wrong secret in the service's configuration: the service's 503
    // verdict and reason, and the configuration's exit code (3), not "unreachable" (4).
    let dir = config_dir(&format!(
        "[portcullis]\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\nmode = \"introspect\"\n\n[portcullis.introspection]\nclient-id = \"hello-api\"\nclient-secret = \"wrong\"\n",
        idp.issuer
    ))
    .display()
    .to_string();
    let token = idp
        .user_token("bob", "hello:read", Some(Kit::INTROSPECT.hello))
        .await
        .access_token;
    let output = run(args(&["inspect", &token, "--config-dir", &dir, "--json"])).await;
    assert_eq!(code(&output), 3, "{}", stdout(&output));
    let report = json(&output);
    assert_eq!(report["verdict"]["status"], 503, "{report}");
    assert_eq!(
        report["verdict"]["reason"], "credentials_refused",
        "{report}"
    );
}

#[tokio::test]
async fn discover_exits_4_for_an_unreachable_issuer_and_2_for_a_bad_one() {
    // A port this test bound and released: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = run(args(&["discover", &format!("http://127.0.0.1:{port}")])).await;
    assert_eq!(code(&unreachable), 4, "{}", stdout(&unreachable));
    let plain_http = run(args(&["discover", "http://idp.example.com"])).await;
    assert_eq!(code(&plain_http), 2);
}

#[tokio::test]
async fn config_prints_each_value_with_its_source_and_masks_secrets() {
    let dir = config_dir(
        r#"[portcullis]
issuer = "https://idp.example.com"
audience = "api://orders"

[portcullis.introspection]
client-id = "orders"
client-secret = "do-not-print-me"
"#,
    );
    let dir_arg = dir.display().to_string();
    let output = run(args(&["config", "--config-dir", &dir_arg, "--json"])).await;
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let report = json(&output);
    let entry = |key: &str| {
        report["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .clone()
    };
    assert_eq!(
        entry("portcullis.issuer")["value"],
        "https://idp.example.com"
    );
    assert!(
        entry("portcullis.issuer")["source"]
            .as_str()
            .unwrap()
            .ends_with("default.toml:2"),
        "{report}"
    );
    assert_eq!(entry("portcullis.mode")["source"], "default");
    assert_eq!(
        entry("portcullis.introspection.client-secret")["value"],
        "***"
    );
    assert!(!stdout(&output).contains("do-not-print-me"));
    // An unset key whose default is not a value says what is in effect.
    let resource = entry("portcullis.resource-metadata.resource");
    assert_eq!(resource["value"], serde_json::Value::Null);
    assert_eq!(
        resource["source"],
        "default: the origin each request reached, http://{Host} for a loopback host, https://{Host} otherwise",
        "{report}"
    );
    let text = run(args(&["config", "--config-dir", &dir_arg])).await;
    assert!(
        stdout(&text)
            .lines()
            .any(|l| l.starts_with("portcullis.resource-metadata.resource ")
                && l.contains("(default: the origin each request reached")),
        "{}",
        stdout(&text)
    );
}

#[tokio::test]
async fn config_exits_3_and_names_the_key_and_line_of_a_bad_value() {
    let dir = config_dir(
        "[portcullis]\nissuer = \"https://idp.example.com\"\naudience = \"a\"\nmode = \"jwtt\"\n",
    );
    let output = run(args(&[
        "config",
        "--config-dir",
        &dir.display().to_string(),
    ]))
    .await;
    assert_eq!(code(&output), 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("portcullis.mode"), "{stderr}");
    assert!(stderr.contains("default.toml:4"), "{stderr}");
}

#[tokio::test]
async fn mint_gets_a_token_from_the_development_issuer_that_inspect_accepts() {
    let dev = portcullis::dev::DevIssuer::start("api://hello")
        .await
        .unwrap();
    let output = run(args(&[
        "mint",
        "--issuer",
        dev.issuer(),
        "--subject",
        "carol",
        "--scope",
        "hello:read",
        "--claim",
        "roles=[\"admin\"]",
    ]))
    .await;
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = stdout(&output).trim().to_owned();
    let claims = decode_part(token.split('.').nth(1).expect("a JWT"));
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["scope"], "hello:read");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));

    let dir = config_dir("[portcullis]\n").display().to_string();
    let output = run(args(&[
        "inspect",
        &token,
        "--config-dir",
        &dir,
        "--issuer",
        dev.issuer(),
        "--audience",
        "api://hello",
    ]))
    .await;
    assert_eq!(code(&output), 0, "{}", stdout(&output));

    let remote = run(args(&["mint", "--issuer", "https://idp.example.com"])).await;
    assert_eq!(code(&remote), 2);
}

/// Runs the command with extra environment variables and `input` on standard input.
async fn run_with(args: Vec<String>, env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write as _;
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(BIN)
            .args(&args)
            .env_remove("PORTCULLIS_PROFILE")
            .env_remove("PORTCULLIS_CLI_TOKEN")
            .env_remove("PORTCULLIS_CLI_CLIENT_SECRET")
            .envs(env)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the portcullis binary runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn tokens_and_client_secrets_can_stay_out_of_the_process_list() {
    let idp = Idp::start().await;
    let token = idp
        .user_token("alice", "hello:read", Some(Kit::JWT.hello))
        .await
        .access_token;
    let dir = config_dir(&format!(
        "[portcullis]\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\n",
        idp.issuer
    ))
    .display()
    .to_string();
    let inspect = |token_argument: Option<&str>| {
        let mut list = vec!["inspect"];
        list.extend(token_argument);
        list.extend(["--config-dir", &dir, "--json"]);
        args(&list)
    };
    // The token from standard input.
    let from_stdin = run_with(inspect(Some("-")), &[], &format!("Bearer {token}\n")).await;
    assert_eq!(code(&from_stdin), 0, "{}", stdout(&from_stdin));
    // The token from PORTCULLIS_CLI_TOKEN, no argument.
    let from_env = run_with(inspect(None), &[("PORTCULLIS_CLI_TOKEN", &token)], "").await;
    assert_eq!(code(&from_env), 0, "{}", stdout(&from_env));
    assert!(!stdout(&from_env).contains(&token), "never printed back");
    // A token that begins with `-` (one opaque token in 64 does) is the token, not an option: a
    // verdict (refused, exit 1), not a usage error (2).
    let hyphen = run_with(inspect(Some("-Yq3kfa9Zx_QeW1")), &[], "").await;
    assert_eq!(
        code(&hyphen),
        1,
        "{}{}",
        stdout(&hyphen),
        String::from_utf8_lossy(&hyphen.stderr)
    );
    assert_eq!(
        json(&hyphen)["verdict"]["status"],
        401,
        "{}",
        stdout(&hyphen)
    );
    // Neither: a usage error that says where a token can come from.
    let none = run_with(inspect(None), &[], "").await;
    assert_eq!(code(&none), 2);
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("PORTCULLIS_CLI_TOKEN"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );

    // The client secret from standard input, then from PORTCULLIS_CLI_CLIENT_SECRET: both reach the
    // introspection check at the real IdP (it knows hello-api's secret).
    let discover = |secret: Option<&str>| {
        let mut list = vec!["discover", &idp.issuer, "--client-id", "hello-api"];
        if let Some(secret) = secret {
            list.extend(["--client-secret", secret]);
        }
        args(&list)
    };
    for (output, how) in [
        (
            run_with(discover(Some("-")), &[], IDP_CLIENT_SECRET).await,
            "stdin",
        ),
        (
            run_with(
                discover(None),
                &[("PORTCULLIS_CLI_CLIENT_SECRET", IDP_CLIENT_SECRET)],
                "",
            )
            .await,
            "environment",
        ),
    ] {
        assert_eq!(code(&output), 0, "{how}: {}", stdout(&output));
        assert!(
            stdout(&output).contains("✓ introspection"),
            "{how}: {}",
            stdout(&output)
        );
        assert!(!stdout(&output).contains(IDP_CLIENT_SECRET));
    }
    let wrong = run_with(discover(Some("-")), &[], "not-the-secret\n").await;
    assert_eq!(code(&wrong), 1, "{}", stdout(&wrong));
}
