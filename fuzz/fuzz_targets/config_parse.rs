//! Configuration parsing: any text as `config/default.toml`, then the startup checks.
#![no_main]

use figment::Figment;
use figment::providers::{Format, Toml};
use libfuzzer_sys::fuzz_target;
use portcullis_core::config::PortcullisConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let figment = Figment::from(Toml::string(text));
    if let Ok(config) = figment.extract_inner::<PortcullisConfig>("portcullis") {
        let _ = config.check();
        let _ = portcullis_core::mapping::ClaimMapping::from_config(&config.claims);
    }
});
