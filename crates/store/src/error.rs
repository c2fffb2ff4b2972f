//! The storage layer's error type. Backends map their drivers' errors into it once, with
//! enough context for an operator, and never with a sensitive value in the message.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened: a down server, a wrong URL, a missing directory.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A uniqueness rule or an optimistic-concurrency check refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The thing to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored value does not parse back into its domain type.
    #[error("corrupt stored data in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// Any other failure of the database driver.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}
