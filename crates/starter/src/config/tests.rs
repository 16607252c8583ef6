//! Loading and error reporting, against files and variables set in a figment `Jail`.

#![allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error"
)]

use super::*;
use figment::Jail;

#[allow(unused_imports, reason = "the tests reach into every part")]
use super::{report::*, sources::*};

fn load_in(jail: &Jail) -> Result<LoadedConfig, ConfigErrors> {
    ConfigLoader::new()
        .dir(jail.directory().join("config"))
        .load()
}

#[test]
fn files_then_profile_then_environment_later_wins() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file("config/default.toml", "[portcullis]\nissuer = \"https://a.example\"\naudience = \"api\"\n[portcullis.jwt]\nleeway = 30\n")?;
        jail.create_file(
            "config/prod.toml",
            "[portcullis]\nissuer = \"https://b.example\"\n",
        )?;
        jail.set_env("PORTCULLIS_PROFILE", "prod");
        jail.set_env("PORTCULLIS_JWT__LEEWAY", "5");
        jail.set_env("PORTCULLIS_JWT__STRICT_TYP", "true");
        let loaded = ConfigLoader::new()
            .dir(jail.directory().join("config"))
            .load()
            .unwrap();
        assert_eq!(loaded.config.issuer.as_deref(), Some("https://b.example"));
        assert_eq!(loaded.config.audience, vec!["api"]);
        assert_eq!(loaded.config.jwt.leeway, std::time::Duration::from_secs(5));
        assert!(loaded.config.jwt.strict_typ);
        assert_eq!(
            loaded.source_of("jwt.leeway"),
            "environment variable PORTCULLIS_JWT__LEEWAY"
        );
        assert!(
            loaded.source_of("issuer").ends_with("prod.toml:2"),
            "{}",
            loaded.source_of("issuer")
        );
        assert!(
            loaded.source_of("audience").ends_with("default.toml:3"),
            "{}",
            loaded.source_of("audience")
        );
        assert_eq!(loaded.source_of("mode"), "default");
        Ok(())
    });
}

#[test]
fn values_set_by_a_tool_win_name_their_source_and_are_still_checked() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file(
            "config/default.toml",
            "[portcullis]\naudience = \"api\"\n[portcullis.jwt]\nleeway = 30\n",
        )?;
        jail.set_env("PORTCULLIS_ISSUER", "https://env.example");
        let loaded = ConfigLoader::new()
            .dir(jail.directory().join("config"))
            .set("issuer", "https://cli.example")
            .load()
            .unwrap();
        assert_eq!(loaded.config.issuer.as_deref(), Some("https://cli.example"));
        assert_eq!(loaded.source_of("issuer"), "command line");
        assert_eq!(loaded.config.jwt.leeway, std::time::Duration::from_secs(30));
        let errors = ConfigLoader::new()
            .dir(jail.directory().join("config"))
            .set("mode", "jwtt")
            .load()
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("portcullis.mode") && errors.contains("command line"),
            "{errors}"
        );
        Ok(())
    });
}

#[test]
fn the_fixed_environment_names_reach_their_keys() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTCULLIS_ISSUER", "https://idp.example");
        jail.set_env("PORTCULLIS_AUDIENCE", "api://x");
        jail.set_env("PORTCULLIS_MODE", "introspect");
        jail.set_env("PORTCULLIS_JWKS_URI", "https://idp.example/keys");
        jail.set_env(
            "PORTCULLIS_INTROSPECTION__ENDPOINT",
            "https://idp.example/introspect",
        );
        jail.set_env("PORTCULLIS_INTROSPECTION__CLIENT_ID", "orders-api");
        jail.set_env("PORTCULLIS_INTROSPECTION__CLIENT_SECRET", "s3cret");
        let loaded = load_in(jail).unwrap();
        assert_eq!(
            loaded.config.mode,
            portcullis_core::config::Mode::Introspect
        );
        let i = &loaded.config.introspection;
        assert_eq!(
            i.endpoint.as_deref(),
            Some("https://idp.example/introspect")
        );
        assert_eq!(i.client_id.as_deref(), Some("orders-api"));
        assert_eq!(i.client_secret.as_ref().map(|s| s.expose()), Some("s3cret"));
        assert_eq!(loaded.config.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(loaded.config.audience, vec!["api://x"]);
        assert_eq!(
            loaded.config.jwks_uri.as_deref(),
            Some("https://idp.example/keys")
        );
        Ok(())
    });
}

#[test]
fn a_typo_is_an_error_with_the_nearest_key_and_its_file() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file(
            "config/default.toml",
            "[portcullis]\nissuer = \"https://a.example\"\naudiance = \"api\"\n",
        )?;
        let errors = load_in(jail).unwrap_err();
        let text = errors.to_string();
        assert!(text.contains("portcullis.audiance"), "{text}");
        assert!(text.contains("did you mean `audience`?"), "{text}");
        assert!(text.contains("default.toml"), "{text}");
        Ok(())
    });
}

#[test]
fn every_problem_is_reported_in_one_run_with_the_key_as_written_and_its_line() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        // Two typos and a bad value (the missing issuer is the builder's to report: a
        // development issuer may stand in).
        jail.create_file(
            "config/default.toml",
            "[portcullis]\nisuer = \"https://a.example\"\naudiance = \"api\"\n\n[portcullis.jwt]\nleeway = \"soon\"\n",
        )?;
        let errors = load_in(jail).unwrap_err();
        let text = errors.to_string();
        let lines: Vec<&str> = text.lines().collect();
        let line_of = |key: &str| {
            lines
                .iter()
                .find(|l| l.contains(&format!("- {key} ")) || l.contains(&format!("- {key}:")))
                .unwrap_or_else(|| panic!("no line for {key} in:\n{text}"))
                .to_string()
        };
        assert!(
            line_of("portcullis.isuer").contains("config/default.toml:2"),
            "{text}"
        );
        assert!(
            line_of("portcullis.isuer").contains("did you mean `issuer`?"),
            "{text}"
        );
        assert!(
            line_of("portcullis.audiance").contains("config/default.toml:3"),
            "{text}"
        );
        assert!(
            line_of("portcullis.jwt.leeway").contains("config/default.toml:6"),
            "{text}"
        );
        assert!(!text.contains("audiance.audiance"), "{text}");
        Ok(())
    });
}

#[test]
fn without_default_toml_the_errors_say_where_it_was_looked_for() {
    Jail::expect_with(|jail| {
        let text = load_in(jail).unwrap_err().to_string();
        assert!(text.contains("portcullis.audience"), "{text}");
        assert!(text.contains("configuration folder = "), "{text}");
        assert!(
            text.contains(&jail.directory().join("config").display().to_string()),
            "the absolute folder: {text}"
        );
        jail.set_env("PORTCULLIS_CONFIG_DIR", "/nowhere/config");
        let text = ConfigLoader::new().load().unwrap_err().to_string();
        assert!(
            text.contains("configuration folder = /nowhere/config (from environment variable PORTCULLIS_CONFIG_DIR): names no folder"),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn a_typo_in_the_environment_names_the_variable_that_was_set() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTCULLIS_ISSUER", "https://a.example");
        jail.set_env("PORTCULLIS_AUDIANCE", "api");
        let text = load_in(jail).unwrap_err().to_string();
        assert!(
            text.contains("portcullis.audiance (from environment variable PORTCULLIS_AUDIANCE)"),
            "{text}"
        );
        assert!(!text.contains("PORTCULLIS_AUDIANCE__"), "{text}");
        Ok(())
    });
}

#[test]
fn a_bad_value_names_key_value_and_variable_and_masks_secrets() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTCULLIS_AUDIENCE", "api");
        jail.set_env("PORTCULLIS_JWT__LEEWAY", "soon");
        let text = load_in(jail).unwrap_err().to_string();
        assert!(text.contains("portcullis.jwt.leeway"), "{text}");
        assert!(text.contains("PORTCULLIS_JWT__LEEWAY"), "{text}");
        jail.set_env("PORTCULLIS_JWT__LEEWAY", "5");
        jail.set_env("PORTCULLIS_JWT__HMAC_SECRET", "tiny-secret-value");
        jail.set_env("PORTCULLIS_JWT__ALGORITHMS", "[HS256]");
        let text = load_in(jail).unwrap_err().to_string();
        assert!(text.contains("portcullis.jwt.hmac-secret = ***"), "{text}");
        assert!(!text.contains("tiny-secret-value"), "{text}");
        Ok(())
    });
}

#[test]
fn an_unknown_mode_and_an_insecure_issuer_are_explained() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTCULLIS_AUDIENCE", "api");
        jail.set_env("PORTCULLIS_MODE", "magic");
        let text = load_in(jail).unwrap_err().to_string();
        assert!(text.contains("portcullis.mode = \"magic\""), "{text}");
        assert!(text.contains("expected one of: jwt"), "{text}");
        jail.set_env("PORTCULLIS_MODE", "jwt");
        jail.set_env("PORTCULLIS_ISSUER", "http://idp.example");
        let text = load_in(jail).unwrap_err().to_string();
        assert!(text.contains("portcullis.issuer = http://idp.example (from environment variable PORTCULLIS_ISSUER)"), "{text}");
        assert!(text.contains("https"), "{text}");
        Ok(())
    });
}

#[test]
fn a_misspelled_section_is_pointed_out() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file(
            "config/default.toml",
            "[portcullus]\nissuer = \"https://a.example\"\n",
        )?;
        let text = load_in(jail).unwrap_err().to_string();
        assert!(text.contains("did you mean `[portcullis]`?"), "{text}");
        Ok(())
    });
}

#[test]
fn a_missing_profile_file_is_an_error() {
    Jail::expect_with(|jail| {
        let error = ConfigLoader::new()
            .dir(jail.directory())
            .profile("prdo")
            .load()
            .unwrap_err();
        assert!(
            error.to_string().contains("prdo.toml does not exist"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn the_config_types_deserialize_from_config_rs() {
    let settings = config::Config::builder()
        .add_source(config::File::from_str(
            "[portcullis]\nissuer = \"https://idp.example\"\naudience = [\"a\", \"b\"]\n[portcullis.jwt]\nleeway = \"90s\"\nstrict-typ = true\n",
            config::FileFormat::Toml,
        ))
        .build()
        .unwrap();
    let config: PortcullisConfig = settings.get("portcullis").unwrap();
    assert_eq!(config.issuer.as_deref(), Some("https://idp.example"));
    assert_eq!(config.audience, vec!["a", "b"]);
    assert_eq!(config.jwt.leeway, std::time::Duration::from_secs(90));
    assert!(config.jwt.strict_typ);
    assert!(config.check().is_empty());
}

#[test]
fn env_names_follow_the_documented_mapping() {
    assert_eq!(
        env_name("portcullis.introspection.client-secret"),
        "PORTCULLIS_INTROSPECTION__CLIENT_SECRET"
    );
    assert_eq!(env_name("portcullis.jwks-uri"), "PORTCULLIS_JWKS_URI");
}
