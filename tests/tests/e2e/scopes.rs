//! Route requirements declared every way (route layer, annotation, typed extractor, `any`,
//! configuration rule, authority) against real IdP tokens, in both modes.

use portcullis_e2e::{Idp, Kit, Reply, Service};
use reqwest::Method;

in_both_modes!(
    every_style_admits_the_scope_and_refuses_its_absence,
    any_admits_one_of_the_scopes_and_shows_the_alternatives,
    a_configuration_rule_protects_a_route_without_code,
    authorities_mapped_from_realm_access_roles_are_required,
);

#[track_caller]
fn assert_forbidden(reply: &Reply, scope: Option<&str>) {
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap_or("");
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\""),
        "{challenge}"
    );
    match scope {
        Some(scope) => assert!(
            challenge.contains(&format!("scope=\"{scope}\"")),
            "{challenge}"
        ),
        None => assert!(!challenge.contains("scope=\""), "{challenge}"),
    }
}

async fn every_style_admits_the_scope_and_refuses_its_absence(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let reader = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let other = idp
        .user_token("alice", "orders:read", Some(kit.hello))
        .await
        .access_token;
    for (path, style) in [
        ("/hello", "configuration rule"),
        ("/greetings/layered", "route layer"),
        ("/greetings/annotated", "annotation"),
        ("/greetings/typed", "typed extractor"),
    ] {
        let ok = service.request(Method::GET, path, &reader).await;
        assert_eq!(ok.status, 200, "{path}: {ok:?}");
        assert_eq!(ok.body["style"], style);
        assert_eq!(ok.body["message"], "Hello, alice!");
        assert_forbidden(
            &service.request(Method::GET, path, &other).await,
            Some("hello:read"),
        );
    }
}

async fn any_admits_one_of_the_scopes_and_shows_the_alternatives(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    for scope in ["hello:write", "hello:admin"] {
        let token = idp
            .user_token("alice", scope, Some(kit.hello))
            .await
            .access_token;
        assert_eq!(
            service
                .request(Method::GET, "/greetings/any", &token)
                .await
                .status,
            200,
            "{scope}"
        );
    }
    let reader = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let reply = service
        .request(Method::GET, "/greetings/any", &reader)
        .await;
    assert_forbidden(&reply, Some("hello:write hello:admin"));
    assert!(reply.description().contains("one of"), "{reply:?}");
}

async fn a_configuration_rule_protects_a_route_without_code(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let writer = idp
        .user_token("alice", "hello:write", Some(kit.hello))
        .await
        .access_token;
    let reader = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let ok = service.request(Method::POST, "/greetings", &writer).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["style"], "configuration rule");
    assert_forbidden(
        &service.request(Method::POST, "/greetings", &reader).await,
        Some("hello:write"),
    );
    // No token: 401 with the bare challenge, as for every protected route.
    let anonymous = service
        .get_with_authorization("/greetings/typed", &[])
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.challenge.as_deref(), Some("Bearer"));
}

async fn authorities_mapped_from_realm_access_roles_are_required(kit: Kit) {
    let idp = Idp::start().await;
    let service = Service::start(kit.config(&idp)).await;
    let admin = idp
        .user_token("admin-ann", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let user = idp
        .user_token("alice", "hello:read", Some(kit.hello))
        .await
        .access_token;
    let ok = service
        .request(Method::GET, "/greetings/admin", &admin)
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        ok.body["authorities"],
        serde_json::json!(["ROLE_admin", "ROLE_user"])
    );
    let refused = service
        .request(Method::GET, "/greetings/admin", &user)
        .await;
    assert_forbidden(&refused, None);
    assert!(
        refused.description().contains("authority ROLE_admin"),
        "{refused:?}"
    );
}
