//! hello-api: the smallest service Portcullis protects, with one route per way of requiring
//! scopes.
//!
//! | route | needs | declared by |
//! |---|---|---|
//! | `GET /health` | nothing | outside the layer |
//! | `GET /hello` | scope `hello:read` | route layer `require_scopes` |
//! | `GET /greetings/annotated` | scope `hello:read` | `#[requires_scopes]` |
//! | `GET /greetings/typed` | scope `hello:read` | the `RequireScopes<HelloRead>` extractor |
//! | `GET /greetings/any` | scope `hello:write` or `hello:admin` | `#[requires_scopes(any(..))]` |
//! | `POST /greetings` | scope `hello:write` | a `[[portcullis.rules]]` entry in `config/default.toml` |
//! | `GET /greetings/admin` | authority `ROLE_admin` (from `realm_access.roles`) | `#[requires_authorities]` |
//! | `GET /me` | a valid token | the `UserInfo` extractor |

use axum::routing::get;
use axum::{Json, Router};
use portcullis::{
    Portcullis, Principal, RequireScopes, ScopePolicy, ScopeRequirement, UserInfo, require_scopes,
    requires_authorities, requires_scopes,
};
use serde_json::{Value, json};

/// The application's routes, protected by `portcullis`.
pub fn app(portcullis: &Portcullis) -> Router {
    let protected = Router::new()
        .route("/hello", get(hello))
        .route_layer(require_scopes(["hello:read"]))
        .route("/greetings/annotated", get(annotated))
        .route("/greetings/typed", get(typed))
        .route("/greetings/any", get(any_writer))
        .route("/greetings", axum::routing::post(create_greeting))
        .route("/greetings/admin", get(admin))
        .route("/me", get(me))
        .layer(portcullis.layer());
    Router::new().route("/health", get(health)).merge(protected)
}

async fn health() -> Json<Value> {
    Json(json!({"status": "up"}))
}

fn greeting(principal: &Principal, style: &str) -> Json<Value> {
    let name = principal.subject().unwrap_or("anonymous");
    Json(json!({
        "message": format!("Hello, {name}!"),
        "style": style,
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "scopes": principal.scopes().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "authorities": principal.authorities(),
    }))
}

async fn hello(principal: Principal) -> Json<Value> {
    greeting(&principal, "route layer")
}

#[requires_scopes("hello:read")]
async fn annotated(principal: Principal) -> Json<Value> {
    greeting(&principal, "annotation")
}

/// The requirement of `GET /greetings/typed`, as a type.
pub struct HelloRead;

impl ScopeRequirement for HelloRead {
    const POLICY: ScopePolicy = ScopePolicy::all_static(&["hello:read"]);
}

async fn typed(access: RequireScopes<HelloRead>) -> Json<Value> {
    greeting(&access.principal, "typed extractor")
}

#[requires_scopes(any("hello:write", "hello:admin"))]
async fn any_writer(principal: Principal) -> Json<Value> {
    greeting(&principal, "annotation, any")
}

/// Protected by the `[[portcullis.rules]]` entry for `POST /greetings` in the configuration.
async fn create_greeting(principal: Principal) -> Json<Value> {
    greeting(&principal, "configuration rule")
}

#[requires_authorities("ROLE_admin")]
async fn admin(principal: Principal) -> Json<Value> {
    greeting(&principal, "authority")
}

async fn me(principal: Principal, userinfo: UserInfo) -> Json<Value> {
    Json(json!({
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "userinfo": userinfo.0,
    }))
}
