//! The four commands.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Instant;

use portcullis::ScopePolicy;
use portcullis::config::{ClientAuthMethod, Mode};
use portcullis::error::Reason;
use portcullis::unstable::core::client_auth::ClientAuth;
use portcullis::unstable::core::explain::{Step, StepStatus};
use portcullis::unstable::core::http::HttpClient;
use portcullis::unstable::core::observe::IdpEndpoint;
use portcullis::unstable::core::{
    AuthError, Discovery, Endpoint, EndpointSource, ErrorKind, IssuerUrl, Principal, Secret,
    SystemClock,
};
use portcullis::unstable::introspect::{IntrospectionSettings, IntrospectionValidator};
use portcullis::unstable::jwt::jwks::KeySet;
use portcullis::unstable::jwt::settings::ASYMMETRIC_ALGORITHMS;
use portcullis::{ConfigErrors, ConfigLoader, Portcullis, PortcullisConfig};
use serde_json::{Map, Value, json};

use crate::output::{print_json, print_steps, show};
use crate::{ConfigArgs, ConfigSource, DiscoverArgs, InspectArgs, MintArgs, exit};

fn loader(source: &ConfigSource) -> ConfigLoader {
    let loader = ConfigLoader::new().dir(&source.config_dir);
    match &source.profile {
        Some(profile) => loader.profile(profile.clone()),
        None => loader,
    }
}

fn config_errors_json(errors: &ConfigErrors) -> Value {
    Value::Array(
        errors
            .0
            .iter()
            .map(|e| {
                json!({
                    "key": e.key,
                    "value": e.value,
                    "reason": e.reason,
                    "source": e.source,
                })
            })
            .collect(),
    )
}

fn report_config_errors(errors: &ConfigErrors, as_json: bool) -> u8 {
    if as_json {
        print_json(&json!({"valid": false, "errors": config_errors_json(errors)}));
    } else {
        eprintln!("the configuration is invalid:\n{errors}");
    }
    exit::CONFIG
}

/// The exit code for a refusal.
fn code_for(error: &AuthError) -> u8 {
    match error.kind() {
        // The IdP was reached and refused our credentials: the configuration's to fix.
        ErrorKind::Unavailable if error.reason() == Reason::CredentialsRefused => exit::CONFIG,
        ErrorKind::Unavailable => exit::UNAVAILABLE,
        ErrorKind::Misconfigured => exit::CONFIG,
        _ => exit::REFUSED,
    }
}

/// `argument` itself, or standard input when it is `-` (a secret given as `-` stays out of the
/// process list and the shell history).
fn argument_or_stdin(argument: &str, what: &str) -> Result<String, String> {
    if argument != "-" {
        return Ok(argument.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {what} from standard input: {e}"))?;
    Ok(text.trim().to_owned())
}

fn read_token(argument: &str) -> Result<String, String> {
    let raw = argument_or_stdin(argument, "the token")?;
    let trimmed = raw.trim();
    let token = match trimmed.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => trimmed,
    };
    if token.is_empty() {
        return Err(
            "no token given: pass it as the argument (a `Bearer ` prefix is fine), `-` to read it from standard input, or set PORTCULLIS_CLI_TOKEN"
                .into(),
        );
    }
    Ok(token.to_owned())
}

/// `portcullis inspect`.
pub(crate) async fn inspect(args: InspectArgs) -> u8 {
    let token = match read_token(args.token.as_deref().unwrap_or_default()) {
        Ok(token) => token,
        Err(error) => {
            eprintln!("portcullis inspect: {error}");
            return exit::USAGE;
        }
    };
    let mut loader = loader(&args.source);
    if let Some(issuer) = &args.issuer {
        loader = loader.set("issuer", issuer);
    }
    if !args.audience.is_empty() {
        loader = loader.set("audience", &args.audience);
    }
    if let Some(mode) = &args.mode {
        loader = loader.set("mode", mode);
    }
    let mut loaded = match loader.load() {
        Ok(loaded) => loaded,
        Err(errors) => return report_config_errors(&errors, args.json),
    };
    // Explain failures instead of refusing to start.
    loaded.config.discovery.eager = false;
    let config = loaded.config.clone();
    let portcullis = match Portcullis::builder().loaded_config(loaded).build().await {
        Ok(portcullis) => portcullis,
        Err(error) => {
            if args.json {
                print_json(&json!({"valid": false, "errors": [error.to_string()]}));
            } else {
                eprintln!("portcullis inspect: the configuration cannot be used:\n{error}");
            }
            return exit::CONFIG;
        }
    };
    let request = http::Request::builder()
        .method(args.method.as_str())
        .uri(args.path.as_str())
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(());
    let (steps, verdict) = match request {
        Ok(request) => {
            let (parts, ()) = request.into_parts();
            portcullis.pipeline().explain(&parts).await
        }
        Err(error) => {
            let refusal = AuthError::invalid_request(format!(
                "the token, the method or the path cannot be sent in an HTTP request: {error}"
            ));
            (vec![Step::failed("bearer token", &refusal)], Err(refusal))
        }
    };
    // Requirements declared in code are invisible here; the ones the user names are checked
    // as the route would check them (all required, 403 insufficient_scope).
    let mut steps = steps;
    let verdict = match verdict {
        Ok(Some(principal)) if !args.require_scopes.is_empty() => {
            match ScopePolicy::new(
                portcullis::Matching::All,
                portcullis::Target::Scopes,
                args.require_scopes.iter().map(String::as_str),
            ) {
                Ok(policy) => match policy.check(&principal) {
                    Ok(()) => {
                        steps.push(Step::passed(
                            "required scopes (--require-scope)",
                            policy.describe(),
                        ));
                        Ok(Some(principal))
                    }
                    Err(error) => {
                        steps.push(Step::failed("required scopes (--require-scope)", &error));
                        Err(error)
                    }
                },
                Err(why) => {
                    eprintln!("portcullis inspect: --require-scope: {why}");
                    return exit::USAGE;
                }
            }
        }
        other => other,
    };
    let unseen = if args.require_scopes.is_empty() {
        "requirements declared in code (#[requires_scopes], extractors, route layers) are not visible to this command; name them with --require-scope"
    } else {
        "requirements declared in code other than the --require-scope ones are not visible to this command"
    };
    let code = match &verdict {
        Ok(_) => exit::OK,
        Err(error) => code_for(error),
    };
    let verdict_json = match &verdict {
        Ok(principal) => json!({
            "accepted": true,
            "status": 200,
            "subject": principal.as_ref().and_then(Principal::subject),
            "client_id": principal.as_ref().and_then(Principal::client_id),
            "scopes": principal.as_ref().map(|p| p.scopes().iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
            "authorities": principal.as_ref().map(Principal::authorities),
            "not_checked": unseen,
        }),
        Err(error) => json!({
            "accepted": false,
            "status": error.status().as_u16(),
            "error": error.kind().code(),
            "reason": error.reason().as_str(),
            "description": error.description(),
            "detail": error.detail(),
        }),
    };
    if args.json {
        print_json(&json!({
            "mode": config.mode,
            "issuer": config.issuer,
            "audience": config.audience,
            "steps": steps,
            "verdict": verdict_json,
        }));
        return code;
    }
    crate::outln!(
        "portcullis inspect · mode {} · issuer {} · audience {}",
        show(&serde_json::to_value(config.mode).unwrap_or(Value::Null)),
        config.issuer.as_deref().unwrap_or("(none)"),
        config.audience.join(" ")
    );
    print_steps(&steps);
    match &verdict {
        Ok(principal) => {
            crate::outln!(
                "\naccepted by the token checks and the configured rules: {} {} passes Portcullis's layer",
                args.method,
                args.path
            );
            if let Some(principal) = principal {
                crate::outln!(
                    "principal: subject {}, client {}, scopes [{}], authorities [{}]",
                    principal.subject().unwrap_or("(none)"),
                    principal.client_id().unwrap_or("(none)"),
                    principal
                        .scopes()
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    principal.authorities().join(" ")
                );
            }
            crate::outln!("not checked: {unseen}");
        }
        Err(error) => {
            crate::outln!(
                "\nrefused: {} {}, reason {}: {}",
                error.status().as_u16(),
                error.kind().code().unwrap_or("(bare challenge)"),
                error.reason(),
                error.description()
            );
            if let Some(detail) = error.detail() {
                crate::outln!("detail (for the operator): {detail}");
            }
        }
    }
    code
}

/// `portcullis config`.
pub(crate) fn config(args: ConfigArgs) -> u8 {
    let loaded = match loader(&args.source).load() {
        Ok(loaded) => loaded,
        Err(errors) => return report_config_errors(&errors, args.json),
    };
    let entries = loaded.entries();
    if args.json {
        print_json(&json!({"valid": true, "keys": entries}));
        return exit::OK;
    }
    let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
    for entry in &entries {
        crate::outln!(
            "{:<width$} = {:<40}  ({})",
            entry.key,
            entry.value.to_string(),
            entry.source
        );
    }
    crate::outln!("\nthe configuration is valid");
    exit::OK
}

/// `portcullis discover`.
pub(crate) async fn discover(mut args: DiscoverArgs) -> u8 {
    if let Some(secret) = &args.client_secret {
        match argument_or_stdin(secret, "the client secret") {
            Ok(secret) => args.client_secret = Some(secret),
            Err(why) => {
                eprintln!("portcullis discover: {why}");
                return exit::USAGE;
            }
        }
    }
    // Without an issuer argument: the service's own issuer and introspection client, read as
    // the service reads them (files, profile, PORTCULLIS_* variables).
    let mut introspection = portcullis::config::IntrospectionConfig::default();
    let issuer_text = match &args.issuer {
        Some(issuer) => issuer.clone(),
        None => {
            let config = match loader(&args.source).load_unchecked() {
                Ok(config) => config,
                Err(errors) => {
                    eprintln!("portcullis discover: the configuration is invalid:\n{errors}");
                    return exit::CONFIG;
                }
            };
            let Some(issuer) = config.issuer.clone() else {
                eprintln!(
                    "portcullis discover: no issuer: pass it (`portcullis discover https://idp.example.com`) or configure portcullis.issuer (PORTCULLIS_ISSUER)"
                );
                return exit::USAGE;
            };
            args.allow_http |= config.dangerous.allow_http_issuer;
            introspection = config.introspection;
            issuer
        }
    };
    if args.client_id.is_some() {
        // A client given on the command line is tried with what the command line says.
        introspection = portcullis::config::IntrospectionConfig::default();
    }
    if let Some(id) = args.client_id.clone() {
        introspection.client_id = Some(id);
    }
    if let Some(secret) = args.client_secret.clone() {
        introspection.client_secret = Some(Secret::new(secret));
    }
    if let Some(method) = &args.auth_method {
        match serde_json::from_value::<ClientAuthMethod>(Value::String(method.clone())) {
            Ok(method) => introspection.auth_method = method,
            Err(_) => {
                eprintln!(
                    "portcullis discover: --auth-method {method:?}: expected client_secret_basic, client_secret_post, private_key_jwt or none"
                );
                return exit::USAGE;
            }
        }
    }
    let issuer = match IssuerUrl::parse(&issuer_text, args.allow_http) {
        Ok(issuer) => issuer,
        Err(error) => {
            eprintln!("portcullis discover: {issuer_text}: {error}");
            return exit::USAGE;
        }
    };
    let http = match HttpClient::new(Default::default()) {
        Ok(http) => http,
        Err(error) => {
            eprintln!("portcullis discover: {error}");
            return exit::UNAVAILABLE;
        }
    };
    let mut report = Map::new();
    let mut steps = Vec::new();
    let mut code = exit::OK;
    report.insert("issuer".into(), issuer.as_str().into());

    // 1. Metadata (OpenID, else RFC 8414), timed.
    let discovery = Arc::new(Discovery::new(
        issuer.clone(),
        http.clone(),
        Arc::new(SystemClock),
        std::time::Duration::ZERO,
    ));
    let started = Instant::now();
    let metadata = discovery.metadata().await;
    let elapsed = started.elapsed().as_millis();
    let metadata = match metadata {
        Ok(metadata) => {
            steps.push(Step::passed(
                "metadata",
                format!(
                    "{} answered in {elapsed} ms; issuer matches byte for byte",
                    issuer.openid_configuration_url()
                ),
            ));
            metadata
        }
        Err(error) => {
            steps.push(Step::failed("metadata", &error));
            code = code_for(&error).max(exit::REFUSED);
            return finish_discover(report, steps, args.json, code);
        }
    };
    let document = serde_json::to_value(&*metadata).unwrap_or(Value::Null);
    for (member, what) in [
        ("jwks_uri", "keys for local JWT validation"),
        ("introspection_endpoint", "RFC 7662 introspection"),
        ("userinfo_endpoint", "OIDC userinfo"),
        ("token_endpoint", "client credentials and token exchange"),
    ] {
        match document.get(member).and_then(Value::as_str) {
            Some(url) => steps.push(Step::info(member, format!("{url} ({what})"))),
            None => steps.push(Step::info(member, format!("not published ({what})"))),
        }
    }
    for member in [
        "id_token_signing_alg_values_supported",
        "introspection_endpoint_auth_methods_supported",
        "token_endpoint_auth_methods_supported",
    ] {
        if let Some(value) = document.get(member) {
            steps.push(Step::info(member, show(value)));
        }
    }
    report.insert("metadata".into(), document);

    // 2. The JWKS: every key, usable or not and why.
    if let Some(jwks_uri) = &metadata.jwks_uri {
        let started = Instant::now();
        match http.get_json::<Value>(IdpEndpoint::Jwks, jwks_uri).await {
            Ok(fetched) => {
                let elapsed = started.elapsed().as_millis();
                let (keys, step) = describe_keys(&fetched.value, elapsed);
                if step.status == StepStatus::Failed {
                    code = exit::REFUSED;
                }
                steps.push(step);
                report.insert("keys".into(), keys);
            }
            Err(error) => {
                steps.push(Step::failed(
                    "jwks",
                    &AuthError::unavailable(error.to_string()),
                ));
                code = exit::UNAVAILABLE;
            }
        }
    }

    // 3. Introspection with the client credentials given or configured.
    if let Some(client_id) = introspection.client_id.clone() {
        let step = try_introspection(introspection, &client_id, &issuer, &http, discovery).await;
        if step.status == StepStatus::Failed {
            // Refused credentials answer 503 in the service (the caller's token is not at
            // fault), but the IdP was reached: here they are a refusal, not an outage.
            let unreachable = step.status_code == Some(503)
                && step.reason != Some(Reason::CredentialsRefused.as_str());
            code = code.max(if unreachable {
                exit::UNAVAILABLE
            } else {
                exit::REFUSED
            });
        }
        steps.push(step);
    }
    finish_discover(report, steps, args.json, code)
}

fn describe_keys(document: &Value, elapsed_ms: u128) -> (Value, Step) {
    let set = match KeySet::parse(document, &ASYMMETRIC_ALGORITHMS) {
        Ok(set) => set,
        Err(why) => {
            return (
                Value::Null,
                Step::failed("jwks", &AuthError::unavailable(why)),
            );
        }
    };
    let usable: Vec<&str> = set.kids();
    let keys: Vec<Value> = document
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .map(|jwk| {
                    let kid = jwk.get("kid").and_then(Value::as_str);
                    json!({
                        "kid": kid,
                        "kty": jwk.get("kty"),
                        "alg": jwk.get("alg"),
                        "use": jwk.get("use"),
                        "crv": jwk.get("crv"),
                        "usable": kid.is_some_and(|k| usable.contains(&k)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let summary = keys
        .iter()
        .map(|k| {
            format!(
                "{} ({} {}{})",
                show(&k["kid"]),
                show(&k["kty"]),
                show(&k["alg"]),
                if k["usable"] == true {
                    ""
                } else {
                    ", not usable"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut detail = format!(
        "{} key(s), {} usable, fetched in {elapsed_ms} ms: {summary}",
        keys.len(),
        set.keys.len()
    );
    if !set.skipped.is_empty() {
        detail.push_str(&format!(" — skipped: {}", set.skipped.join("; ")));
    }
    let step = if set.keys.is_empty() {
        Step::failed(
            "jwks",
            &AuthError::misconfigured(format!("no usable signing key: {detail}")),
        )
    } else {
        Step::passed("jwks", detail)
    };
    (json!({"keys": keys, "skipped": set.skipped}), step)
}

async fn try_introspection(
    introspection: portcullis::config::IntrospectionConfig,
    client_id: &str,
    issuer: &IssuerUrl,
    http: &HttpClient,
    discovery: Arc<Discovery>,
) -> Step {
    let name = "introspection";
    let mut config = PortcullisConfig {
        issuer: Some(issuer.as_str().to_owned()),
        audience: vec!["portcullis-discover".into()],
        mode: Mode::Introspect,
        ..PortcullisConfig::default()
    };
    config.introspection = introspection;
    let client_auth = match ClientAuth::from_config(&config.introspection, issuer.as_str()) {
        Ok(auth) => auth,
        Err(why) => return Step::failed(name, &AuthError::misconfigured(why)),
    };
    let method_name = client_auth.method();
    let validator = IntrospectionValidator::new(
        IntrospectionSettings::from_config(&config, issuer.clone()),
        EndpointSource::Discovered(discovery, Endpoint::Introspection),
        client_auth,
        http.clone(),
        Arc::new(SystemClock),
    );
    match validator.check_credentials().await {
        Ok(()) => Step::passed(
            name,
            format!(
                "client {client_id} ({method_name}) is accepted: a probe token was answered (active: false, as it should be)",
            ),
        ),
        Err(error) => Step::failed(name, &error),
    }
}

fn finish_discover(report: Map<String, Value>, steps: Vec<Step>, as_json: bool, code: u8) -> u8 {
    if as_json {
        let mut report = report;
        report.insert(
            "steps".into(),
            serde_json::to_value(&steps).unwrap_or(Value::Null),
        );
        report.insert("ok".into(), (code == exit::OK).into());
        print_json(&Value::Object(report));
    } else {
        crate::outln!(
            "portcullis discover · {}",
            report.get("issuer").map(show).unwrap_or_default()
        );
        print_steps(&steps);
        crate::outln!(
            "\n{}",
            if code == exit::OK {
                "the issuer is usable"
            } else {
                "the issuer has problems (see ✗ above)"
            }
        );
    }
    code
}

/// `portcullis mint`.
pub(crate) async fn mint(args: MintArgs) -> u8 {
    let url = match url_is_loopback(&args.issuer) {
        Ok(url) => url,
        Err(why) => {
            eprintln!("portcullis mint: {why}");
            return exit::USAGE;
        }
    };
    let mut claims = Map::new();
    for claim in &args.claims {
        let Some((name, value)) = claim.split_once('=') else {
            eprintln!("portcullis mint: --claim {claim:?}: expected NAME=VALUE");
            return exit::USAGE;
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        claims.insert(name.to_owned(), value);
    }
    let body = json!({
        "sub": args.subject,
        "scope": args.scopes.join(" "),
        "lifetime": args.lifetime,
        "claims": claims,
    });
    let response = reqwest::Client::new()
        .post(format!("{}/mint", url.trim_end_matches('/')))
        .json(&body)
        .send()
        .await;
    let answer: Value = match response {
        Ok(response) if response.status().is_success() => match response.json().await {
            Ok(answer) => answer,
            Err(error) => {
                eprintln!("portcullis mint: the issuer's answer is not JSON: {error}");
                return exit::UNAVAILABLE;
            }
        },
        Ok(response) => {
            eprintln!(
                "portcullis mint: {url}/mint answered HTTP {}; is this a Portcullis development issuer?",
                response.status().as_u16()
            );
            return exit::UNAVAILABLE;
        }
        Err(error) => {
            eprintln!("portcullis mint: cannot reach {url}: {error}");
            return exit::UNAVAILABLE;
        }
    };
    let Some(token) = answer.get("access_token").and_then(Value::as_str) else {
        eprintln!(
            "portcullis mint: {url}/mint answered without an access_token; is {url} the development issuer's URL from the service's log?"
        );
        return exit::UNAVAILABLE;
    };
    if args.json {
        print_json(&answer);
    } else {
        crate::outln!("{token}");
    }
    exit::OK
}

fn url_is_loopback(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("--issuer {text:?}: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    if !loopback {
        return Err(format!(
            "--issuer {text}: mint talks only to a development issuer on this machine (127.0.0.1, ::1 or localhost)"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}
