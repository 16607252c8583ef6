//! The README's fifteen lines, as a user runs them: the code and configuration printed in the
//! README are this crate's, a broken configuration prints for people, the log is visible, and a
//! service without a subscriber is told so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SERVICE: &str = env!("CARGO_BIN_EXE_fifteen-lines");
const WITHOUT_A_SUBSCRIBER: &str = env!("CARGO_BIN_EXE_without-a-subscriber");

fn crate_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The code blocks of README.md's "Fifteen lines" section, in order.
fn readme_blocks() -> Vec<String> {
    let readme = crate_file("../../README.md");
    let section = readme
        .split("\n## Fifteen lines\n")
        .nth(1)
        .expect("README.md has a \"## Fifteen lines\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) => current = Some(String::new()),
            (Some(block), true) => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), false) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks
}

/// A directory with `config/default.toml` holding `toml`.
fn service_dir(toml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-fifteen-{}-{}",
        std::process::id(),
        toml.len()
    ));
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(dir.join("config/default.toml"), toml).unwrap();
    dir
}

fn run_in(dir: &Path, binary: &str) -> Output {
    Command::new(binary)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("PORTCULLIS_PROFILE")
        .output()
        .unwrap()
}

#[test]
fn the_readme_prints_this_crates_code_and_configuration() {
    let blocks = readme_blocks();
    assert_eq!(blocks.len(), 2, "a Rust block and a TOML block: {blocks:?}");
    assert_eq!(
        blocks[0],
        crate_file("src/main.rs"),
        "README.md's fifteen lines and examples/fifteen-lines/src/main.rs differ"
    );
    assert_eq!(
        blocks[1],
        crate_file("config/default.toml"),
        "README.md's configuration and examples/fifteen-lines/config/default.toml differ"
    );
}

#[test]
fn a_broken_configuration_prints_every_problem_for_people() {
    // A typo and a missing issuer: both reported in one run, as text, not as a Debug structure.
    let dir = service_dir("[portcullis]\naudiance = \"api://hello\"\n");
    let output = run_in(&dir, SERVICE);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("invalid Portcullis configuration"), "{stderr}");
    assert!(stderr.contains("audiance"), "the typo is named: {stderr}");
    assert!(stderr.contains("portcullis.issuer"), "the missing issuer too: {stderr}");
    assert!(
        !stderr.contains("ConfigErrors(") && !stderr.contains("ConfigError {"),
        "no Debug structure: {stderr}"
    );
}

#[test]
fn with_the_subscriber_line_the_startup_decisions_are_in_the_log() {
    // The README's own configuration: discovery is lazy, so the service starts (the issuer is
    // never contacted) and logs its decisions before it listens.
    let dir = service_dir(&crate_file("config/default.toml"));
    let mut child = Command::new(SERVICE)
        .current_dir(&dir)
        .env_remove("RUST_LOG")
        .env_remove("PORTCULLIS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) if line.contains("portcullis: discovery is lazy") => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "no startup decision in the log; it showed:\n{}", seen.join("\n"));
}

#[test]
fn without_a_subscriber_portcullis_says_so_once_with_the_line_to_add() {
    let dir = service_dir(&crate_file("config/default.toml"));
    let output = run_in(&dir, WITHOUT_A_SUBSCRIBER);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.matches(portcullis::NO_SUBSCRIBER_NOTICE).count(), 1, "{stderr}");
    assert!(
        portcullis::NO_SUBSCRIBER_NOTICE.contains("tracing_subscriber::fmt().init();"),
        "the notice names the line to add"
    );
}
