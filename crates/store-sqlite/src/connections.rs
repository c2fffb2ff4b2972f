//! The connections of one SQLite database: one writer, a few readers, used from tokio's
//! blocking pool so that a slow query never stalls the async runtime.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sangam_store::{StoreError, StoreResult};

use crate::sql::map_err;

#[derive(Debug)]
pub(crate) struct Connections {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves it usable: SQLite rolls back an open
    // transaction when the next one begins, so poisoning carries no meaning here.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The page size of a new database, in bytes (see `configure`).
const PAGE_SIZE: i64 = 16 * 1024;

pub(crate) fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(map_err)?;
    // Pages of 16 KiB instead of SQLite's 4 KiB, for a database created now (an existing
    // one keeps its own size: the setting takes effect only before the first table). The
    // hub's heavy work is bulk: uploads that write hundreds of megabytes, and index builds
    // and checks that scan whole tables, through the WAL, one page read at a time. Measured
    // on a million-row first load, same machine and run: 4 KiB 11.1-11.2 s, 8 KiB 10.2 s,
    // 16 KiB 9.4-9.9 s (system time 4.5 s to 3.1 s), 32 KiB 9.3 s. Small writes (an audit
    // entry, a review decision) then put 16 KiB frames in the WAL, which is cheap beside
    // that.
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(map_err)?;
    // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
    // (the hub promises that nothing accepted is lost, even on power failure).
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(map_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(map_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(map_err)?;
    conn.pragma_update(None, "cache_size", -64_000)
        .map_err(map_err)?;
    Ok(())
}

impl Connections {
    pub(crate) fn open(path: &Path, readers: usize) -> StoreResult<Self> {
        let open = |flags: OpenFlags| -> StoreResult<Connection> {
            let conn = Connection::open_with_flags(path, flags).map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
            })?;
            configure(&conn)?;
            Ok(conn)
        };
        let rw = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let writer = open(rw)?;
        let readers = (0..readers)
            .map(|_| open(rw).map(Mutex::new))
            .collect::<StoreResult<_>>()?;
        Ok(Connections {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    pub(crate) fn migrate_blocking(
        &self,
        migrate: impl FnOnce(&mut Connection) -> StoreResult<()>,
    ) -> StoreResult<()> {
        migrate(&mut lock(&self.writer))
    }

    /// Runs `f` with the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(self: &std::sync::Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&this.writer)))
            .await
            .map_err(|e| StoreError::Backend(format!("a database task failed: {e}")))?
    }

    /// Runs `f` with one of the reader connections on the blocking pool.
    pub(crate) async fn read<T, F>(self: &std::sync::Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let i = this.next_reader.fetch_add(1, Ordering::Relaxed) % this.readers.len();
            f(&lock(&this.readers[i]))
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a database task failed: {e}")))?
    }
}
