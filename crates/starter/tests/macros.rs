//! Compile-time behaviour of `#[requires_scopes]` / `#[requires_authorities]`: the forms that
//! compile (with `#[axum::debug_handler]` too) and the errors, pointing at the literal, for those
//! that do not. Regenerate the expected messages with `TRYBUILD=overwrite` and review the diff.

#[test]
fn requires_scopes_annotation() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
