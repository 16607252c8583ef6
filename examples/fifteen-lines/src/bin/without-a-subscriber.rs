//! The README's service without its `tracing_subscriber` line, as a user who skipped it runs it:
//! Portcullis must say on standard error that its log goes nowhere, and which line to add.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    portcullis::Portcullis::from_default_config().await?;
    Ok(())
}
