//! examples/microservices against the real IdP: a user request flows gateway → orders →
//! inventory, by relay and then token exchange, and the last hop sees the user.

use std::path::Path;

use portcullis::Secret;
use portcullis::{ConfigLoader, Portcullis, PortcullisConfig};
use portcullis_e2e::{Idp, decode_part};
use serde_json::Value;

struct Service {
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn config(idp: &Idp, service: &str) -> PortcullisConfig {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/microservices/config");
    let mut config = ConfigLoader::new()
        .dir(dir)
        .profile(service)
        .load()
        .expect("example config loads")
        .config;
    config.issuer = Some(idp.issuer.clone());
    config
}

async fn serve(config: PortcullisConfig, app: fn(&Portcullis) -> axum::Router) -> Service {
    let portcullis = Portcullis::builder()
        .config(config)
        .build()
        .await
        .expect("starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(&portcullis);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Service { url, server }
}

/// Starts inventory, orders (pointing at inventory) and gateway (pointing at orders).
async fn start_all(idp: &Idp) -> (Service, Service, Service) {
    let inventory = serve(config(idp, "inventory"), microservices::inventory).await;
    let mut orders_config = config(idp, "orders");
    orders_config.client.client_secret = Some(Secret::new("orders-secret"));
    for d in &mut orders_config.downstream {
        let path = if d.name == "inventory" {
            "/items"
        } else {
            "/stock"
        };
        d.base_url = format!("{}{path}", inventory.url);
    }
    let orders = serve(orders_config, microservices::orders).await;
    let mut gateway_config = config(idp, "gateway");
    gateway_config.downstream[0].base_url = orders.url.clone();
    let gateway = serve(gateway_config, microservices::gateway).await;
    (gateway, orders, inventory)
}

async fn get(url: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_user_request_flows_through_all_three_services_and_the_last_hop_sees_the_user() {
    let idp = Idp::start().await;
    let (gateway, _orders, _inventory) = start_all(&idp).await;
    let tokens = idp
        .user_token("alice", "openid orders:read", Some("urn:portcullis:orders"))
        .await;

    let (status, body) = get(&format!("{}/orders/7", gateway.url), &tokens.access_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["service"], "gateway");
    assert_eq!(body["orders"]["service"], "orders");
    assert_eq!(
        body["orders"]["subject"], "alice",
        "relay: orders sees the user"
    );
    let last = &body["orders"]["inventory"];
    assert_eq!(last["service"], "inventory");
    assert_eq!(
        last["seen"]["subject"], "alice",
        "exchange: inventory sees the same user"
    );
    assert_eq!(
        last["seen"]["actor"]["sub"], "orders-service",
        "and orders as the actor"
    );
    assert_eq!(
        last["seen"]["audience"], "urn:portcullis:inventory",
        "with a token addressed to inventory"
    );
    let after_first = idp.stats().await.get("/token").copied();

    // The exchanged token is cached per (caller token, audience): no second exchange.
    let (status, _) = get(&format!("{}/orders/8", gateway.url), &tokens.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(idp.stats().await.get("/token").copied(), after_first);

    // An ID token is refused at the first hop, with the explaining message.
    let id_token = tokens.id_token.expect("ID token");
    let response = reqwest::Client::new()
        .get(format!("{}/orders/7", gateway.url))
        .bearer_auth(&id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("ID token"), "{challenge}");
    assert_eq!(
        decode_part(id_token.split('.').nth(1).unwrap())["aud"],
        "portcullis-test"
    );
}

#[tokio::test]
async fn a_service_calls_with_its_own_identity_by_client_credentials() {
    let idp = Idp::start().await;
    let (_gateway, orders, _inventory) = start_all(&idp).await;
    let token = idp
        .user_token("alice", "orders:read", Some("urn:portcullis:orders"))
        .await
        .access_token;
    let (status, body) = get(&format!("{}/stock-report", orders.url), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["stock"]["seen"]["subject"], "orders-service",
        "inventory sees the service, not the user"
    );
    assert!(body["stock"]["seen"]["actor"].is_null());
}

#[tokio::test]
async fn a_token_for_another_api_is_refused_at_the_gateway() {
    let idp = Idp::start().await;
    let (gateway, _orders, _inventory) = start_all(&idp).await;
    // A token for inventory must not get through the gateway.
    let token = idp
        .user_token(
            "alice",
            "orders:read inventory:read",
            Some("urn:portcullis:inventory"),
        )
        .await
        .access_token;
    let (status, _) = get(&format!("{}/orders/7", gateway.url), &token).await;
    assert_eq!(status, 401);
}

/// Outbound client credentials with each client authentication method oidc-provider enforces
/// (it refuses a client that authenticates otherwise than registered): `client_secret_post` and
/// `private_key_jwt` (the basic method is the example's own, above).
#[tokio::test]
async fn client_credentials_work_with_client_secret_post_and_private_key_jwt() {
    use portcullis::config::ClientAuthMethod;
    let idp = Idp::start().await;
    let inventory = serve(config(&idp, "inventory"), microservices::inventory).await;
    let key_file = idp.client_key_file();
    let user = idp
        .user_token("alice", "orders:read", Some("urn:portcullis:orders"))
        .await
        .access_token;
    for (client_id, method) in [
        ("hello-api-post", ClientAuthMethod::ClientSecretPost),
        ("hello-api-jwt", ClientAuthMethod::PrivateKeyJwt),
    ] {
        let mut orders_config = config(&idp, "orders");
        orders_config.client.client_id = Some(client_id.into());
        orders_config.client.auth_method = method;
        match method {
            ClientAuthMethod::PrivateKeyJwt => {
                orders_config.client.private_key_file = Some(key_file.display().to_string());
            }
            _ => orders_config.client.client_secret = Some(Secret::new("hello-secret")),
        }
        orders_config
            .downstream
            .retain(|d| d.name == "inventory-stock");
        orders_config.downstream[0].base_url = format!("{}/stock", inventory.url);
        let orders = serve(orders_config, microservices::orders).await;
        let before = idp.stats().await.get("/token").copied().unwrap_or(0);
        let (status, body) = get(&format!("{}/stock-report", orders.url), &user).await;
        assert_eq!(status, 200, "{method:?}: {body}");
        assert_eq!(
            body["stock"]["seen"]["subject"], client_id,
            "{method:?}: inventory sees the service's own token"
        );
        assert_eq!(
            idp.stats().await.get("/token").copied().unwrap_or(0),
            before + 1,
            "{method:?}: one token request"
        );
        // The method on the wire, as the IdP received it.
        let log = idp.client_auth_log().await;
        let request = log
            .iter()
            .rev()
            .find(|r| r["client_id"] == client_id && r["path"] == "/token")
            .unwrap_or_else(|| panic!("{method:?}: no token request by {client_id}: {log:?}"));
        assert_eq!(request["grant_type"], "client_credentials", "{request}");
        let expected = match method {
            ClientAuthMethod::PrivateKeyJwt => {
                serde_json::json!({"basic": false, "secret_in_body": false,
                "assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
            }
            _ => {
                serde_json::json!({"basic": false, "secret_in_body": true, "assertion_type": null})
            }
        };
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&request[field], value, "{method:?}: {field} in {request}");
        }
    }
}

/// The token endpoint's client assertion names the issuer by default and the token endpoint
/// with `client.client-assertion-audience = "endpoint"` (Okta); the IdP accepts both.
#[tokio::test]
async fn the_token_endpoint_assertion_names_the_issuer_or_the_endpoint() {
    use portcullis::config::{ClientAssertionAudience, ClientAuthMethod};
    let idp = Idp::start().await;
    let inventory = serve(config(&idp, "inventory"), microservices::inventory).await;
    let key_file = idp.client_key_file();
    let user = idp
        .user_token("alice", "orders:read", Some("urn:portcullis:orders"))
        .await
        .access_token;
    for (audience, expected) in [
        (ClientAssertionAudience::Issuer, idp.issuer.clone()),
        (
            ClientAssertionAudience::Endpoint,
            format!("{}/token", idp.issuer),
        ),
    ] {
        let mut orders_config = config(&idp, "orders");
        orders_config.client.client_id = Some("hello-api-jwt".into());
        orders_config.client.auth_method = ClientAuthMethod::PrivateKeyJwt;
        orders_config.client.private_key_file = Some(key_file.display().to_string());
        orders_config.client.client_assertion_audience = audience;
        orders_config
            .downstream
            .retain(|d| d.name == "inventory-stock");
        orders_config.downstream[0].base_url = format!("{}/stock", inventory.url);
        let orders = serve(orders_config, microservices::orders).await;
        let (status, body) = get(&format!("{}/stock-report", orders.url), &user).await;
        assert_eq!(status, 200, "{audience:?}: {body}");
        let log = idp.client_auth_log().await;
        let request = log
            .iter()
            .rev()
            .find(|r| r["client_id"] == "hello-api-jwt" && r["path"] == "/token")
            .unwrap_or_else(|| panic!("{audience:?}: no token request: {log:?}"));
        assert_eq!(
            request["assertion_aud"],
            expected.as_str(),
            "{audience:?}: {request}"
        );
        assert_eq!(request["status"], 200, "{request}");
    }
}
