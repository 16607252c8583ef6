use axum::Router;
use axum::routing::get;
use portcullis::{Principal, requires_authorities, requires_scopes};

#[requires_scopes("orders:read")]
async fn one(principal: Principal) -> String {
    principal.to_string()
}

#[requires_scopes("orders:read", "orders:write")]
pub async fn several() -> &'static str {
    "all of them"
}

#[requires_scopes(any("orders:read", "admin"))]
async fn either() -> &'static str {
    "one of them"
}

#[requires_scopes(all("a", "b"))]
async fn both() -> &'static str {
    "both"
}

#[requires_authorities("ROLE_admin")]
async fn admin() -> &'static str {
    "admin"
}

#[requires_authorities(any("Domain Users", "ROLE_ops"))]
async fn group() -> &'static str {
    "group"
}

#[requires_scopes("orders:read")]
#[axum::debug_handler]
async fn checked(principal: Principal, body: String) -> String {
    format!("{principal}: {body}")
}

fn main() {
    let _app: Router = Router::new()
        .route("/one", get(one))
        .route("/several", get(several))
        .route("/either", get(either))
        .route("/both", get(both))
        .route("/admin", get(admin))
        .route("/group", get(group))
        .route("/checked", axum::routing::post(checked));
}
