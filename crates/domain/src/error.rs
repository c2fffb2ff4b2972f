//! The error returned when an input value does not satisfy a domain type's rules.
//!
//! The code is stable and machine-readable (ingest reports and API problem documents key on
//! it); the message is for people. Messages never quote the input, because the input may be an
//! ID number or a phone number and error messages end up in logs and rejection reports.

use serde::Serialize;

/// A broken validation rule: a stable dotted `code` such as `id_number.checksum` and a plain
/// English `message` saying what was expected. Field name and row are attached by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Stable, dotted, lower-case code; part of the public contract of ingest reports.
    pub code: &'static str,
    /// Human-readable explanation. Never contains the rejected value.
    pub message: String,
}

impl ValidationError {
    /// Builds an error from a stable code and a message that must not quote the input.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_message_and_serializes_both_fields() {
        let e = ValidationError::new("x.y", "must be z");
        assert_eq!(e.to_string(), "must be z");
        let json = serde_json::to_string(&e).expect("serialize");
        assert_eq!(json, r#"{"code":"x.y","message":"must be z"}"#);
    }
}
