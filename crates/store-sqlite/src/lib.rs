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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use chrono::DateTime;

    use super::embedded;

    /// A database in memory with the migrations up to `version` run, foreign keys off (a
    /// migration's test writes rows as that version's schema had them, parents or not).
    fn migrated_to(version: i32) -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        embedded::migrations::runner()
            .set_target(refinery::Target::Version(version))
            .run(&mut conn)
            .unwrap();
        conn
    }

    /// Migration V12 turns the text timestamps of vault entries, households and residents
    /// into integer microseconds: the same instants, to the microsecond, as integers.
    #[test]
    fn compact_timestamps_keep_every_instant() {
        let mut conn = migrated_to(11);
        conn.execute_batch(
            "INSERT INTO vault_entries VALUES ('k1', x'01', 1, x'02', 'FORM-1', \
                 '2026-11-01T09:00:00.123456Z');
             INSERT INTO households VALUES ('PY1', 'PHH', NULL, NULL, NULL, NULL, 640001, \
                 'r1', '1999-12-31T23:59:59.000001Z', '2026-11-01T09:00:00.000000Z', 2);
             INSERT INTO residents VALUES ('r1', 'PY1', 'A', NULL, 'M', '1970', 'HEAD', NULL, \
                 NULL, 'k1', 'not_done', 'alive', '2026-11-01T09:00:00.999999Z', \
                 '2026-11-02T10:11:12.000100Z', 3);",
        )
        .unwrap();
        embedded::migrations::runner().run(&mut conn).unwrap();

        let micros = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_micros()
        };
        for (sql, expected) in [
            (
                "SELECT created_at FROM vault_entries",
                "2026-11-01T09:00:00.123456Z",
            ),
            (
                "SELECT created_at FROM households",
                "1999-12-31T23:59:59.000001Z",
            ),
            (
                "SELECT updated_at FROM households",
                "2026-11-01T09:00:00.000000Z",
            ),
            (
                "SELECT created_at FROM residents",
                "2026-11-01T09:00:00.999999Z",
            ),
            (
                "SELECT updated_at FROM residents",
                "2026-11-02T10:11:12.000100Z",
            ),
        ] {
            let got: i64 = conn.query_row(sql, [], |r| r.get(0)).unwrap();
            assert_eq!(got, micros(expected), "{sql}");
        }
        // Everything else of the rows came over, and the keys still hold.
        let (name, version, key): (String, i64, String) = conn
            .query_row(
                "SELECT r.name, r.version, v.ref_key FROM residents r \
                 JOIN households h ON h.card_number = r.card_number \
                 JOIN vault_entries v ON v.ref_key = r.id_ref_key",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((name.as_str(), version, key.as_str()), ("A", 3, "k1"));
        let broken = conn
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .exists([])
            .unwrap();
        assert!(!broken);
    }

    /// Migration V13 moves the mapping's blocks into a table with rowids: every block comes
    /// over whole, and the key still refuses a second block at the same place.
    #[test]
    fn mapping_blocks_come_over_whole() {
        let mut conn = migrated_to(12);
        let big = format!(
            "[{}]",
            vec!["[1,\"PY1\",null,null,null,\"added\"]"; 20_000].join(",")
        );
        conn.execute(
            "INSERT INTO upload_mapping_blocks VALUES ('u1', 1, 20000, ?1), ('u1', 20001, 20001, '[]'), \
                 ('u0', 1, 1, '[1]')",
            [&big],
        )
        .unwrap();
        embedded::migrations::runner().run(&mut conn).unwrap();

        let blocks: Vec<(i64, String, i64, i64, String)> = conn
            .prepare("SELECT rowid, upload_id, first_seq, last_seq, entries FROM upload_mapping_blocks ORDER BY upload_id, first_seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let kept: Vec<(&str, i64, i64, &str)> = blocks
            .iter()
            .map(|(_, u, f, l, e)| (u.as_str(), *f, *l, e.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("u0", 1, 1, "[1]"),
                ("u1", 1, 20000, big.as_str()),
                ("u1", 20001, 20001, "[]")
            ]
        );
        let again = conn.execute(
            "INSERT INTO upload_mapping_blocks VALUES ('u1', 1, 1, '[]')",
            [],
        );
        assert!(again.is_err(), "the key (upload, first entry) holds");
    }
}
