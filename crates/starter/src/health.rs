//! A health report in the spirit of Spring Boot Actuator: is the issuer reachable, how old are
//! the keys, did the last introspection call fail.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_core::IssuerUrl;
use portcullis_core::config::{Mode, ShowDetails};
use portcullis_core::http::HttpClient;
use portcullis_core::observe::{CallRecord, IdpEndpoint, Telemetry};
use portcullis_core::sync::lock;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// How long a probe of the issuer is reused: a health endpoint polled hard must not become a
/// load generator against the IdP.
const PROBE_REUSE: Duration = Duration::from_secs(10);

/// UP, DOWN or UNKNOWN, as Actuator spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Working.
    Up,
    /// Not working: requests that need this component fail.
    Down,
    /// Not used yet (lazy discovery before the first request).
    Unknown,
}

/// One component's status and details.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// The status.
    pub status: Status,
    /// What was observed (URLs, ages in seconds, the last error).
    pub details: Map<String, Value>,
}

/// The whole report. `status` is DOWN when any component is DOWN.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// The overall status.
    pub status: Status,
    /// By name: `issuer`, `jwks`, `introspection`, `userinfo`, `token`. Empty (and not
    /// serialized) unless `portcullis.health.show-details = "always"`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub components: std::collections::BTreeMap<&'static str, Component>,
}

impl Health {
    /// 200 when UP or UNKNOWN, 503 when DOWN (Actuator's mapping).
    pub fn http_status(&self) -> http::StatusCode {
        match self.status {
            Status::Down => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::OK,
        }
    }
}

#[derive(Clone)]
struct Probe {
    at: Instant,
    component: Component,
}

/// Builds health reports for one service.
pub(crate) struct HealthCheck {
    issuer: Option<IssuerUrl>,
    mode: Mode,
    show_details: ShowDetails,
    http: HttpClient,
    last_probe: Mutex<Option<Probe>>,
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheck").finish_non_exhaustive()
    }
}

impl HealthCheck {
    pub(crate) fn new(
        issuer: Option<IssuerUrl>,
        mode: Mode,
        show_details: ShowDetails,
        http: HttpClient,
    ) -> Self {
        Self {
            issuer,
            mode,
            show_details,
            http,
            last_probe: Mutex::new(None),
        }
    }

    fn telemetry(&self) -> &Arc<Telemetry> {
        self.http.telemetry()
    }

    /// The report as `health.show-details` allows: the overall status only, unless `always`.
    pub(crate) async fn public_report(&self) -> Health {
        let mut report = self.report().await;
        if self.show_details == ShowDetails::Never {
            report.components.clear();
        }
        report
    }

    /// The whole report, with every component's details.
    pub(crate) async fn report(&self) -> Health {
        let mut components = std::collections::BTreeMap::new();
        if let Some(issuer) = self.probe_issuer().await {
            components.insert("issuer", issuer);
        }
        let telemetry = self.telemetry();
        if matches!(self.mode, Mode::Jwt | Mode::Auto) {
            components.insert("jwks", self.jwks());
        }
        if matches!(self.mode, Mode::Introspect | Mode::Auto) {
            components.insert(
                "introspection",
                calls(&telemetry.calls(IdpEndpoint::Introspection)),
            );
        }
        for (endpoint, name) in [
            (IdpEndpoint::Userinfo, "userinfo"),
            (IdpEndpoint::Token, "token"),
        ] {
            let record = telemetry.calls(endpoint);
            if record.calls > 0 {
                components.insert(name, calls(&record));
            }
        }
        let status = if components.values().any(|c| c.status == Status::Down) {
            Status::Down
        } else {
            Status::Up
        };
        Health { status, components }
    }

    async fn probe_issuer(&self) -> Option<Component> {
        let issuer = self.issuer.as_ref()?;
        if let Some(probe) = lock(&self.last_probe).clone()
            && probe.at.elapsed() < PROBE_REUSE
        {
            return Some(probe.component);
        }
        // Where discovery looks, in its order: the first document that exists is the probe.
        let started = Instant::now();
        let portcullis_core::FirstDocument { url, result, .. } =
            portcullis_core::FirstDocument::<Value>::find(&self.http, issuer).await;
        let mut details = Map::new();
        details.insert("url".into(), url.clone().into());
        details.insert(
            "latency_ms".into(),
            (started.elapsed().as_millis() as u64).into(),
        );
        let status = match result {
            Ok(document) => {
                let named = document.get("issuer").and_then(Value::as_str);
                if named == Some(issuer.as_str()) {
                    Status::Up
                } else {
                    details.insert(
                        "error".into(),
                        format!(
                            "the metadata names issuer {:?}, not {}; set portcullis.issuer to exactly what the IdP publishes",
                            named.unwrap_or(""),
                            issuer.as_str()
                        )
                        .into(),
                    );
                    Status::Down
                }
            }
            Err(error) => {
                details.insert("error".into(), error.to_string().into());
                Status::Down
            }
        };
        let component = Component { status, details };
        *lock(&self.last_probe) = Some(Probe {
            at: Instant::now(),
            component: component.clone(),
        });
        Some(component)
    }

    fn jwks(&self) -> Component {
        let telemetry = self.telemetry();
        let record = telemetry.calls(IdpEndpoint::Jwks);
        let mut component = calls(&record);
        match telemetry.jwks() {
            Some(jwks) => {
                component.status = Status::Up;
                component.details.insert("keys".into(), jwks.keys.into());
                component.details.insert(
                    "age_seconds".into(),
                    jwks.fetched_at.elapsed().as_secs().into(),
                );
            }
            None if record.calls == 0 => component.status = Status::Unknown,
            None => component.status = Status::Down,
        }
        component
    }
}

/// A component from the record of its calls: DOWN when the last call failed.
fn calls(record: &CallRecord) -> Component {
    let mut details = Map::new();
    details.insert("calls".into(), record.calls.into());
    details.insert("errors".into(), record.errors.into());
    if let Some(at) = record.last_success {
        details.insert(
            "last_success_seconds_ago".into(),
            at.elapsed().as_secs().into(),
        );
    }
    if let Some((at, message)) = &record.last_error {
        details.insert(
            "last_error".into(),
            json!({"message": message, "seconds_ago": at.elapsed().as_secs()}),
        );
    }
    let failed_last = match (&record.last_error, record.last_success) {
        (Some((error_at, _)), Some(success_at)) => *error_at >= success_at,
        (Some(_), None) => true,
        _ => false,
    };
    let status = if record.calls == 0 {
        Status::Unknown
    } else if failed_last {
        Status::Down
    } else {
        Status::Up
    };
    Component { status, details }
}
