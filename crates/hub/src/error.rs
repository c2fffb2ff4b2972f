//! The service layer's error type; the HTTP edge maps it to problem+json in one place.

use sangam_store::StoreError;
use sangam_vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(
        "this is not the master key the hub was created with (the store expects key {expected}, this key is {found}); \
         start the hub with its original key"
    )]
    WrongMasterKey { expected: String, found: String },
    /// A value from outside broke a rule; `field` names where.
    #[error("{field}: {message} ({code})")]
    Invalid {
        field: String,
        code: &'static str,
        message: String,
    },
    #[error("{0} was not found")]
    NotFound(String),
    #[error("sign-in failed: unknown user, wrong password or disabled account")]
    BadCredentials,
    #[error("the session is missing, expired or signed out")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// What was asked for existed but is gone for good (removed under the hub's retention
    /// policy); the message says when and why.
    #[error("{0}")]
    Gone(String),
    /// A consuming application's call refused by a named rule of the sharing policy.
    #[error("{} ({})", .0.message, .0.code)]
    Denied(crate::sharing::gate::Denial),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type HubResult<T> = Result<T, HubError>;

impl HubError {
    /// Attaches a field name to a domain validation error.
    pub fn invalid(field: impl Into<String>, e: sangam_domain::ValidationError) -> Self {
        HubError::Invalid {
            field: field.into(),
            code: e.code,
            message: e.message,
        }
    }
}
