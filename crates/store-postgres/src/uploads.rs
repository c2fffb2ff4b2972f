//! Uploads (batches) and the transaction that loads one.
//!
//! A load runs on a connection of its own, taken from the pool, inside one transaction that
//! lasts from the first chunk to the commit. Before it begins, the load takes a session
//! advisory lock named after its upload, and holds it until it commits or its connection
//! closes: that lock is the proof that the load is alive. The reaper tries the lock of each
//! upload still marked `validating`; whoever gets it knows that nobody is loading that upload.
//!
//! A load that ends without a commit (dropped, or after an error) takes its connection out of
//! the pool for good and closes it, so the server rolls the transaction back and releases the
//! lock; a connection with an open transaction or a held lock never goes back to the pool.
//! The load itself, its steps and their queue, is in `load`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use sangam_store::{
    EnrolmentReseal, MappingEntry, RegistryLoad, RejectionEntry, RejectionPurge, RejectionReseal,
    SealedEnrolment, StoreError, StoreResult, StoredRejection, UploadCounts, UploadRecord,
    UploadStatus, UploadStore,
};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::datasets;
use crate::load;
use crate::sql::{conflict_detail, count, execute, get, map_err, query, query_one, query_opt};

/// The first key of the session advisory lock a load holds on its upload ("SGUP"); the
/// second is `hashtext(upload id)`. The two-key form is a key space of its own, apart from
/// the single-key locks of migrations and audit appends.
pub(crate) const UPLOAD_LOCK: i32 = 0x5347_5550;

const COLUMNS: &str = "id, dataset, organisation, uploaded_by, file_name, file_sha256, \
     idempotency_key, mode, status, rows, accepted, rejected, added, modified, deleted, \
     unchanged, corrects, error, received_at, finished_at, rejections_purged_at";

/// What the reaper writes into an upload whose loading process is gone.
const INTERRUPTED: &str = "the process loading it stopped; nothing of it was kept";

fn upload(row: &Row) -> StoreResult<UploadRecord> {
    const T: &str = "uploads";
    let status: String = get(T, row, 8)?;
    Ok(UploadRecord {
        id: get(T, row, 0)?,
        dataset: get(T, row, 1)?,
        organisation: get(T, row, 2)?,
        uploaded_by: get(T, row, 3)?,
        file_name: get(T, row, 4)?,
        file_sha256: get(T, row, 5)?,
        idempotency_key: get(T, row, 6)?,
        mode: get(T, row, 7)?,
        status: UploadStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("uploads.status", &status))?,
        counts: UploadCounts {
            rows: count(get(T, row, 9)?),
            accepted: count(get(T, row, 10)?),
            rejected: count(get(T, row, 11)?),
            added: count(get(T, row, 12)?),
            modified: count(get(T, row, 13)?),
            deleted: count(get(T, row, 14)?),
            unchanged: count(get(T, row, 15)?),
        },
        corrects: get(T, row, 16)?,
        error: get(T, row, 17)?,
        received_at: get(T, row, 18)?,
        finished_at: get(T, row, 19)?,
        rejections_purged_at: get(T, row, 20)?,
    })
}

/// An upload's counts as BIGINTs, in column order (rows to unchanged).
fn db_counts(c: &UploadCounts) -> StoreResult<[i64; 7]> {
    let counts = [
        c.rows,
        c.accepted,
        c.rejected,
        c.added,
        c.modified,
        c.deleted,
        c.unchanged,
    ];
    let mut out = [0; 7];
    for (o, v) in out.iter_mut().zip(counts) {
        *o = i64::try_from(v)
            .map_err(|_| StoreError::Backend(format!("an upload count of {v} is out of range")))?;
    }
    Ok(out)
}

/// Writes an upload's status, counts, error and finish time.
pub(crate) async fn write_final<C: GenericClient>(c: &C, u: &UploadRecord) -> StoreResult<()> {
    let n = db_counts(&u.counts)?;
    let changed = execute(
        c,
        "UPDATE uploads SET status = $2, rows = $3, accepted = $4, rejected = $5, added = $6, \
         modified = $7, deleted = $8, unchanged = $9, error = $10, finished_at = $11 \
         WHERE id = $1",
        &[
            &u.id,
            &u.status.code(),
            &n[0],
            &n[1],
            &n[2],
            &n[3],
            &n[4],
            &n[5],
            &n[6],
            &u.error,
            &u.finished_at,
        ],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("upload {}", u.id)));
    }
    Ok(())
}

#[async_trait]
impl UploadStore for PostgresStore {
    async fn insert_upload(&self, u: &UploadRecord) -> StoreResult<()> {
        let n = db_counts(&u.counts)?;
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "INSERT INTO uploads ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
            ))
            .await
            .map_err(map_err)?;
        c.execute(
            &stmt,
            &[
                &u.id,
                &u.dataset,
                &u.organisation,
                &u.uploaded_by,
                &u.file_name,
                &u.file_sha256,
                &u.idempotency_key,
                &u.mode,
                &u.status.code(),
                &n[0],
                &n[1],
                &n[2],
                &n[3],
                &n[4],
                &n[5],
                &n[6],
                &u.corrects,
                &u.error,
                &u.received_at,
                &u.finished_at,
                &u.rejections_purged_at,
            ],
        )
        .await
        .map_err(conflict_detail("uploads"))?;
        Ok(())
    }

    async fn update_upload(&self, u: &UploadRecord) -> StoreResult<()> {
        let c = self.client().await?;
        write_final(&c, u).await
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<UploadRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(upload)
        .transpose()
    }

    async fn find_upload(
        &self,
        dataset: &str,
        organisation: &str,
        file_sha256: &str,
        idempotency_key: &str,
    ) -> StoreResult<Option<UploadRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!(
                "SELECT {COLUMNS} FROM uploads WHERE dataset = $1 AND organisation = $2 \
                 AND file_sha256 = $3 AND idempotency_key = $4"
            ),
            &[&dataset, &organisation, &file_sha256, &idempotency_key],
        )
        .await?
        .as_ref()
        .map(upload)
        .transpose()
    }

    async fn uploads(
        &self,
        organisation: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<UploadRecord>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {COLUMNS} FROM uploads WHERE ($1::text IS NULL OR organisation = $1) \
                 ORDER BY received_at DESC, id DESC LIMIT $2"
            ),
            &[&organisation, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(upload)
        .collect()
    }

    async fn uploads_validating(&self) -> StoreResult<Vec<UploadRecord>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {COLUMNS} FROM uploads WHERE status = 'validating' \
                 ORDER BY received_at, id"
            ),
            &[],
        )
        .await?
        .iter()
        .map(upload)
        .collect()
    }

    async fn reap_interrupted_uploads(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // Between taking an upload's lock and releasing it, the connection must not go back
        // to the pool, where the lock would outlive this call: if this fails or is abandoned
        // midway, the guard closes the connection instead.
        let mut guard = DetachOnDrop(Some(self.client().await?));
        let c = guard
            .0
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the reaper's connection is gone".into()))?;
        let ids: Vec<String> = query(
            c,
            "SELECT id FROM uploads WHERE status = 'validating' ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|row| get("uploads", row, 0))
        .collect::<StoreResult<_>>()?;
        let mut reaped = 0;
        for id in &ids {
            if reap_one(c, id, now).await? {
                reaped += 1;
            }
        }
        // Every lock taken was released: back to the pool.
        drop(guard.0.take());
        Ok(reaped)
    }

    async fn upload_header(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
        datasets::upload_header(&self.client().await?, upload_id).await
    }

    async fn upload_rejections(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredRejection>> {
        datasets::upload_rejections(&self.client().await?, upload_id, after, limit).await
    }

    async fn rejections_below_version(
        &self,
        version: u32,
        after: Option<(&str, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<RejectionEntry>> {
        datasets::rejections_below_version(&self.client().await?, version, after, limit).await
    }

    async fn reseal_rejections(&self, updates: &[RejectionReseal]) -> StoreResult<u64> {
        datasets::reseal_rejections(&self.client().await?, updates).await
    }

    async fn rejection_count_by_version(&self) -> StoreResult<Vec<(u32, u64)>> {
        datasets::rejection_count_by_version(&self.client().await?).await
    }

    async fn enrolments_below_version(
        &self,
        version: u32,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<SealedEnrolment>> {
        datasets::enrolments_below_version(&self.client().await?, version, after, limit).await
    }

    async fn reseal_enrolments(&self, updates: &[EnrolmentReseal]) -> StoreResult<u64> {
        datasets::reseal_enrolments(&self.client().await?, updates).await
    }

    async fn sealed_count_by_version(&self) -> StoreResult<Vec<(&'static str, u32, u64)>> {
        let c = self.client().await?;
        let mut all = Vec::new();
        for table in sangam_store::SEALED_TABLES {
            for (version, n) in datasets::count_by_version(&c, table).await? {
                all.push((table, version, n));
            }
        }
        Ok(all)
    }

    async fn purge_rejections(
        &self,
        finished_before: DateTime<Utc>,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<RejectionPurge> {
        let mut c = self.client().await?;
        datasets::purge_rejections(&mut c, finished_before, at, limit).await
    }

    async fn upload_mapping_len(&self, upload_id: &str) -> StoreResult<u64> {
        let row = query_one(
            &self.client().await?,
            "SELECT coalesce(max(last_seq), 0)::bigint FROM upload_mapping_blocks \
             WHERE upload_id = $1",
            &[&upload_id],
        )
        .await?;
        Ok(count(get("upload_mapping_blocks", &row, 0)?))
    }

    async fn upload_mapping(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<MappingEntry>> {
        datasets::upload_mapping(&self.client().await?, upload_id, after, limit).await
    }

    async fn begin_registry_load(&self, upload_id: &str) -> StoreResult<Box<dyn RegistryLoad>> {
        load::begin(self.client().await?, upload_id).await
    }
}

/// Marks one `validating` upload interrupted if nobody holds its lock; whether it did.
async fn reap_one(c: &Object, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let row = query_opt(
        c,
        "SELECT pg_try_advisory_lock($1, hashtext($2))",
        &[&UPLOAD_LOCK, &id],
    )
    .await?
    .ok_or_else(|| StoreError::Backend("pg_try_advisory_lock returned no row".into()))?;
    let locked: bool = get("pg_try_advisory_lock", &row, 0)?;
    if !locked {
        // Its load is alive.
        return Ok(false);
    }
    // Still `validating`: a load that committed between the listing and the lock has moved
    // it on, and is left alone.
    let n = execute(
        c,
        "UPDATE uploads SET status = 'interrupted', finished_at = $2, error = $3 \
         WHERE id = $1 AND status = 'validating'",
        &[&id, &now, &INTERRUPTED],
    )
    .await?;
    execute(
        c,
        "SELECT pg_advisory_unlock($1, hashtext($2))",
        &[&UPLOAD_LOCK, &id],
    )
    .await?;
    Ok(n > 0)
}

/// A pooled connection that leaves the pool for good (and closes) if dropped while still
/// held: it may hold a session lock or an open transaction.
pub(crate) struct DetachOnDrop(pub(crate) Option<Object>);

impl DetachOnDrop {
    pub(crate) fn get(&self) -> StoreResult<&Object> {
        self.0
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the load's transaction has ended".into()))
    }
}

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            drop(Object::take(c));
        }
    }
}
