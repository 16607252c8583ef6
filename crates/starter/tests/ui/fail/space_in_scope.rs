use portcullis::requires_scopes;

#[requires_scopes("orders:read", "orders read")]
async fn handler() -> &'static str {
    "no"
}

fn main() {}
