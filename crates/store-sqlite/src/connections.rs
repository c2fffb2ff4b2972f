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
    /// The journal the connections keep: the one asked for, unless another process had the
    /// database open (see [`Journal::Rollback`]).
    journal: Journal,
}

/// How the database journals its writes, chosen when the store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journal {
    /// The write-ahead log: readers never wait for the writer, so a serving hub keeps
    /// answering while an upload loads. Every page a transaction writes is written twice,
    /// to the log and then, at the checkpoint, to the database.
    Wal,
    /// The rollback journal, for a process that loads in bulk on its own (`sangam ingest`):
    /// a page new to the database is written once, straight into it, and only the pages a
    /// transaction changes are first copied to the journal. A first load of a million
    /// residents writes about 700 MB of pages; in four alternating rounds on a 2-core machine
    /// it took a median of 10.4 s this way against 13.3 s through the log, the difference
    /// mostly the log's second write at the checkpoint. The price is that readers wait
    /// while a load holds its lock, so a serving hub never opens this way. SQLite leaves
    /// WAL only when no other connection has the database open: if another process does (a
    /// hub serving it), the store stays in WAL. The next process that opens the store
    /// shared switches it back to WAL.
    Rollback,
}

impl Journal {
    fn pragma_value(self) -> &'static str {
        match self {
            Journal::Wal => "wal",
            Journal::Rollback => "delete",
        }
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves it usable: SQLite rolls back an open
    // transaction when the next one begins, so poisoning carries no meaning here.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The page size of a new database, in bytes (see `configure`).
const PAGE_SIZE: i64 = 16 * 1024;

/// Sets up a connection to keep `journal`, and returns the journal it keeps: `Wal` if the
/// rollback journal was asked for and another process has the database open.
pub(crate) fn configure(conn: &Connection, journal: Journal) -> StoreResult<Journal> {
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
    let kept = set_journal(conn, journal)?;
    // synchronous=FULL makes every commit durable, in either journal (the hub promises that
    // nothing accepted is lost, even on power failure).
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(map_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(map_err)?;
    conn.pragma_update(None, "cache_size", -64_000)
        .map_err(map_err)?;
    Ok(kept)
}

fn set_journal(conn: &Connection, journal: Journal) -> StoreResult<Journal> {
    let set = |journal: Journal| -> rusqlite::Result<String> {
        conn.pragma_update_and_check(None, "journal_mode", journal.pragma_value(), |r| r.get(0))
    };
    let busy = |e: &rusqlite::Error| matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy);
    let mode = match set(journal) {
        // SQLite refuses to leave WAL while another connection has the file open.
        Err(e) if journal == Journal::Rollback && busy(&e) => set(Journal::Wal),
        other => other,
    }
    .map_err(|e| {
        if busy(&e) {
            StoreError::Unavailable(
                "the database is locked by another process that loads it on its own (a \
                 `sangam ingest`?); try again when it ends"
                    .into(),
            )
        } else {
            map_err(e)
        }
    })?;
    match mode.to_ascii_lowercase().as_str() {
        "wal" => Ok(Journal::Wal),
        "delete" if journal == Journal::Rollback => Ok(Journal::Rollback),
        other => Err(StoreError::Unavailable(format!(
            "the database keeps a journal in mode {other}, and could not be switched to {}",
            journal.pragma_value()
        ))),
    }
}

impl Connections {
    pub(crate) fn open(path: &Path, readers: usize, journal: Journal) -> StoreResult<Self> {
        let open = |journal: Journal| -> StoreResult<(Connection, Journal)> {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI;
            let conn = Connection::open_with_flags(path, flags).map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
            })?;
            let kept = configure(&conn, journal)?;
            Ok((conn, kept))
        };
        // The writer decides the journal; the others keep the one it got.
        let (writer, journal_kept) = open(journal)?;
        if journal_kept != journal {
            tracing::info!(
                "another process has the database open: loading through the write-ahead log"
            );
        }
        let readers = (0..readers)
            .map(|_| open(journal_kept).map(|(c, _)| Mutex::new(c)))
            .collect::<StoreResult<_>>()?;
        Ok(Connections {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            journal: journal_kept,
        })
    }

    /// The journal the store keeps (see [`Journal`]).
    pub(crate) fn journal(&self) -> Journal {
        self.journal
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
