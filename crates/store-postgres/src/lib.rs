//! The PostgreSQL backend of the Sangam store.
//!
//! For production: several hub processes may share one database. Connections come from a
//! deadpool pool; the embedded migrations run at start-up under a session advisory lock, so
//! processes starting together never race to create the schema; audit appends serialise on a
//! transaction advisory lock, and job claims on `FOR UPDATE SKIP LOCKED`. Bulk writes (the
//! vault and the registry) send each batch as arrays in one `UNNEST` statement per table, or,
//! where nothing has to be looked up or skipped (an upload's registry rows, a first load's
//! vault entries), as one binary `COPY` per table. An upload loads in one transaction on a
//! connection of its own, which holds a session advisory lock on the upload while it lives
//! (see `uploads`), driven by a task of its own that queues the writes the caller need not wait
//! for (see `load`); a first load builds most indexes at its commit (see `first_load`).

mod accounts;
mod audit;
mod code_lists;
mod conflicts;
mod datasets;
mod first_load;
mod jobs;
mod linking;
mod load;
mod meta;
mod registry;
mod sharing;
mod sql;
mod uploads;
mod url;
mod vault;

use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use sangam_store::{Store, StoreError, StoreResult};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::sql::{chain, map_err, map_pool_err};
pub use crate::url::with_database;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The session advisory lock held while migrations run ("SANGAM" and 1).
const MIGRATION_LOCK: i64 = 0x5341_4E47_414D_0001;
/// The transaction advisory lock that serialises audit appends ("SANGAM" and 2).
pub(crate) const AUDIT_LOCK: i64 = 0x5341_4E47_414D_0002;

/// Connections the pool keeps at most.
const POOL_SIZE: usize = 16;
/// How long to wait for a new connection when the URL does not say (`connect_timeout`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an operation waits for a free connection before reporting the database busy.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// A Sangam store in a PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    target: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Parses a connection URL (or `key=value` string); a failure names the server without the
/// password.
fn parse_config(url: &str) -> StoreResult<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        StoreError::Unavailable(format!(
            "invalid PostgreSQL URL {}: {}",
            url::redact(url),
            chain(&e)
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// Opens one connection outside the pool, driving it on a task of its own.
async fn connect_one(
    config: &tokio_postgres::Config,
    target: &str,
) -> StoreResult<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let (client, connection) = config.connect(NoTls).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL at {target}: {}",
            connect_reason(&e)
        ))
    })?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %chain(&e), "a PostgreSQL connection failed");
        }
    });
    Ok((client, driver))
}

/// Why a connection attempt failed: the server's message if it answered, else the cause.
fn connect_reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => chain(e),
    }
}

/// Applies the pending migrations on a connection of its own, holding a session advisory
/// lock so that only one process migrates at a time; the others wait and then find nothing
/// to do. Closing the connection releases the lock whatever happens.
async fn migrate(config: &tokio_postgres::Config, target: &str) -> StoreResult<()> {
    let (mut client, driver) = connect_one(config, target).await?;
    let result = async {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(map_err)?;
        let report = embedded::migrations::runner()
            .run_async(&mut client)
            .await
            .map_err(|e| StoreError::Migration(chain(&e)));
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(map_err);
        let report = report?;
        unlocked?;
        for migration in report.applied_migrations() {
            tracing::info!(%migration, "applied a PostgreSQL migration");
        }
        Ok(())
    }
    .await;
    drop(client);
    // The connection ends once its client is gone; its task only logs.
    let _ = driver.await;
    result
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname`),
    /// checks that it answers, and applies pending migrations. An unreachable server is
    /// `Unavailable`, with a message that names host, port and database but never the
    /// password.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let config = parse_config(url)?;
        let target = url::describe(&config);
        let connect_timeout = config.get_connect_timeout().copied();
        migrate(&config, &target).await?;

        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(connect_timeout)
            .build()
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot build the connection pool: {e}"))
            })?;
        let store = PostgresStore { pool, target };
        // The first pooled connection, made now, so that a pool that cannot connect says so
        // at start-up rather than at the first request.
        let first = store.pool.get().await.map_err(|e| {
            let reason = match e {
                PoolError::Backend(e) => connect_reason(&e),
                other => other.to_string(),
            };
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {reason}",
                store.target
            ))
        })?;
        drop(first);
        tracing::debug!(server = %store.target, "connected to PostgreSQL");
        Ok(store)
    }

    /// The server and database, as `host:port/dbname` (no user name or password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(map_pool_err)
    }
}

impl Store for PostgresStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }
}

/// Connects to the maintenance database at `admin_url` for one statement that cannot run
/// inside a database (creating or dropping one).
async fn admin_execute(admin_url: &str, statement: &str) -> StoreResult<()> {
    let config = parse_config(admin_url)?;
    let target = url::describe(&config);
    let (client, driver) = connect_one(&config, &target).await?;
    let result = client.batch_execute(statement).await.map_err(|e| {
        if e.code() == Some(&SqlState::DUPLICATE_DATABASE) {
            StoreError::Conflict(
                e.as_db_error()
                    .map_or_else(|| chain(&e), |db| db.message().to_owned()),
            )
        } else {
            map_err(e)
        }
    });
    drop(client);
    let _ = driver.await;
    result
}

/// Creates the database `name` on the server of `admin_url` (which names any database the
/// user may connect to, such as `postgres`). Tests use it to work in a fresh database.
pub async fn create_database(admin_url: &str, name: &str) -> StoreResult<()> {
    admin_execute(
        admin_url,
        &format!("CREATE DATABASE {}", url::quote_ident(name)),
    )
    .await
}

/// Drops the database `name` if it exists, closing the connections still open to it.
pub async fn drop_database(admin_url: &str, name: &str) -> StoreResult<()> {
    admin_execute(
        admin_url,
        &format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            url::quote_ident(name)
        ),
    )
    .await
}
