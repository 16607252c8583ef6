//! Three services, each protected by Portcullis with its own audience and scopes:
//!
//! ```text
//! client ──(token for urn:portcullis:orders)──► gateway ──relay──► orders ──exchange──► inventory
//!                                                                     └──client credentials──► inventory /stock
//! ```
//!
//! - **gateway** accepts tokens for the orders API (it is its edge) and relays them unchanged to
//!   orders: the audience fits.
//! - **orders** exchanges the caller's token (RFC 8693) for one addressed to inventory, so
//!   inventory sees the same user, with orders named as the actor (`act`); for its own stock report
//!   it uses its own identity (client credentials).
//! - **inventory** answers with the subject it sees.
//!
//! Each service's downstreams are its `[[portcullis.downstream]]` entries; a call to any other
//! URL gets no token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use portcullis::propagate::reqwest_middleware::ClientWithMiddleware;
use portcullis::{Portcullis, Principal, requires_scopes};
use serde_json::{Value, json};

/// What a service's handlers share.
#[derive(Clone)]
struct Outbound {
    client: ClientWithMiddleware,
    portcullis: Portcullis,
}

fn base_url(portcullis: &Portcullis, name: &str) -> Result<String, (StatusCode, Json<Value>)> {
    portcullis
        .config()
        .downstream
        .iter()
        .find(|d| d.name == name)
        .map(|d| d.base_url.trim_end_matches('/').to_owned())
        .ok_or_else(|| bad_gateway(format!("no downstream named {name:?} is configured")))
}

fn bad_gateway(message: String) -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_GATEWAY,
        Json(json!({"error": "bad_gateway", "error_description": message})),
    )
}

/// GET `url` as `principal` (or as this service when `None`), through the propagation client.
async fn call(
    outbound: &Outbound,
    url: String,
    principal: Option<Principal>,
) -> Result<Value, (StatusCode, Json<Value>)> {
    let mut request = outbound.client.get(&url);
    if let Some(principal) = principal {
        request = request.with_extension(principal);
    }
    let response = request
        .send()
        .await
        .map_err(|e| bad_gateway(format!("{url}: {e}")))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(bad_gateway(format!("{url} answered {status}: {body}")));
    }
    Ok(body)
}

/// The gateway: `GET /orders/{id}` (scope `orders:read`), relayed to orders.
pub fn gateway(portcullis: &Portcullis) -> Router {
    let outbound = Outbound {
        client: portcullis.outbound_client(),
        portcullis: portcullis.clone(),
    };
    Router::new()
        .route("/orders/{id}", get(gateway_order))
        .with_state(outbound)
        .layer(portcullis.layer())
}

#[requires_scopes("orders:read")]
async fn gateway_order(
    State(outbound): State<Outbound>,
    principal: Principal,
    Path(id): Path<u32>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let url = format!("{}/orders/{id}", base_url(&outbound.portcullis, "orders")?);
    let orders = call(&outbound, url, Some(principal.clone())).await?;
    Ok(Json(
        json!({"service": "gateway", "subject": principal.subject(), "orders": orders}),
    ))
}

/// Orders: `GET /orders/{id}` (scope `orders:read`), with stock from inventory by token exchange;
/// `GET /stock-report` (scope `orders:read`), from inventory as this service (client credentials).
pub fn orders(portcullis: &Portcullis) -> Router {
    let outbound = Outbound {
        client: portcullis.outbound_client(),
        portcullis: portcullis.clone(),
    };
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/stock-report", get(stock_report))
        .with_state(outbound)
        .layer(portcullis.layer())
}

#[requires_scopes("orders:read")]
async fn order(
    State(outbound): State<Outbound>,
    principal: Principal,
    Path(id): Path<u32>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    // The downstream's base-url is inventory's /items.
    let url = format!("{}/{id}", base_url(&outbound.portcullis, "inventory")?);
    let inventory = call(&outbound, url, Some(principal.clone())).await?;
    Ok(Json(
        json!({"service": "orders", "subject": principal.subject(), "order": id, "inventory": inventory}),
    ))
}

#[requires_scopes("orders:read")]
async fn stock_report(
    State(outbound): State<Outbound>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    // The downstream's base-url is inventory's /stock.
    let url = base_url(&outbound.portcullis, "inventory-stock")?;
    let stock = call(&outbound, url, None).await?;
    Ok(Json(json!({"service": "orders", "stock": stock})))
}

/// Inventory: `GET /items/{id}` and `GET /stock` (scope `inventory:read`), naming who it sees.
pub fn inventory(portcullis: &Portcullis) -> Router {
    Router::new()
        .route("/items/{id}", get(item))
        .route("/stock", get(stock))
        .layer(portcullis.layer())
}

fn seen(principal: &Principal) -> Value {
    json!({
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "actor": principal.claim("act"),
        "audience": principal.claim("aud"),
    })
}

#[requires_scopes("inventory:read")]
async fn item(principal: Principal, Path(id): Path<u32>) -> Json<Value> {
    Json(json!({"service": "inventory", "item": id, "in_stock": 3, "seen": seen(&principal)}))
}

#[requires_scopes("inventory:read")]
async fn stock(principal: Principal) -> Json<Value> {
    Json(json!({"service": "inventory", "items": 42, "seen": seen(&principal)}))
}
