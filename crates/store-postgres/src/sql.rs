//! Small helpers shared by the PostgreSQL modules: error mapping, in one place, and the
//! conversion of unsigned key versions.

use std::error::Error as _;

use bytes::Bytes;
use deadpool_postgres::{GenericClient, Object, PoolError, Transaction};
use sangam_store::{StoreError, StoreResult};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{CopyInSink, Row, Statement};

/// The text of an error and its causes, for errors that are not the server's own (the driver
/// prints only its outermost layer, "error connecting to server", without the reason).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Whether a server error means the database cannot serve us now rather than that the
/// statement is wrong: connection exceptions (class 08), shutdowns, too many connections.
fn unavailable_state(code: &SqlState) -> bool {
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::DATABASE_DROPPED,
        ]
        .contains(code)
}

/// Maps a driver error once: unique and foreign-key violations are conflicts, a lost
/// connection is unavailable, everything else a backend error. Only the server's message is
/// kept, never its detail (which quotes the values), so no bound parameter leaks into logs;
/// callers that need to name a record add it themselves (see [`conflict_detail`]).
pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::Conflict(db.message().to_owned());
        }
        if unavailable_state(code) {
            return StoreError::Unavailable(db.message().to_owned());
        }
        return StoreError::Backend(format!("{} (SQLSTATE {})", db.message(), code.code()));
    }
    if e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()) {
        return StoreError::Unavailable(format!(
            "lost the connection to PostgreSQL: {}",
            chain(&e)
        ));
    }
    StoreError::Backend(chain(&e))
}

/// Maps a registry write's error like [`map_err`], but names the record of a conflict with
/// the server's detail (`Key (card_number)=(PY0100000001) already exists.`): in a bulk
/// statement only the server knows which row broke the rule.
pub(crate) fn conflict_detail(table: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        let detail = e
            .as_db_error()
            .and_then(|db| db.detail().map(str::to_owned));
        match (map_err(e), detail) {
            (StoreError::Conflict(message), Some(detail)) => {
                StoreError::Conflict(format!("{table}: {message}: {detail}"))
            }
            (StoreError::Conflict(message), None) => {
                StoreError::Conflict(format!("{table}: {message}"))
            }
            (other, _) => other,
        }
    }
}

/// Maps an error of the connection pool: every one of them means no connection now.
pub(crate) fn map_pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => {
            StoreError::Unavailable(format!("cannot connect to PostgreSQL: {}", chain(&e)))
        }
        PoolError::Timeout(_) => {
            StoreError::Unavailable("timed out waiting for a PostgreSQL connection".into())
        }
        other => StoreError::Unavailable(format!("PostgreSQL connection pool: {other}")),
    }
}

/// Key versions are `u32` in the records and BIGINT in the schema.
pub(crate) fn version_from_db(what: &'static str, v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::corrupt(what, format!("key version {v} out of range")))
}

/// Counts are BIGINT; a negative one cannot happen, and would read as zero.
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Statement parameters, as the driver takes them.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs a statement (prepared once per connection and cached) and returns its rows.
pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query(&stmt, params).await.map_err(map_err)
}

/// Runs a statement that returns at most one row.
pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query_opt(&stmt, params).await.map_err(map_err)
}

/// Runs a statement that returns exactly one row.
pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query_one(&stmt, params).await.map_err(map_err)
}

/// Runs a statement and returns how many rows it changed.
pub(crate) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.execute(&stmt, params).await.map_err(map_err)
}

/// Reads column `idx` of a row; a value of an unexpected type is reported as corrupt.
pub(crate) fn get<'a, T: FromSql<'a>>(
    what: &'static str,
    row: &'a Row,
    idx: usize,
) -> StoreResult<T> {
    row.try_get(idx)
        .map_err(|e| StoreError::corrupt(what, chain(&e)))
}

/// A connection `COPY ... FROM STDIN` can write through: a pooled client, or a transaction
/// on one (deadpool's `GenericClient` has no `copy_in`).
pub(crate) trait CopyClient: GenericClient {
    fn copy_in_sink(
        &self,
        statement: &Statement,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send;
}

impl CopyClient for Object {
    fn copy_in_sink(
        &self,
        statement: &Statement,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send {
        self.copy_in(statement)
    }
}

impl CopyClient for Transaction<'_> {
    fn copy_in_sink(
        &self,
        statement: &Statement,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send {
        self.copy_in(statement)
    }
}

/// Writes rows with `COPY ... FROM STDIN (FORMAT binary)`: `into` is the table with its column
/// list, `types` the columns' types, each row the values in that order. Rows go this way
/// rather than as an `INSERT` of arrays: the server reads the rows as they come instead of
/// building arrays of them and then a row of each array element. A conflict is mapped as
/// [`conflict_detail`] maps it, naming `table`.
pub(crate) async fn copy_rows<C: CopyClient, const N: usize>(
    c: &C,
    table: &'static str,
    into: &str,
    types: &[Type; N],
    rows: &[[&(dyn ToSql + Sync); N]],
) -> StoreResult<u64> {
    let stmt = c
        .prepare_cached(&format!("COPY {into} FROM STDIN (FORMAT binary)"))
        .await
        .map_err(map_err)?;
    let sink = c.copy_in_sink(&stmt).await.map_err(map_err)?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, types));
    for row in rows {
        writer
            .as_mut()
            .write(row)
            .await
            .map_err(conflict_detail(table))?;
    }
    writer.finish().await.map_err(conflict_detail(table))
}
