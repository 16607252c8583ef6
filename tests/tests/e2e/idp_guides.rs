//! What the per-IdP guides (docs/idp/) promise the service does at startup.

use portcullis::Portcullis;
use portcullis_e2e::{capture_logs, config_for_issuer, log_text};

/// docs/idp/okta.md: an Okta org authorization server with its own URL as the audience starts,
/// with a warning that says why and what to use instead. Nothing is fetched at startup.
#[tokio::test(flavor = "current_thread")]
async fn an_okta_org_server_audience_is_warned_about_at_startup() {
    for (issuer, audience, warned) in [
        (
            "https://dev-123456.okta.com",
            "https://dev-123456.okta.com",
            true,
        ),
        (
            "https://dev-123456.okta.com/oauth2/default",
            "api://default",
            false,
        ),
        ("https://dev-123456.okta.com", "api://orders", false),
    ] {
        let (guard, logs) = capture_logs();
        let mut config = config_for_issuer(issuer);
        config.audience = vec![audience.into()];
        let portcullis = Portcullis::builder().config(config).build().await;
        drop(guard);
        assert!(portcullis.is_ok(), "{issuer}: {portcullis:?}");
        let log = log_text(&logs);
        let warning = log
            .lines()
            .find(|l| l.contains("Okta ORG authorization server"));
        match warning {
            Some(line) => {
                assert!(warned, "{issuer} {audience}: {line}");
                assert!(
                    line.contains(" WARN ")
                        && line.contains(&format!("the audience {audience} is its own URL"))
                        && line.contains("custom authorization server")
                        && line.contains("API Access Management"),
                    "{line}"
                );
            }
            None => assert!(!warned, "{issuer} {audience}: no warning in {log}"),
        }
    }
}
