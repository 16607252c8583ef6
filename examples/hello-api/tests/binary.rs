//! The hello-api binary as the README runs it: zero configuration on loopback starts the
//! development issuer; no issuer on a public address refuses to start.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests: a failure stops the test with its message"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root: `config/default.toml` there leaves the issuer unset, as in the README.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn hello_api(addr: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hello-api"));
    command
        .current_dir(ROOT)
        .env("ADDR", addr)
        .env("RUST_LOG", "info")
        .env_remove("PORTCULLIS_ISSUER")
        .env_remove("PORTCULLIS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Kills the server when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str, token: Option<&str>) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\n{authorization}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn with_zero_configuration_on_loopback_it_serves_with_the_development_issuer() {
    let mut server = Running(hello_api("127.0.0.1:0").spawn().unwrap());
    let stdout = BufReader::new(server.0.stdout.take().unwrap());
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut curl = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.starts_with("curl ") {
            curl = Some(line);
            break;
        }
        seen.push(line);
        assert!(started.elapsed() < Duration::from_secs(60), "{seen:#?}");
    }
    let curl = curl.unwrap_or_else(|| panic!("no curl line printed; output: {seen:#?}"));
    assert!(
        seen.iter().any(|l| l.contains("DEVELOPMENT issuer")),
        "the warning is logged: {seen:#?}"
    );
    // curl -H 'Authorization: Bearer <token>' http://127.0.0.1:<port>/hello
    let token = curl
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap();
    let url = curl.rsplit(' ').next().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.contains(":0/"),
        "{url}"
    );
    let response = get(url, Some(token));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("dev-user"), "{response}");
    let refused = get(url, Some("not-a-token"));
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

    // RFC 9728 with zero configuration: the challenge names this service's own metadata, which
    // the service serves without a token and which names the development issuer.
    let origin = url.strip_suffix("/hello").unwrap();
    let metadata_url = format!("{origin}/.well-known/oauth-protected-resource");
    assert!(
        refused.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{refused}"
    );
    let document = get(&metadata_url, None);
    assert!(document.starts_with("HTTP/1.1 200"), "{document}");
    let body = document.split("\r\n\r\n").nth(1).unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["resource"], origin, "{body}");
    let issuer = seen
        .iter()
        .find_map(|l| l.split("DEVELOPMENT issuer at ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the issuer is logged: {seen:#?}"));
    assert_eq!(body["authorization_servers"], serde_json::json!([issuer]));
    assert_eq!(
        body["scopes_supported"],
        serde_json::json!(["hello:admin", "hello:read", "hello:write"]),
        "{body}"
    );
}

#[test]
fn without_an_issuer_on_a_public_address_it_refuses_to_start() {
    let output = hello_api("0.0.0.0:0").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("portcullis.issuer"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("Bearer"), "no token is printed: {stdout}");
}
