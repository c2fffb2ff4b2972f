//! Small helpers shared by the SQLite modules: error mapping and timestamp text.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Statement, Transaction, TransactionBehavior};
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

/// A timestamp as the tables with a row per person keep it (households, residents, vault
/// entries; see migration V12): microseconds since 1970-01-01 UTC.
pub(crate) fn micros(at: &DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Reads back what [`micros`] wrote.
pub(crate) fn from_micros(what: &'static str, micros: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::corrupt(what, format!("{micros} microseconds is out of range")))
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

/// Rows per statement of a multi-row `INSERT`: a bulk load then runs one statement per
/// batch instead of one per row (fewer steps and resets, and the table's cursors opened once
/// a batch).
pub(crate) const BATCH_ROWS: usize = 64;

/// Inserts `rows` with `INSERT OR FAIL INTO {target} VALUES (…), (…), …`, up to
/// [`BATCH_ROWS`] rows a statement; `target` is the table with its `width` columns, and
/// `bind(stmt, first, row)` binds one row's values to the parameters `first..first + width`.
/// A constraint failure names the row that broke it (`name(row)`).
///
/// `OR FAIL`, not the default `ABORT`: a multi-row statement that may abort must copy every
/// page it changes to a statement journal first, so that it can undo its own earlier rows;
/// with `FAIL` the rows before the failing one stay, and the caller's transaction, which a
/// failed insert always ends (a load fails whole), undoes them. Foreign keys checked row by
/// row need the statement journal all the same, so with foreign keys on rows go one by one.
pub(crate) fn insert_batched<T>(
    conn: &Connection,
    target: &str,
    width: usize,
    rows: &[T],
    mut bind: impl FnMut(&mut Statement<'_>, usize, &T) -> rusqlite::Result<()>,
    name: impl Fn(&T) -> String,
) -> StoreResult<()> {
    let naming = |r: &T| {
        let what = name(r);
        move |e| match e {
            StoreError::Conflict(detail) => StoreError::Conflict(format!("{what}: {detail}")),
            other => other,
        }
    };
    let row = format!("({})", vec!["?"; width].join(", "));
    let foreign_keys: bool = conn
        .prepare_cached("PRAGMA foreign_keys")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)?;
    let mut rest = rows;
    if !foreign_keys && rows.len() >= BATCH_ROWS {
        let mut many = conn
            .prepare_cached(&format!(
                "INSERT OR FAIL INTO {target} VALUES {}",
                vec![row.as_str(); BATCH_ROWS].join(", ")
            ))
            .map_err(map_err)?;
        let mut batches = rows.chunks_exact(BATCH_ROWS);
        for batch in &mut batches {
            let mut bound = Ok(());
            for (i, r) in batch.iter().enumerate() {
                bound = bind(&mut many, i * width + 1, r);
                if bound.is_err() {
                    break;
                }
            }
            if let Err(e) = bound.and_then(|()| many.raw_execute()).map_err(map_err) {
                // The rows before the one that failed went in.
                let failed = usize::try_from(conn.changes()).unwrap_or(usize::MAX);
                return Err(match batch.get(failed) {
                    Some(r) => naming(r)(e),
                    None => e,
                });
            }
        }
        rest = batches.remainder();
    }
    let mut single = conn
        .prepare_cached(&format!("INSERT OR FAIL INTO {target} VALUES {row}"))
        .map_err(map_err)?;
    for r in rest {
        bind(&mut single, 1, r)
            .and_then(|()| single.raw_execute())
            .map_err(map_err)
            .map_err(naming(r))?;
    }
    Ok(())
}
