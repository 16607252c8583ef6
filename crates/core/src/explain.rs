//! Why a token passes or fails, step by step: what `portcullis inspect` prints. Every validator
//! can explain itself ([`crate::TokenValidator::explain`]); the built-in ones run the very checks
//! they validate with, one by one, and go on after a failure where the next check still says
//! something.

use serde::Serialize;

use crate::error::AuthError;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// The check passed.
    Passed,
    /// The check failed: the token is refused (or could not be checked).
    Failed,
    /// Not run (an earlier failure made it meaningless).
    Skipped,
    /// Information, not a check.
    Info,
}

/// One step of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What was checked (`signature`, `expiry (exp)`, …).
    pub name: String,
    /// How it ended.
    pub status: StepStatus,
    /// What was seen, or why it failed.
    pub detail: String,
    /// The failure's [`crate::error::Reason`] name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The HTTP status the failure gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

impl Step {
    /// A passed check.
    pub fn passed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, StepStatus::Passed, detail)
    }

    /// A failed check, with the error's description, detail and reason.
    pub fn failed(name: impl Into<String>, error: &AuthError) -> Self {
        // For 503 and 500 the description is the generic text clients get; the detail says what
        // happened.
        let detail = match (error.kind(), error.detail()) {
            (crate::ErrorKind::Unavailable | crate::ErrorKind::Misconfigured, Some(detail)) => {
                detail.to_owned()
            }
            (_, Some(detail)) => format!("{} ({detail})", error.description()),
            (_, None) => error.description().to_owned(),
        };
        Self {
            reason: Some(error.reason().as_str()),
            status_code: Some(error.status().as_u16()),
            ..Self::new(name, StepStatus::Failed, detail)
        }
    }

    /// A check not run.
    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(name, StepStatus::Skipped, why)
    }

    /// Information.
    pub fn info(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, StepStatus::Info, detail)
    }

    /// The step for a result.
    pub fn from_result(
        name: impl Into<String>,
        result: &Result<(), AuthError>,
        passed: impl Into<String>,
    ) -> Self {
        match result {
            Ok(()) => Self::passed(name, passed),
            Err(error) => Self::failed(name, error),
        }
    }

    fn new(name: impl Into<String>, status: StepStatus, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
            reason: None,
            status_code: None,
        }
    }
}
