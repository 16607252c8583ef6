//! hello-api: the smallest service Portcullis protects, with one route per way of requiring
//! scopes.
//!
//! | route | needs | declared by |
//! |---|---|---|
//! | `GET /health` | nothing | outside the layer: Portcullis's health report (issuer reachable, JWKS age, last introspection error), 503 when DOWN |
//! | `GET /metrics` | nothing | outside the layer, with [`app_with_metrics`]: Prometheus text format |
//! | `GET /hello` | scope `hello:read` | a `[[portcullis.rules]]` entry in `config/default.toml`, checked inside the layer (the cheapest way: what the load benchmark measures) |
//! | `GET /greetings/layered` | scope `hello:read` | route layer `require_scopes` |
//! | `GET /greetings/annotated` | scope `hello:read` | `#[requires_scopes]` |
//! | `GET /greetings/typed` | scope `hello:read` | the `RequireScopes<HelloRead>` extractor |
//! | `GET /greetings/any` | scope `hello:write` or `hello:admin` | `#[requires_scopes(any(..))]` |
//! | `POST /greetings` | scope `hello:write` | a `[[portcullis.rules]]` entry in `config/default.toml` |
//! | `GET /greetings/admin` | authority `ROLE_admin` (from `realm_access.roles`) | `#[requires_authorities]` |
//! | `GET /me` | a valid token | the `UserInfo` extractor |

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portcullis::{
    Portcullis, Principal, RequireScopes, ScopePolicy, ScopeRequirement, UserInfo, require_scopes,
    requires_authorities, requires_scopes,
};
use serde_json::{Value, json};

/// The application's routes, protected by `portcullis`.
///
/// The layer is applied to the whole router, so it also sees the paths no route matches: it
/// answers `GET /.well-known/oauth-protected-resource` (RFC 9728) there. Routes added after it
/// (`/health`) are public.
pub fn app(portcullis: &Portcullis) -> Router {
    Router::new()
        .route("/greetings/layered", get(layered))
        .route_layer(require_scopes(["hello:read"]))
        .route("/hello", get(hello))
        .route("/greetings/annotated", get(annotated))
        .route("/greetings/typed", get(typed))
        .route("/greetings/any", get(any_writer))
        .route("/greetings", axum::routing::post(create_greeting))
        .route("/greetings/admin", get(admin))
        .route("/me", get(me))
        .layer(portcullis.layer())
        .route("/health", get(health))
        .with_state(portcullis.clone())
}

/// [`app`] plus `GET /metrics` in Prometheus text format, rendered by `metrics`.
pub fn app_with_metrics(portcullis: &Portcullis, metrics: PrometheusHandle) -> Router {
    let scrape = get(render_metrics).with_state((portcullis.clone(), metrics));
    app(portcullis).route("/metrics", scrape)
}

/// Installs the process-wide Prometheus recorder. Call it before building Portcullis: its hot-path
/// counters are registered at build time. IdP latencies are histograms with buckets from 1 ms to
/// 10 s.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(portcullis::observe::names::IDP_DURATION.into()),
            &buckets,
        )
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
    Ok(handle)
}

async fn health(State(portcullis): State<Portcullis>) -> impl IntoResponse {
    let report = portcullis.health().await;
    (report.http_status(), Json(report))
}

async fn render_metrics(
    State((portcullis, metrics)): State<(Portcullis, PrometheusHandle)>,
) -> impl IntoResponse {
    portcullis.telemetry().record_gauges();
    metrics.run_upkeep();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
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

/// Protected by the `[[portcullis.rules]]` entry for `/hello` in the configuration.
async fn hello(principal: Principal) -> Json<Value> {
    greeting(&principal, "configuration rule")
}

async fn layered(principal: Principal) -> Json<Value> {
    greeting(&principal, "route layer")
}

#[requires_scopes("hello:read")]
async fn annotated(principal: Principal) -> Json<Value> {
    greeting(&principal, "annotation")
}

/// The requirement of `GET /greetings/typed`, as a type.
#[derive(Debug)]
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
