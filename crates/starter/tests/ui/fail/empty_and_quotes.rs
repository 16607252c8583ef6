use portcullis::requires_scopes;

#[requires_scopes(any("ok", "say \"hi\""))]
async fn quoted() -> &'static str {
    "no"
}

#[requires_scopes("")]
async fn empty() -> &'static str {
    "no"
}

fn main() {}
