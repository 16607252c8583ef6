//! `portcullis`: the command that answers "why 401?".
//!
//! ```text
//! portcullis inspect <token>       every validation step against the service's configuration
//! portcullis discover <issuer>     metadata, keys, reachability; with --client-id, introspection
//! portcullis config                the resolved configuration, the source of each value, checked
//! portcullis mint                  a token from a running development issuer
//! ```
//!
//! Exit codes: 0 success; 1 the token is refused or the issuer has a problem; 2 usage; 3 the
//! configuration is invalid; 4 the authorization server is unreachable.

#[macro_use]
mod output;
mod commands;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit codes.
pub mod exit {
    /// The token is valid, the issuer fine, the configuration valid, the token minted.
    pub const OK: u8 = 0;
    /// The token is refused (400/401/403), or the issuer has a problem.
    pub const REFUSED: u8 = 1;
    /// Bad arguments (clap's own code).
    pub const USAGE: u8 = 2;
    /// The configuration is invalid, or the server would answer 500.
    pub const CONFIG: u8 = 3;
    /// The authorization server is unreachable or answers badly (503).
    pub const UNAVAILABLE: u8 = 4;
}

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Why was this token refused? What does this issuer publish? Which configuration is in force?",
    after_help = "Exit codes: 0 ok, 1 token refused or issuer problem, 2 usage, 3 invalid configuration, 4 authorization server unreachable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decodes a token and runs every validation step of the service's configuration, saying
    /// which passed and which failed, and why.
    Inspect(InspectArgs),
    /// Shows an issuer's metadata and keys and whether they are reachable; with client
    /// credentials, tries an introspection call and explains a failure.
    Discover(DiscoverArgs),
    /// Prints the resolved configuration with the source of each value (secrets masked) and
    /// validates it.
    Config(ConfigArgs),
    /// Gets a token from a running development issuer (the one hello-api starts when no issuer
    /// is configured).
    Mint(MintArgs),
}

/// Where the service's configuration comes from.
#[derive(Debug, Args)]
struct ConfigSource {
    /// The configuration directory (`default.toml`, `<profile>.toml`).
    #[arg(long, default_value = "config", value_name = "DIR")]
    config_dir: std::path::PathBuf,
    /// The profile (default: PORTCULLIS_PROFILE).
    #[arg(long)]
    profile: Option<String>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The access token (`Bearer ` prefix allowed); `-` reads it from standard input, and
    /// without the argument it comes from PORTCULLIS_CLI_TOKEN (arguments show in process lists).
    /// Opaque tokens may begin with `-` (one in 64 base64url tokens does): they are taken as the
    /// token, not as an option.
    #[arg(
        env = "PORTCULLIS_CLI_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    token: Option<String>,
    #[command(flatten)]
    source: ConfigSource,
    /// Overrides portcullis.issuer (over files and environment; the result is still checked).
    #[arg(long)]
    issuer: Option<String>,
    /// Overrides portcullis.audience (repeatable).
    #[arg(long)]
    audience: Vec<String>,
    /// Overrides portcullis.mode.
    #[arg(long, value_parser = ["jwt", "introspect", "auto"])]
    mode: Option<String>,
    /// The request method the access rules are checked for.
    #[arg(long, default_value = "GET")]
    method: String,
    /// The request path the access rules are checked for.
    #[arg(long, default_value = "/")]
    path: String,
    /// A scope the route requires in code (`#[requires_scopes]`, an extractor, a route layer),
    /// which this command cannot see by itself; repeatable, all are required.
    #[arg(long = "require-scope", value_name = "SCOPE")]
    require_scopes: Vec<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DiscoverArgs {
    /// The issuer identifier (https; http only for loopback). Default: the service's
    /// portcullis.issuer (files and PORTCULLIS_* variables, as the service reads them).
    issuer: Option<String>,
    #[command(flatten)]
    source: ConfigSource,
    /// A client id to try introspection with. Default, when no issuer is given: the service's
    /// portcullis.introspection.client-id (and its secret, auth method and key).
    #[arg(long)]
    client_id: Option<String>,
    /// Its secret: `-` reads it from standard input, and without the option it comes from
    /// PORTCULLIS_CLI_CLIENT_SECRET, else from the service's configuration
    /// (PORTCULLIS_INTROSPECTION__CLIENT_SECRET). Arguments show in process lists.
    #[arg(
        long,
        env = "PORTCULLIS_CLI_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    client_secret: Option<String>,
    /// client_secret_basic, client_secret_post or none (default: the configured method, else
    /// client_secret_basic).
    #[arg(long)]
    auth_method: Option<String>,
    /// Accept a plain-http issuer that is not loopback (dangerous).
    #[arg(long)]
    allow_http: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    #[command(flatten)]
    source: ConfigSource,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct MintArgs {
    /// The development issuer's URL (printed in the service's log).
    #[arg(long)]
    issuer: String,
    /// `sub`.
    #[arg(long, default_value = "developer")]
    subject: String,
    /// A scope (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Lifetime in seconds (at most one day).
    #[arg(long, default_value_t = 3600)]
    lifetime: u64,
    /// Another claim, `name=value`; the value is parsed as JSON when it can be (repeatable).
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("portcullis: cannot start the async runtime: {error}");
            return ExitCode::from(exit::UNAVAILABLE);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Inspect(args) => commands::inspect(args).await,
            Command::Discover(args) => commands::discover(args).await,
            Command::Config(args) => commands::config(args),
            Command::Mint(args) => commands::mint(args).await,
        }
    });
    ExitCode::from(code)
}
