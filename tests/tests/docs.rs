//! Every Rust code block in README.md and docs/ is compiled by some test: a document with Rust
//! blocks that none of them includes fails here, so a new page cannot slip through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::path::{Path, PathBuf};

/// Where each document's blocks are compiled: (document, the source file that includes it).
const COMPILED_BY: &[(&str, &str)] = &[
    ("README.md", "examples/fifteen-lines/tests/readme.rs"),
    ("docs/getting-started.md", "tests/src/lib.rs"),
    ("docs/observability.md", "tests/src/lib.rs"),
    ("docs/propagation.md", "tests/src/lib.rs"),
    ("docs/scopes.md", "tests/src/lib.rs"),
    ("docs/userinfo.md", "tests/src/lib.rs"),
    ("docs/testing.md", "crates/test/src/lib.rs"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

#[test]
fn every_document_with_rust_blocks_is_compiled_by_a_test() {
    let root = root();
    let mut documents = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut documents);
    let mut missing = Vec::new();
    for document in documents {
        let text = std::fs::read_to_string(&document).unwrap();
        if !text.lines().any(|l| l.starts_with("```rust")) {
            continue;
        }
        let name = document
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if !COMPILED_BY.iter().any(|(doc, _)| *doc == name) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "documents with Rust blocks that no test compiles (include them in tests/src/lib.rs `mod docs`): {missing:?}"
    );
}

#[test]
fn each_listed_document_is_really_included_where_it_says() {
    for (document, by) in COMPILED_BY {
        let source = std::fs::read_to_string(root().join(by)).unwrap();
        let file = Path::new(document).file_name().unwrap().to_string_lossy();
        assert!(source.contains(&*file), "{by} does not include {document}");
    }
}
