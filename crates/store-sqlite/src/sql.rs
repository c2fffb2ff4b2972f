//! Small helpers shared by the SQLite modules: error mapping and timestamp text.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use sangam_store::audit::canonical_time;
use sangam_store::{StoreError, StoreResult};

/// Maps a driver error once: constraint violations are conflicts, a locked database is
/// unavailable, everything else a backend error.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::ConstraintViolation => StoreError::Conflict(e.to_string()),
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                StoreError::Unavailable(e.to_string())
            }
            rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Backend(e.to_string()),
        },
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Timestamps are stored as fixed-width RFC 3339 text, which sorts in time order.
pub(crate) fn ts(at: &DateTime<Utc>) -> String {
    canonical_time(at)
}

pub(crate) fn parse_ts(what: &'static str, text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::corrupt(what, e))
}

/// Begins a write transaction that takes the write lock at once, so two processes never
/// deadlock upgrading read locks.
pub(crate) fn begin(conn: &mut Connection) -> StoreResult<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)
}
