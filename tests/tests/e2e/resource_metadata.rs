//! RFC 9728 against the real IdP: a client that knows only the service's URL finds, from the
//! 401, the metadata, the authorization server and the resource to ask a token for, and that
//! token is accepted. With no `resource-metadata` configuration at all.

use portcullis_e2e::{Idp, Service, capture_logs, config_for, log_text};
use serde_json::Value;

/// The `resource_metadata` URL of a challenge.
fn metadata_url(challenge: &str) -> &str {
    challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no resource_metadata in {challenge}"))
}

#[tokio::test]
async fn a_client_goes_from_a_401_to_a_token_for_this_service_without_configuration() {
    let idp = Idp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut config = config_for(&idp);
    // Accept tokens that name this service by its URL (RFC 8707), besides hello-api's own
    // audience. Nothing under [portcullis.resource-metadata].
    config.audience.push(origin.clone());
    let service = Service::start_on(listener, config).await;
    let http = reqwest::Client::new();

    // 1. The client calls without a token and reads the challenge.
    let response = http.get(format!("{origin}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let url = metadata_url(&challenge);
    assert_eq!(
        url,
        format!("{origin}/.well-known/oauth-protected-resource")
    );

    // 2. The metadata names the resource and the authorization server.
    let document: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["resource"], origin.as_str(), "{document}");
    assert_eq!(
        document["authorization_servers"],
        serde_json::json!([idp.issuer]),
        "{document}"
    );
    let scopes = document["scopes_supported"].as_array().unwrap();
    assert!(scopes.iter().any(|s| s == "hello:read"), "{document}");

    // 3. A token for that resource (RFC 8707) from that server is accepted.
    let resource = document["resource"].as_str().unwrap();
    let token = idp.user_token("alice", "hello:read", Some(resource)).await;
    let reply = service.hello(&token.access_token).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // 4. A token for this service without the scope: the 403 names the scope and the metadata.
    let token = idp.user_token("alice", "hello:write", Some(resource)).await;
    let response = http
        .get(format!("{origin}/hello"))
        .bearer_auth(&token.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("scope=\"hello:read\"") && metadata_url(challenge) == url,
        "{challenge}"
    );
}

#[tokio::test]
async fn without_the_resource_in_the_audience_such_a_token_is_refused() {
    let idp = Idp::start().await;
    let service = Service::start(config_for(&idp)).await;
    let token = idp
        .user_token("alice", "hello:read", Some(&service.url))
        .await;
    service
        .hello(&token.access_token)
        .await
        .assert_invalid_token("audience");
}

#[tokio::test(flavor = "current_thread")]
async fn a_configured_resource_is_served_at_its_path_and_the_log_says_what_to_add() {
    let idp = Idp::start().await;
    let (_guard, logs) = capture_logs();
    let mut config = config_for(&idp);
    config.resource_metadata.resource = Some("http://127.0.0.1:9/orders".into());
    let service = Service::start(config.clone()).await;
    let log = log_text(&logs);
    assert!(
        log.contains("protected-resource metadata (RFC 9728) for http://127.0.0.1:9/orders at /.well-known/oauth-protected-resource/orders")
            && log.contains("get `aud` = http://127.0.0.1:9/orders, which portcullis.audience"),
        "{log}"
    );
    // The challenge names the configured URL (Service checks every challenge against it).
    let reply = service.hello("not-a-token").await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        service.metadata_url.as_deref(),
        Some("http://127.0.0.1:9/.well-known/oauth-protected-resource/orders")
    );
    let (status, body) = service
        .get_text("/.well-known/oauth-protected-resource/orders")
        .await;
    assert_eq!(status, 200, "{body}");
    let document: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["resource"], "http://127.0.0.1:9/orders");
    drop(service);

    // Listed in the audience: no advice.
    logs.lock().unwrap().clear();
    config.audience.push("http://127.0.0.1:9/orders".into());
    let _service = Service::start(config).await;
    let log = log_text(&logs);
    assert!(
        log.contains("protected-resource metadata (RFC 9728) for http://127.0.0.1:9/orders")
            && !log.contains("which portcullis.audience"),
        "{log}"
    );
}
