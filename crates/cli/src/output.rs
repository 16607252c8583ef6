//! Human and JSON output.

use std::io::Write as _;

use portcullis::unstable::core::explain::{Step, StepStatus};
use serde_json::Value;

/// Writes a line to standard output. A closed pipe (`portcullis config | head`) is not an error
/// worth a panic: the rest of the output is dropped.
pub(crate) fn line(text: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `println!` that never panics on a closed pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// Prints steps as aligned lines: `✓` passed, `✗` failed, `-` skipped, `·` information.
pub(crate) fn print_steps(steps: &[Step]) {
    let width = steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for step in steps {
        let mark = match step.status {
            StepStatus::Passed => "✓",
            StepStatus::Failed => "✗",
            StepStatus::Skipped => "-",
            StepStatus::Info => "·",
        };
        let why = match (step.reason, step.status_code) {
            (Some(reason), Some(code)) => format!("  [{reason} → {code}]"),
            _ => String::new(),
        };
        crate::outln!(
            "  {mark} {:<width$}  {}{why}",
            step.name,
            step.detail,
            width = width
        );
    }
}

/// Prints a JSON value, pretty.
pub(crate) fn print_json(value: &Value) {
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// A JSON value shown on one line, strings without quotes.
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}
