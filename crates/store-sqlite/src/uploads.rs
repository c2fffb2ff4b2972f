//! Uploads (batches) and the transaction that loads one.
//!
//! A load runs on a connection of its own, on a thread of its own, inside one `BEGIN
//! IMMEDIATE` transaction that lasts from the first chunk to the commit. SQLite's write lock is
//! therefore the proof that a load is alive: whoever can take the lock knows that no upload
//! is loading, so any upload still marked `validating` lost its process.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use rustc_hash::FxHashSet;
use sangam_domain::RefKey;
use sangam_store::blind_prefix::{PrefixSet, blind_prefix};
use sangam_store::mapping_block;
use sangam_store::{
    Enrolment, EnrolmentReseal, EnrolmentState, Household, MappingEntry, NewVaultEntry,
    RegistryLoad, RejectionEntry, RejectionPurge, RejectionReseal, Resident, SealedEnrolment,
    StoreError, StoreResult, StoredRejection, UploadCounts, UploadRecord, UploadStatus,
    UploadStore,
};
use tokio::sync::oneshot;

use crate::SqliteStore;
use crate::connections::{Journal, configure};
use crate::datasets;
use crate::registry::{ResidentOrder, insert_rows};
use crate::sql::{begin, map_err, parse_ts, ts};
use crate::vault::{append_entries, put_entries};
use crate::writeback::Writeback;

const COLUMNS: &str = "id, dataset, organisation, uploaded_by, file_name, file_sha256, \
     idempotency_key, mode, status, rows, accepted, rejected, added, modified, deleted, \
     unchanged, corrects, error, received_at, finished_at, rejections_purged_at";

fn count(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.unsigned_abs())
}

/// An upload as read: the record, with its status and times still as text.
type RawUpload = (UploadRecord, String, String, Option<String>, Option<String>);

fn upload_row(r: &Row<'_>) -> rusqlite::Result<RawUpload> {
    let status: String = r.get(8)?;
    let received: String = r.get(18)?;
    let finished: Option<String> = r.get(19)?;
    let purged: Option<String> = r.get(20)?;
    Ok((
        UploadRecord {
            id: r.get(0)?,
            dataset: r.get(1)?,
            organisation: r.get(2)?,
            uploaded_by: r.get(3)?,
            file_name: r.get(4)?,
            file_sha256: r.get(5)?,
            idempotency_key: r.get(6)?,
            mode: r.get(7)?,
            status: UploadStatus::Received,
            counts: UploadCounts {
                rows: count(r, 9)?,
                accepted: count(r, 10)?,
                rejected: count(r, 11)?,
                added: count(r, 12)?,
                modified: count(r, 13)?,
                deleted: count(r, 14)?,
                unchanged: count(r, 15)?,
            },
            corrects: r.get(16)?,
            error: r.get(17)?,
            received_at: DateTime::<Utc>::default(),
            finished_at: None,
            rejections_purged_at: None,
        },
        status,
        received,
        finished,
        purged,
    ))
}

fn upload((mut u, status, received, finished, purged): RawUpload) -> StoreResult<UploadRecord> {
    u.status = UploadStatus::from_code(&status)
        .ok_or_else(|| StoreError::corrupt("uploads.status", &status))?;
    u.received_at = parse_ts("uploads.received_at", &received)?;
    u.finished_at = finished
        .map(|f| parse_ts("uploads.finished_at", &f))
        .transpose()?;
    u.rejections_purged_at = purged
        .map(|p| parse_ts("uploads.rejections_purged_at", &p))
        .transpose()?;
    Ok(u)
}

fn write_final(conn: &Connection, u: &UploadRecord) -> StoreResult<()> {
    let c = &u.counts;
    let n = conn
        .execute(
            "UPDATE uploads SET status = ?2, rows = ?3, accepted = ?4, rejected = ?5, added = ?6, \
             modified = ?7, deleted = ?8, unchanged = ?9, error = ?10, finished_at = ?11 \
             WHERE id = ?1",
            params![
                u.id,
                u.status.code(),
                c.rows as i64,
                c.accepted as i64,
                c.rejected as i64,
                c.added as i64,
                c.modified as i64,
                c.deleted as i64,
                c.unchanged as i64,
                u.error,
                u.finished_at.as_ref().map(ts)
            ],
        )
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("upload {}", u.id)));
    }
    Ok(())
}

#[async_trait]
impl UploadStore for SqliteStore {
    async fn insert_upload(&self, u: &UploadRecord) -> StoreResult<()> {
        let u = u.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    &format!(
                        "INSERT INTO uploads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                         ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
                    ),
                    params![
                        u.id,
                        u.dataset,
                        u.organisation,
                        u.uploaded_by,
                        u.file_name,
                        u.file_sha256,
                        u.idempotency_key,
                        u.mode,
                        u.status.code(),
                        u.counts.rows as i64,
                        u.counts.accepted as i64,
                        u.counts.rejected as i64,
                        u.counts.added as i64,
                        u.counts.modified as i64,
                        u.counts.deleted as i64,
                        u.counts.unchanged as i64,
                        u.corrects,
                        u.error,
                        ts(&u.received_at),
                        u.finished_at.as_ref().map(ts),
                        u.rejections_purged_at.as_ref().map(ts)
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn update_upload(&self, u: &UploadRecord) -> StoreResult<()> {
        let u = u.clone();
        self.conns.write(move |c| write_final(c, &u)).await
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<UploadRecord>> {
        let id = id.to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"),
                    [&id],
                    upload_row,
                )
                .optional()
                .map_err(map_err)?
                .map(upload)
                .transpose()
            })
            .await
    }

    async fn find_upload(
        &self,
        dataset: &str,
        organisation: &str,
        file_sha256: &str,
        idempotency_key: &str,
    ) -> StoreResult<Option<UploadRecord>> {
        let args = [dataset, organisation, file_sha256, idempotency_key].map(str::to_owned);
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM uploads WHERE dataset = ?1 AND organisation = ?2 \
                         AND file_sha256 = ?3 AND idempotency_key = ?4"
                    ),
                    params![args[0], args[1], args[2], args[3]],
                    upload_row,
                )
                .optional()
                .map_err(map_err)?
                .map(upload)
                .transpose()
            })
            .await
    }

    async fn uploads(
        &self,
        organisation: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<UploadRecord>> {
        let organisation = organisation.map(str::to_owned);
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {COLUMNS} FROM uploads WHERE (?1 IS NULL OR organisation = ?1) \
                         ORDER BY received_at DESC, id DESC LIMIT ?2"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![organisation, limit], upload_row)
                    .map_err(map_err)?;
                rows.map(|r| r.map_err(map_err).and_then(upload)).collect()
            })
            .await
    }

    async fn uploads_validating(&self) -> StoreResult<Vec<UploadRecord>> {
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {COLUMNS} FROM uploads WHERE status = 'validating' \
                         ORDER BY received_at, id"
                    ))
                    .map_err(map_err)?;
                let rows = stmt.query_map([], upload_row).map_err(map_err)?;
                rows.map(|r| r.map_err(map_err).and_then(upload)).collect()
            })
            .await
    }

    async fn reap_interrupted_uploads(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.conns
            .write(move |c| {
                // A live load holds the write lock for its whole run: if the lock cannot be had
                // quickly, a load is running and there is nothing to decide now.
                c.busy_timeout(Duration::from_millis(200))
                    .map_err(map_err)?;
                let outcome = (|| {
                    let tx = match begin(c) {
                        Ok(tx) => tx,
                        Err(StoreError::Unavailable(_)) => return Ok(0),
                        Err(e) => return Err(e),
                    };
                    let n = tx
                        .execute(
                            "UPDATE uploads SET status = 'interrupted', finished_at = ?1, \
                             error = 'the process loading it stopped; nothing of it was kept' \
                             WHERE status = 'validating'",
                            [ts(&now)],
                        )
                        .map_err(map_err)?;
                    tx.commit().map_err(map_err)?;
                    Ok(n as u64)
                })();
                c.busy_timeout(Duration::from_secs(10)).map_err(map_err)?;
                outcome
            })
            .await
    }

    async fn upload_header(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
        let id = upload_id.to_owned();
        self.conns
            .read(move |c| datasets::upload_header(c, &id))
            .await
    }

    async fn upload_rejections(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredRejection>> {
        let id = upload_id.to_owned();
        self.conns
            .read(move |c| datasets::upload_rejections(c, &id, after, limit))
            .await
    }

    async fn rejections_below_version(
        &self,
        version: u32,
        after: Option<(&str, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<RejectionEntry>> {
        let after = after.map(|(id, line)| (id.to_owned(), line));
        self.conns
            .read(move |c| {
                let after = after.as_ref().map(|(id, line)| (id.as_str(), *line));
                datasets::rejections_below_version(c, version, after, limit)
            })
            .await
    }

    async fn reseal_rejections(&self, updates: &[RejectionReseal]) -> StoreResult<u64> {
        if updates.is_empty() {
            return Ok(0);
        }
        let updates = updates.to_vec();
        self.conns
            .write(move |c| datasets::reseal_rejections(c, &updates))
            .await
    }

    async fn rejection_count_by_version(&self) -> StoreResult<Vec<(u32, u64)>> {
        self.conns.read(datasets::rejection_count_by_version).await
    }

    async fn enrolments_below_version(
        &self,
        version: u32,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<SealedEnrolment>> {
        let after = after.map(|(d, k)| (d.to_owned(), k.to_owned()));
        self.conns
            .read(move |c| {
                let after = after.as_ref().map(|(d, k)| (d.as_str(), k.as_str()));
                datasets::enrolments_below_version(c, version, after, limit)
            })
            .await
    }

    async fn reseal_enrolments(&self, updates: &[EnrolmentReseal]) -> StoreResult<u64> {
        if updates.is_empty() {
            return Ok(0);
        }
        let updates = updates.to_vec();
        self.conns
            .write(move |c| datasets::reseal_enrolments(c, &updates))
            .await
    }

    async fn sealed_count_by_version(&self) -> StoreResult<Vec<(&'static str, u32, u64)>> {
        self.conns
            .read(|c| {
                let mut all = Vec::new();
                for table in sangam_store::SEALED_TABLES {
                    for (version, n) in datasets::count_by_version(c, table)? {
                        all.push((table, version, n));
                    }
                }
                Ok(all)
            })
            .await
    }

    async fn purge_rejections(
        &self,
        finished_before: DateTime<Utc>,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<RejectionPurge> {
        self.conns
            .write(move |c| datasets::purge_rejections(c, &finished_before, &at, limit))
            .await
    }

    async fn upload_mapping_len(&self, upload_id: &str) -> StoreResult<u64> {
        let id = upload_id.to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    "SELECT coalesce(max(last_seq), 0) FROM upload_mapping_blocks \
                     WHERE upload_id = ?1",
                    [&id],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| u64::try_from(n).unwrap_or_default())
                .map_err(map_err)
            })
            .await
    }

    async fn upload_mapping(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<MappingEntry>> {
        let id = upload_id.to_owned();
        self.conns
            .read(move |c| datasets::upload_mapping(c, &id, after, limit))
            .await
    }

    async fn begin_registry_load(&self, upload_id: &str) -> StoreResult<Box<dyn RegistryLoad>> {
        let (commands, inbox) = mpsc::channel::<Command>();
        let (spent_tx, spent) = tokio::sync::mpsc::unbounded_channel::<Spent>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let path = self.path.clone();
        let journal = self.conns.journal();
        let upload_id = upload_id.to_owned();
        let upload_id_for_load = upload_id.clone();
        std::thread::Builder::new()
            .name("sangam-load".into())
            .spawn(move || load_thread(path, journal, upload_id, inbox, spent_tx, ready_tx))
            .map_err(|e| StoreError::Backend(format!("cannot start the load thread: {e}")))?;
        ready_rx
            .await
            .map_err(|_| StoreError::Backend("the load thread stopped".into()))??;
        Ok(Box::new(SqliteLoad {
            commands,
            spent,
            upload_id: upload_id_for_load,
        }))
    }
}

/// Page cache of a load's connection, in KiB. Measured on a million-row first load: 32 MiB
/// costs about a tenth more CPU than 128 MiB (pages of the random-key indexes are re-read
/// from the operating system's cache) but peaks at 190 MiB instead of 330 MiB, and, unlike
/// a cache that fills as the file grows, keeps the peak nearly the same from 100,000 rows
/// to a million.
const LOAD_CACHE_KIB: i64 = 32 * 1024;
/// Page cache of a load's connection while it builds the deferred indexes at the commit, in
/// KiB. SQLite's sorter keeps up to the page cache's size of keys in memory per list, and with
/// sort threads several lists at once: at 32 MiB, building the blind-index index of a
/// million entries took the process from about 200 MiB to 260 MiB. At 4 MiB the sorter
/// writes more, smaller runs and merges them, and measured no slower (the index is built by
/// one scan and appended in order, which needs few pages of cache).
const COMMIT_CACHE_KIB: i64 = 4 * 1024;
/// Helper threads SQLite may use to sort when it builds the deferred indexes at the commit:
/// one fewer than the cores (the load's own thread sorts too), at most two. On a 2-core
/// machine, two helpers measured slower than one (10.6-10.8 s against 9.7-10.3 s for a
/// million-row first load, in the same runs) and peaked 10-20 MiB higher.
fn sort_threads() -> i64 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    i64::try_from(cores.saturating_sub(1).clamp(1, 2)).unwrap_or(1)
}

type Reply<T> = oneshot::Sender<StoreResult<T>>;
/// Rows the load thread has written, handed back to be freed by the caller: a million-row
/// load frees some fifteen million strings, which on the load thread (the busiest of a load)
/// took about a twentieth of its time.
type Spent = Box<dyn Send>;
/// A step that answers for itself, given the connection or the failure of the load.
type Step = Box<dyn FnOnce(StoreResult<&Connection>) + Send>;
/// A write that answers nothing.
type Write = Box<dyn FnOnce(&Connection) -> StoreResult<()> + Send>;

enum Command {
    PutVault(Vec<NewVaultEntry>, Reply<Vec<RefKey>>),
    ExistingCards(Vec<String>, Reply<Vec<String>>),
    RefKeysInUse(Vec<RefKey>, Reply<Vec<RefKey>>),
    /// Queued without waiting for it (see [`Loader::failed`]).
    Insert(Vec<Household>, Vec<Resident>),
    Commit(Box<UploadRecord>, Reply<()>),
    /// Any other step of the load, run on its connection (or told the load failed); it
    /// answers for itself.
    Run(Step),
    /// A write queued without waiting for it (see [`Loader::failed`]).
    Queue(Write),
}

/// The load's connection, and what the load remembers between steps.
struct Loader {
    conn: Connection,
    /// The journal the connection keeps: the one asked for, or the WAL if another
    /// connection had the file open (see `Journal::Rollback`).
    journal: Journal,
    /// `CREATE INDEX` statements of the registry's secondary indexes, which a load into an
    /// empty registry drops at its start and re-creates before its commit: building an index
    /// once from sorted rows is several times cheaper than a million inserts at random
    /// places. Only indexes that enforce nothing are dropped, so no row is judged differently;
    /// and the drop is part of the load's transaction, so a crash undoes it with the rest.
    /// Each is kept as (name, SQL).
    deferred_indexes: Vec<(String, String)>,
    /// In a first load, the blind-index index of the vault is deferred too (see
    /// [`Loader::put_vault`]), and these are the first 8 bytes of every blind index the load
    /// has stored: a blind index whose 8 bytes are not here cannot be in the vault. `None`
    /// when the index is live.
    blind_prefixes: Option<PrefixSet>,
    /// The reference keys the last `put_vault` stored for the first time, until residents are
    /// next inserted. No resident can hold one of them (the foreign key to the vault would
    /// have refused it), so `ref_keys_in_use` need not look them up.
    /// Hashed with Fx, not SipHash: the keys are the vault's own random ones, nothing an
    /// uploader chooses, and hashing them took a tenth of a SQLite load thread's time.
    fresh_keys: FxHashSet<RefKey>,
    /// In a load into an empty registry, the cards the load has inserted (see
    /// [`InsertedCards`]); `None` when the registry held households as the load began.
    inserted_cards: Option<InsertedCards>,
    /// A first load (the registry, the vault and the enrolments empty when it began) runs
    /// with foreign keys off: checked row by row, they cost two index searches per resident
    /// (measured: they doubled the time of inserting a million residents), while checked
    /// once at the commit, over the whole tables, they cost two ordered scans. Every row in
    /// those tables is then this load's, so the check at the commit covers exactly what
    /// the row checks would have, and a row that breaks a key fails the commit as it would
    /// have failed its insert.
    unchecked_foreign_keys: bool,
    /// The error of a queued write. Writes that answer nothing (rows inserted, the mapping,
    /// rejections) are queued so that the hub prepares the next chunk while this thread
    /// writes; the first one that fails poisons the load, and the next step that answers
    /// (at the latest the commit) reports the failure instead of running, so a load with a
    /// failed write never commits.
    failed: Option<StoreError>,
}

impl Loader {
    fn open(path: &Path, journal: Journal, upload_id: &str) -> StoreResult<Self> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        let journal = configure(&conn, journal)?;
        // Bounded, so memory stays flat however large the file.
        conn.pragma_update(None, "cache_size", -LOAD_CACHE_KIB)
            .map_err(map_err)?;
        conn.pragma_update(None, "threads", sort_threads())
            .map_err(map_err)?;
        // Foreign keys can be switched only outside a transaction: decided on a first look,
        // confirmed under the write lock, and switched back if another load got in between.
        let mut unchecked_foreign_keys = first_load(&conn)?;
        if unchecked_foreign_keys {
            conn.pragma_update(None, "foreign_keys", "OFF")
                .map_err(map_err)?;
        }
        conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
        if unchecked_foreign_keys && !first_load(&conn)? {
            conn.execute_batch("ROLLBACK").map_err(map_err)?;
            conn.pragma_update(None, "foreign_keys", "ON")
                .map_err(map_err)?;
            conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
            unchecked_foreign_keys = false;
        }
        let n = conn
            .execute(
                "UPDATE uploads SET status = 'validating' WHERE id = ?1",
                [upload_id],
            )
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("upload {upload_id}")));
        }
        let mut loader = Loader {
            conn,
            journal,
            deferred_indexes: Vec::new(),
            blind_prefixes: None,
            fresh_keys: FxHashSet::default(),
            inserted_cards: None,
            unchecked_foreign_keys,
            failed: None,
        };
        loader.defer_indexes_if_empty()?;
        if loader.unchecked_foreign_keys {
            // Nothing in a load looks a vault entry up by its reference key (only foreign
            // keys would, and they are off), so in a first load its unique index is built
            // once at the commit, which also proves the keys unique.
            loader.defer_index("vault_entries_ref_key")?;
            // The blind index is unique too, and a load does look entries up by it (an ID
            // number sent twice): see `put_vault`.
            loader.defer_index(BLIND_INDEX)?;
            loader.blind_prefixes = Some(PrefixSet::default());
            // No two residents hold one reference key; in a first load that is proved once at
            // the commit, when the index is built (see `ref_keys_in_use`).
            loader.defer_index(RESIDENTS_REF_KEY_INDEX)?;
        }
        Ok(loader)
    }

    /// Drops the registry's secondary indexes when the registry is empty (see
    /// `deferred_indexes`): a first-time migration. A load into a registry that holds rows
    /// keeps them, since re-creating them would cost more than the load saves.
    fn defer_indexes_if_empty(&mut self) -> StoreResult<()> {
        let empty: bool = self
            .conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM households) \
                 AND NOT EXISTS (SELECT 1 FROM residents)",
                [],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        if !empty {
            return Ok(());
        }
        self.inserted_cards = Some(InsertedCards::default());
        // Indexes the schema created (`origin` c) that are not unique, with their own SQL,
        // so that they come back exactly as the migrations made them.
        let indexes: Vec<(String, String)> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT s.name, s.sql FROM sqlite_schema AS s \
                     JOIN pragma_index_list(s.tbl_name) AS i ON i.name = s.name \
                     WHERE s.type = 'index' AND s.tbl_name IN ('households', 'residents') \
                     AND s.sql IS NOT NULL AND i.origin = 'c' AND i.\"unique\" = 0 \
                     ORDER BY s.name",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(map_err)?
        };
        for (name, sql) in indexes {
            self.conn
                .execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                .map_err(map_err)?;
            self.deferred_indexes.push((name, sql));
        }
        Ok(())
    }

    /// Drops the index `name` until the commit, which re-creates it from its own SQL.
    fn defer_index(&mut self, name: &str) -> StoreResult<()> {
        let sql: String = self
            .conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        self.conn
            .execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
            .map_err(map_err)?;
        self.deferred_indexes.push((name.to_owned(), sql));
        Ok(())
    }

    fn is_deferred(&self, name: &str) -> bool {
        self.deferred_indexes.iter().any(|(n, _)| n == name)
    }

    /// Builds the deferred index `name` now, if it is deferred, instead of at the commit.
    fn build_deferred_index(&mut self, name: &str) -> StoreResult<()> {
        if let Some(i) = self.deferred_indexes.iter().position(|(n, _)| n == name) {
            let (name, sql) = self.deferred_indexes.remove(i);
            build_index(&self.conn, &name, &sql)?;
        }
        Ok(())
    }

    /// Stores vault entries as `vault_put` does. In a first load the vault's blind-index
    /// index is not kept up row by row (a million random 32-byte keys inserted one by one
    /// thrash the page cache, and the index is built at the commit from sorted keys
    /// instead). The load then knows every blind index it stored by its first 8 bytes: a
    /// batch none of whose blind indexes share 8 bytes with one stored before (or with
    /// another of the batch) cannot repeat a number, and is appended as it is. The first
    /// batch that might (an ID number sent twice, or one chance in 10^19 a pair), builds
    /// the index there and then, and the load goes on the ordinary way, each number looked
    /// up as it comes.
    fn put_vault(&mut self, entries: &[NewVaultEntry]) -> StoreResult<Vec<RefKey>> {
        let keys = match self.put_vault_unindexed(entries)? {
            Some(keys) => keys,
            None => put_entries(&self.conn, entries)?,
        };
        self.fresh_keys.clear();
        self.fresh_keys.extend(
            entries
                .iter()
                .zip(&keys)
                .filter(|(e, k)| e.ref_key == **k)
                .map(|(_, k)| k.clone()),
        );
        Ok(keys)
    }

    /// `put_vault` while the blind-index index is deferred: the keys, or `None` if the batch
    /// must go the ordinary way (the index is then built, and no longer deferred).
    fn put_vault_unindexed(
        &mut self,
        entries: &[NewVaultEntry],
    ) -> StoreResult<Option<Vec<RefKey>>> {
        let Some(seen) = &mut self.blind_prefixes else {
            return Ok(None);
        };
        let mut batch = PrefixSet::with_capacity_and_hasher(entries.len(), Default::default());
        let clash = entries.iter().any(|e| {
            let prefix = blind_prefix(&e.blind_index);
            seen.contains(&prefix) || !batch.insert(prefix)
        });
        if clash {
            self.blind_prefixes = None;
            self.build_deferred_index(BLIND_INDEX)?;
            return Ok(None);
        }
        append_entries(&self.conn, entries)?;
        seen.extend(batch);
        Ok(Some(entries.iter().map(|e| e.ref_key.clone()).collect()))
    }

    /// Which of `keys` a resident holds. A key the last `put_vault` stored for the first time
    /// cannot be held; any other is looked up, through the residents' reference-key index. In
    /// a first load that index is deferred, and only an ID number sent twice in the file (in
    /// different chunks) is ever looked up, so the first such lookup builds the index there
    /// and then, and the load goes on with it.
    fn ref_keys_in_use(&mut self, keys: Vec<RefKey>) -> StoreResult<Vec<RefKey>> {
        let asked: Vec<RefKey> = keys
            .into_iter()
            .filter(|k| !self.fresh_keys.contains(k))
            .collect();
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        self.build_deferred_index(RESIDENTS_REF_KEY_INDEX)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM residents WHERE id_ref_key = ?1")
            .map_err(map_err)?;
        let mut found = Vec::new();
        for k in asked {
            if stmt.exists([k.as_str()]).map_err(map_err)? {
                found.push(k);
            }
        }
        Ok(found)
    }

    fn existing_cards(&self, cards: Vec<String>) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM households WHERE card_number = ?1")
            .map_err(map_err)?;
        // Looked up in key order, for the same reason as the inserts; answered in the order
        // asked.
        let mut order: Vec<usize> = (0..cards.len()).collect();
        order.sort_unstable_by_key(|&i| &cards[i]);
        let mut found = vec![false; cards.len()];
        for i in order {
            let card = &cards[i];
            let may_exist = self
                .inserted_cards
                .as_ref()
                .is_none_or(|inserted| inserted.may_hold(card));
            found[i] = may_exist && stmt.exists([card]).map_err(map_err)?;
        }
        Ok(cards
            .into_iter()
            .zip(found)
            .filter_map(|(c, f)| f.then_some(c))
            .collect())
    }

    fn insert(&mut self, households: &[Household], residents: &[Resident]) -> StoreResult<()> {
        // From here a resident may hold any key of the vault.
        self.fresh_keys.clear();
        // Residents go in the order of the index that is kept up as they arrive: their
        // reference keys' while that index is live, else their own ids (drawn in file order,
        // so each chunk's are appended after the last one's).
        let order = if self.is_deferred(RESIDENTS_REF_KEY_INDEX) {
            ResidentOrder::ResidentId
        } else {
            ResidentOrder::RefKey
        };
        insert_rows(&self.conn, households, residents, order)?;
        if let Some(inserted) = &mut self.inserted_cards {
            for h in households {
                inserted.add(h.card_number.as_str());
            }
        }
        Ok(())
    }

    fn commit(self, upload: &UploadRecord) -> StoreResult<()> {
        if !self.deferred_indexes.is_empty() {
            self.conn
                .pragma_update(None, "cache_size", -COMMIT_CACHE_KIB)
                .map_err(map_err)?;
        }
        for (name, sql) in &self.deferred_indexes {
            build_index(&self.conn, name, sql)?;
        }
        if self.unchecked_foreign_keys {
            self.check_foreign_keys()?;
        }
        write_final(&self.conn, upload)?;
        self.conn.execute_batch("COMMIT").map_err(map_err)
    }
}

/// Keyed 64-bit hashes of the cards a load into an empty registry has inserted. Every card
/// in the registry is then one of them, so a card whose hash is not here is not in the
/// registry, and [`Loader::existing_cards`] does not search for it; a card whose hash is here
/// is searched for, so a hash shared by two cards costs a search, never a wrong answer. In a
/// first load nearly every card is new, and searching the households for each took a tenth
/// of the load thread's time. Eight bytes a household, like the hub's own record of the
/// cards an upload loaded.
#[derive(Default)]
struct InsertedCards {
    /// Keyed, because the cards are the uploader's: hashes an uploader cannot aim make every
    /// miss certain to be answered without a search.
    keys: std::collections::hash_map::RandomState,
    /// The hashes are already random, so Fx only spreads them over the table.
    hashes: FxHashSet<u64>,
}

impl InsertedCards {
    fn add(&mut self, card: &str) {
        self.hashes.insert(self.keys.hash_one(card));
    }

    /// Whether `card` may be one this load inserted.
    fn may_hold(&self, card: &str) -> bool {
        self.hashes.contains(&self.keys.hash_one(card))
    }
}

/// The vault's unique index on blind indexes, deferred in a first load.
const BLIND_INDEX: &str = "vault_entries_blind_index";
/// The residents' unique index on reference keys, deferred in a first load.
const RESIDENTS_REF_KEY_INDEX: &str = "residents_id_ref_key";

/// The unique indexes a load may defer, each with a query for one value it finds twice,
/// for the error that names it (a reference key is named; a blind index, keyed from an ID
/// number, is not).
const UNIQUE_CHECKS: [(&str, &str); 3] = [
    (
        "vault_entries_ref_key",
        "SELECT 'the reference key ' || ref_key || ' twice in the vault' FROM vault_entries \
         GROUP BY ref_key HAVING count(*) > 1 LIMIT 1",
    ),
    (
        BLIND_INDEX,
        "SELECT 'one ID number twice in the vault' FROM vault_entries GROUP BY blind_index \
         HAVING count(*) > 1 LIMIT 1",
    ),
    (
        RESIDENTS_REF_KEY_INDEX,
        "SELECT 'the reference key ' || id_ref_key || ' on two residents' FROM residents \
         WHERE id_ref_key IS NOT NULL GROUP BY id_ref_key HAVING count(*) > 1 LIMIT 1",
    ),
];

/// Builds a deferred index from its SQL. A unique index that finds a value twice fails the
/// load with an error that names the value (the whole load then rolls back).
fn build_index(conn: &Connection, name: &str, sql: &str) -> StoreResult<()> {
    let built = conn.execute_batch(sql).map_err(map_err);
    let Err(StoreError::Conflict(reason)) = built else {
        return built;
    };
    let Some((_, find)) = UNIQUE_CHECKS.iter().find(|(n, _)| *n == name) else {
        return Err(StoreError::Conflict(format!(
            "this upload breaks the unique index {name}: {reason}"
        )));
    };
    let duplicate: Option<String> = conn
        .query_row(find, [], |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    Err(StoreError::Conflict(match duplicate {
        Some(what) => format!(
            "this upload stores {what} (found when the index {name} was \
             built); nothing of it was kept"
        ),
        None => format!("this upload breaks the unique index {name}: {reason}"),
    }))
}

/// Whether the registry, the vault and the enrolments are all empty: a first load.
fn first_load(conn: &Connection) -> StoreResult<bool> {
    conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM households) AND NOT EXISTS (SELECT 1 FROM residents) \
         AND NOT EXISTS (SELECT 1 FROM vault_entries) AND NOT EXISTS (SELECT 1 FROM enrolments)",
        [],
        |r| r.get(0),
    )
    .map_err(map_err)
}

/// The foreign keys of the tables a first load writes, each as a query that counts what
/// breaks it (rows, or for the card of a resident, cards). SQLite walks the child's index on
/// the key in order, so the parent's index is searched in order too (about 0.2 s a key for a
/// million residents). The load's own rows in the upload tables (`upload_mapping_blocks`,
/// `upload_rejections`, `upload_headers`) all name its upload, which exists: `Loader::open`
/// updated it.
const FOREIGN_KEY_CHECKS: [(&str, &str); 5] = [
    // Counted by card, not by resident: every card the residents name is a household's
    // exactly when as many households are named as there are cards named. Each household
    // is then searched for once in the residents' card index, instead of each resident's
    // card among the households (0.13 s against 0.22 s for a million residents).
    (
        "residents.card_number",
        "SELECT (SELECT count(DISTINCT card_number) FROM residents) - \
         (SELECT count(*) FROM households AS h WHERE EXISTS \
          (SELECT 1 FROM residents AS r WHERE r.card_number = h.card_number))",
    ),
    (
        "residents.id_ref_key",
        "SELECT count(*) FROM residents AS r WHERE r.id_ref_key IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM vault_entries AS v WHERE v.ref_key = r.id_ref_key)",
    ),
    (
        "enrolments.dataset",
        "SELECT count(*) FROM enrolments AS e WHERE NOT EXISTS \
         (SELECT 1 FROM datasets AS d WHERE d.name = e.dataset)",
    ),
    (
        "enrolments.ref_key",
        "SELECT count(*) FROM enrolments AS e WHERE e.ref_key IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM vault_entries AS v WHERE v.ref_key = e.ref_key)",
    ),
    (
        "enrolments.resident_id",
        "SELECT count(*) FROM enrolments AS e WHERE e.resident_id IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM residents AS r WHERE r.resident_id = e.resident_id)",
    ),
];

impl Loader {
    /// Checks at the commit the foreign keys a first load did not check row by row (see
    /// `unchecked_foreign_keys`).
    fn check_foreign_keys(&self) -> StoreResult<()> {
        for (key, sql) in FOREIGN_KEY_CHECKS {
            let broken: i64 = self
                .conn
                .query_row(sql, [], |r| r.get(0))
                .map_err(map_err)?;
            if broken > 0 {
                return Err(StoreError::Conflict(format!(
                    "this upload breaks the foreign key {key} ({broken} times)"
                )));
            }
        }
        Ok(())
    }
}

/// Owns the load's connection. Leaving without a commit drops the connection, which rolls
/// the transaction back.
fn load_thread(
    path: PathBuf,
    journal: Journal,
    upload_id: String,
    inbox: mpsc::Receiver<Command>,
    spent: tokio::sync::mpsc::UnboundedSender<Spent>,
    ready: oneshot::Sender<StoreResult<()>>,
) {
    let mut loader = match Loader::open(&path, journal, &upload_id) {
        Ok(loader) => {
            let _ = ready.send(Ok(()));
            loader
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // Under the WAL the pages go to the log, which the commit syncs as it is written.
    let _writeback = (loader.journal == Journal::Rollback)
        .then(|| Writeback::start(&path))
        .flatten();
    while let Ok(command) = inbox.recv() {
        if let Some(failure) = loader.failed.take() {
            // The next step that answers gets the failure, and the load ends there: dropping
            // the connection rolls the transaction back. Queued writes before it are skipped.
            if let Err(failure) = reply_failure(command, failure) {
                loader.failed = Some(failure);
                continue;
            }
            return;
        }
        match command {
            Command::PutVault(entries, reply) => {
                let _ = reply.send(loader.put_vault(&entries));
                let _ = spent.send(Box::new(entries));
            }
            Command::ExistingCards(cards, reply) => {
                let _ = reply.send(loader.existing_cards(cards));
            }
            Command::RefKeysInUse(keys, reply) => {
                let _ = reply.send(loader.ref_keys_in_use(keys));
            }
            Command::Insert(households, residents) => {
                loader.failed = loader.insert(&households, &residents).err();
                let _ = spent.send(Box::new((households, residents)));
            }
            Command::Run(step) => step(Ok(&loader.conn)),
            Command::Queue(step) => loader.failed = step(&loader.conn).err(),
            Command::Commit(upload, reply) => {
                let _ = reply.send(loader.commit(&upload));
                return;
            }
        }
    }
}

/// Answers `command` with the failure of a queued write instead of running it; a command
/// that answers nothing (another queued write) hands the failure back, for the next one.
fn reply_failure(command: Command, failure: StoreError) -> Result<(), StoreError> {
    match command {
        Command::PutVault(_, reply) => drop(reply.send(Err(failure))),
        Command::ExistingCards(_, reply) => drop(reply.send(Err(failure))),
        Command::RefKeysInUse(_, reply) => drop(reply.send(Err(failure))),
        Command::Commit(_, reply) => drop(reply.send(Err(failure))),
        Command::Run(step) => step(Err(failure)),
        Command::Queue(_) | Command::Insert(..) => return Err(failure),
    }
    Ok(())
}

struct SqliteLoad {
    commands: mpsc::Sender<Command>,
    /// See [`Spent`]: drained whenever rows are sent.
    spent: tokio::sync::mpsc::UnboundedReceiver<Spent>,
    upload_id: String,
}

impl SqliteLoad {
    /// Frees the rows the load thread has written (see [`Spent`]).
    fn free_spent(&mut self) {
        while let Ok(rows) = self.spent.try_recv() {
            drop(rows);
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| StoreError::Backend("the load's transaction has ended".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("the load's transaction has ended".into()))?
    }

    /// Queues `step` on the load's connection, inside its transaction, without waiting for
    /// it; a failure is reported by the next step that answers.
    fn queue(
        &self,
        step: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    ) -> StoreResult<()> {
        self.commands
            .send(Command::Queue(Box::new(step)))
            .map_err(|_| StoreError::Backend("the load's transaction has ended".into()))
    }

    /// Runs `step` on the load's connection, inside its transaction.
    async fn run<T: Send + 'static>(
        &self,
        step: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.ask(|reply| {
            Command::Run(Box::new(move |conn| {
                let _ = reply.send(conn.and_then(step));
            }))
        })
        .await
    }
}

#[async_trait]
impl RegistryLoad for SqliteLoad {
    async fn put_vault(&mut self, entries: Vec<NewVaultEntry>) -> StoreResult<Vec<RefKey>> {
        self.free_spent();
        self.ask(|r| Command::PutVault(entries, r)).await
    }

    async fn existing_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<String>> {
        self.ask(|r| Command::ExistingCards(cards, r)).await
    }

    async fn ref_keys_in_use(&mut self, keys: Vec<RefKey>) -> StoreResult<Vec<RefKey>> {
        self.ask(|r| Command::RefKeysInUse(keys, r)).await
    }

    async fn insert(
        &mut self,
        households: Vec<Household>,
        residents: Vec<Resident>,
    ) -> StoreResult<()> {
        self.free_spent();
        self.commands
            .send(Command::Insert(households, residents))
            .map_err(|_| StoreError::Backend("the load's transaction has ended".into()))
    }

    async fn put_header(&mut self, header: Vec<String>) -> StoreResult<()> {
        let id = self.upload_id.clone();
        self.run(move |c| datasets::put_header(c, &id, &header))
            .await
    }

    async fn put_rejections(&mut self, rows: Vec<StoredRejection>) -> StoreResult<()> {
        let id = self.upload_id.clone();
        self.queue(move |c| datasets::put_rejections(c, &id, &rows))
    }

    async fn put_mapping(&mut self, rows: Vec<MappingEntry>) -> StoreResult<()> {
        // Encoded here, on the caller's thread, not on the load's.
        let Some(block) = mapping_block::encode(&rows)? else {
            return Ok(());
        };
        let id = self.upload_id.clone();
        self.queue(move |c| datasets::put_mapping(c, &id, &block))
    }

    async fn residents_by_ref_keys(
        &mut self,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<(RefKey, String)>> {
        self.run(move |c| datasets::residents_by_ref_keys(c, &keys))
            .await
    }

    async fn enrolment_states(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
    ) -> StoreResult<Vec<EnrolmentState>> {
        let dataset = dataset.to_owned();
        self.run(move |c| datasets::enrolment_states(c, &dataset, &keys))
            .await
    }

    async fn active_enrolments_by_ref_keys(
        &mut self,
        dataset: &str,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<EnrolmentState>> {
        let dataset = dataset.to_owned();
        self.run(move |c| datasets::active_enrolments_by_ref_keys(c, &dataset, &keys))
            .await
    }

    async fn upsert_enrolments(&mut self, rows: Vec<Enrolment>) -> StoreResult<()> {
        self.queue(move |c| datasets::upsert_enrolments(c, &rows))
    }

    async fn touch_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
    ) -> StoreResult<()> {
        let (dataset, upload_id) = (dataset.to_owned(), upload_id.to_owned());
        self.queue(move |c| datasets::touch_enrolments(c, &dataset, &keys, &upload_id))
    }

    async fn remove_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        let (dataset, upload_id) = (dataset.to_owned(), upload_id.to_owned());
        self.run(move |c| datasets::remove_enrolments(c, &dataset, &keys, &upload_id, now))
            .await
    }

    async fn remove_enrolments_not_seen(
        &mut self,
        dataset: &str,
        upload_id: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        let (dataset, upload_id) = (dataset.to_owned(), upload_id.to_owned());
        self.run(move |c| datasets::remove_enrolments_not_seen(c, &dataset, &upload_id, now, limit))
            .await
    }

    async fn commit(self: Box<Self>, upload: UploadRecord) -> StoreResult<()> {
        self.ask(|r| Command::Commit(Box::new(upload), r)).await
    }

    async fn households_of(&mut self, cards: Vec<String>) -> StoreResult<Vec<Household>> {
        self.run(move |c| crate::registry::households_of(c, &cards))
            .await
    }

    async fn residents_of_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<Resident>> {
        self.run(move |c| crate::registry::residents_of_cards(c, &cards))
            .await
    }

    async fn residents_by_blind_indexes(
        &mut self,
        blind_indexes: Vec<[u8; 32]>,
    ) -> StoreResult<Vec<([u8; 32], Resident)>> {
        self.run(move |c| crate::registry::residents_by_blind_indexes(c, &blind_indexes))
            .await
    }

    async fn update_registry(
        &mut self,
        households: Vec<sangam_store::RegistryUpdate<Household>>,
        residents: Vec<sangam_store::RegistryUpdate<Resident>>,
        ctx: sangam_store::ChangeContext,
    ) -> StoreResult<()> {
        self.run(move |c| crate::registry::update_registry(c, &households, &residents, &ctx))
            .await
    }
}
