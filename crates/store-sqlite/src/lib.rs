//! The embedded SQLite backend of the Sangam store.
//!
//! One database file in the hub's data directory, in WAL mode so that readers never wait for
//! the writer (or, for a process that loads in bulk on its own, with the rollback journal:
//! see [`Journal`]). rusqlite is synchronous, so every operation runs on tokio's blocking pool:
//! writes through one connection (SQLite has one writer at a time anyway), reads through a
//! few others.

mod accounts;
mod audit;
mod code_lists;
mod conflicts;
mod connections;
mod datasets;
mod jobs;
mod linking;
mod meta;
mod registry;
mod sharing;
mod sql;
mod uploads;
mod vault;
mod writeback;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sangam_store::{Store, StoreError, StoreResult};

use crate::connections::Connections;
pub use crate::connections::Journal;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "sangam.db";

/// A Sangam store in an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conns: Arc<Connections>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        Self::open_with(data_dir, Journal::Wal).await
    }

    /// [`SqliteStore::open`], keeping `journal` where it can (see [`Journal`]).
    pub async fn open_with(data_dir: &Path, journal: Journal) -> StoreResult<Self> {
        let path = data_dir.join(DATABASE_FILE);
        let opened = path.clone();
        let conns = tokio::task::spawn_blocking(move || -> StoreResult<Connections> {
            let conns = Connections::open(&opened, 4, journal)?;
            conns.migrate_blocking(migrate)?;
            Ok(conns)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database panicked: {e}")))??;
        restrict_to_owner(&path);
        Ok(SqliteStore {
            conns: Arc::new(conns),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal the store keeps: the one asked for, unless another process had the
    /// database open.
    pub fn journal(&self) -> Journal {
        self.conns.journal()
    }
}

/// Applies pending migrations. They run with foreign keys off: SQLite changes a table's
/// constraints by rebuilding it, and a table that others reference cannot be dropped with
/// them on. The keys are then checked over the whole database, so a migration can never
/// leave a broken one behind.
fn migrate(conn: &mut rusqlite::Connection) -> StoreResult<()> {
    let failed = |e: &dyn std::fmt::Display| StoreError::Migration(e.to_string());
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(|e| failed(&e))?;
    let report = embedded::migrations::runner().run(conn);
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| failed(&e))?;
    let report = report.map_err(|e| failed(&e))?;
    if !report.applied_migrations().is_empty() {
        let broken = conn
            .prepare("PRAGMA foreign_key_check")
            .and_then(|mut s| s.exists([]))
            .map_err(|e| failed(&e))?;
        if broken {
            return Err(StoreError::Migration(
                "after the migrations, some rows break a foreign key (PRAGMA foreign_key_check)"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The database and its WAL hold the registry: readable by the hub's user only. SQLite gives
/// the -wal and -shm files the database file's permissions when it creates them.
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}
