//! django-oauth-toolkit (PyPI), a second real authorization server: it publishes its RFC 8414
//! metadata at `{issuer}/.well-known/oauth-authorization-server` and no OpenID document. Run by
//! the virtual environment `tests/dot/.venv` (README, "Run the tests"); if that is missing, the
//! fixture panics with the command to create it: tests never skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running django-oauth-toolkit.
#[derive(Debug)]
pub struct Dot {
    _child: Child,
    /// `http://127.0.0.1:<port>/o`.
    pub issuer: String,
    dir: PathBuf,
    http: reqwest::Client,
}

fn dot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dot")
}

impl Dot {
    /// Starts it on a free port with a fresh database.
    pub async fn start() -> Self {
        let python = dot_dir().join(".venv/bin/python");
        assert!(
            python.is_file(),
            "django-oauth-toolkit is not installed: run `python3 -m venv tests/dot/.venv && tests/dot/.venv/bin/pip install -r tests/dot/requirements.txt` (needs Python 3.10+)"
        );
        let dir = crate::unique_dir();
        let mut child = Command::new(&python)
            .arg(dot_dir().join("server.py"))
            .arg("--port")
            .arg("0")
            .arg("--db")
            .arg(dir.join("db.sqlite3"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} ({e})", python.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "django-oauth-toolkit did not start ({other:?}); run tests/dot/server.py by hand to see why"
            ),
        };
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("unexpected output {line:?}: {e}"));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            _child: child,
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
            dir,
            http: reqwest::Client::new(),
        }
    }

    /// A machine token of `portcullis-test` (client credentials) for `resource` (RFC 8707).
    pub async fn token(&self, scope: &str, resource: &str) -> String {
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("resource", resource),
        ];
        let url = format!("{}/token/", self.issuer);
        crate::token_request(&self.http, &url, &form).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Revokes a token (RFC 7009) as the client it was issued to.
    pub async fn revoke(&self, token: &str) {
        let response = self
            .http
            .post(format!("{}/revoke_token/", self.issuer))
            .basic_auth("portcullis-test", Some("test-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .expect("revocation request");
        assert!(
            response.status().is_success(),
            "revocation failed: {}",
            response.status()
        );
    }
}

impl Drop for Dot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
