use portcullis::requires_scopes;

#[requires_scopes()]
async fn nothing() -> &'static str {
    "no"
}

#[requires_scopes(one_of("a", "b"))]
async fn unknown_form() -> &'static str {
    "no"
}

#[requires_scopes(SCOPE)]
async fn not_a_literal() -> &'static str {
    "no"
}

fn main() {}
