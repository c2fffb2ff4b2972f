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

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use sangam_domain::RefKey;
use sangam_store::mapping_block;
use sangam_store::raw::{RawHousehold, RawResident};
use sangam_store::{
    Enrolment, EnrolmentState, Household, MappingEntry, NewVaultEntry, RegistryLoad, Resident,
    StoreError, StoreResult, StoredRejection, UploadCounts, UploadRecord, UploadStatus,
    UploadStore,
};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::datasets;
use crate::first_load::FirstLoad;
use crate::registry::copy_registry;
use crate::sql::{conflict_detail, count, execute, get, map_err, query, query_opt};
use crate::vault::{append_entries, put_entries};

/// The first key of the session advisory lock a load holds on its upload ("SGUP"); the
/// second is `hashtext(upload id)`. The two-key form is a key space of its own, apart from
/// the single-key locks of migrations and audit appends.
const UPLOAD_LOCK: i32 = 0x5347_5550;

const COLUMNS: &str = "id, dataset, organisation, uploaded_by, file_name, file_sha256, \
     idempotency_key, mode, status, rows, accepted, rejected, added, modified, deleted, \
     unchanged, corrects, error, received_at, finished_at";

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
async fn write_final<C: GenericClient>(c: &C, u: &UploadRecord) -> StoreResult<()> {
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
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
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

    async fn upload_mapping(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<MappingEntry>> {
        datasets::upload_mapping(&self.client().await?, upload_id, after, limit).await
    }

    async fn begin_registry_load(&self, upload_id: &str) -> StoreResult<Box<dyn RegistryLoad>> {
        let mut load = PgLoad {
            client: DetachOnDrop(Some(self.client().await?)),
            upload_id: upload_id.to_owned(),
            poisoned: false,
            first: FirstLoad::none(),
            fresh_keys: HashSet::new(),
        };
        // From here, leaving early drops the load, which closes its connection.
        let c = load
            .client
            .0
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the load's connection is gone".into()))?;
        execute(
            c,
            "SELECT pg_advisory_lock($1, hashtext($2))",
            &[&UPLOAD_LOCK, &upload_id],
        )
        .await?;
        c.batch_execute("BEGIN").await.map_err(map_err)?;
        let n = execute(
            c,
            "UPDATE uploads SET status = 'validating' WHERE id = $1",
            &[&upload_id],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("upload {upload_id}")));
        }
        load.first = FirstLoad::begin(c).await?;
        Ok(Box::new(load))
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
struct DetachOnDrop(Option<Object>);

impl DetachOnDrop {
    fn get(&self) -> StoreResult<&Object> {
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

/// One upload's loading transaction, on a pooled connection that holds the upload's lock.
struct PgLoad {
    /// Empty once committed and handed back to the pool. A load dropped without a commit
    /// takes its connection out of the pool and closes it, so the server rolls the
    /// transaction back and releases the upload's lock.
    client: DetachOnDrop,
    /// The upload whose lock the connection holds.
    upload_id: String,
    /// Set while a step runs and left set if it fails or is abandoned midway (its future
    /// dropped): the transaction is then aborted, or in a state the caller does not know, and
    /// the load can only be dropped. (A `COMMIT` of an aborted transaction would silently
    /// roll back.)
    poisoned: bool,
    /// What a load into an empty registry dropped until its commit, and what it remembers
    /// instead (see `first_load`).
    first: FirstLoad,
    /// The reference keys the last `put_vault` stored for the first time, until residents are
    /// next inserted. No resident can hold one of them (the foreign key to the vault, checked
    /// row by row or at the commit, would refuse it), so `ref_keys_in_use` need not look
    /// them up.
    fresh_keys: HashSet<RefKey>,
}

impl PgLoad {
    /// The connection, for one step.
    fn start_step(&mut self) -> StoreResult<&Object> {
        self.begin_step()?;
        self.client.get()
    }

    /// Starts a step that reaches the connection itself (`self.client.get()`), for a step
    /// that also uses the rest of the load.
    fn begin_step(&mut self) -> StoreResult<()> {
        if self.poisoned {
            return Err(StoreError::Backend(
                "an earlier step of this load failed or was abandoned, so it was rolled back"
                    .into(),
            ));
        }
        self.poisoned = true;
        Ok(())
    }

    /// Ends a step: the load can go on only if it succeeded.
    fn end_step<T>(&mut self, result: StoreResult<T>) -> StoreResult<T> {
        if result.is_ok() {
            self.poisoned = false;
        }
        result
    }
}

/// The strings among `candidates` that `sql` (`... = ANY($1::text[])`, returning the
/// matching value) finds.
async fn existing(c: &Object, sql: &str, candidates: &[&str]) -> StoreResult<HashSet<String>> {
    query(c, sql, &[&candidates])
        .await?
        .iter()
        .map(|row| get("existing", row, 0))
        .collect()
}

#[async_trait]
impl RegistryLoad for PgLoad {
    async fn put_vault(&mut self, entries: Vec<NewVaultEntry>) -> StoreResult<Vec<RefKey>> {
        self.begin_step()?;
        let (c, first) = (self.client.get()?, &mut self.first);
        let result = if first.unseen(&entries) {
            append_entries(c, &entries)
                .await
                .map(|()| entries.iter().map(|e| e.ref_key.clone()).collect())
        } else {
            match first.build(c, &["blind_index"]).await {
                Ok(()) => put_entries(c, &entries).await,
                Err(e) => Err(e),
            }
        };
        let keys = self.end_step(result)?;
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

    async fn existing_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<String>> {
        let wanted: Vec<&str> = cards.iter().map(String::as_str).collect();
        let result = existing(
            self.start_step()?,
            "SELECT card_number FROM households WHERE card_number = ANY($1::text[])",
            &wanted,
        )
        .await;
        let found = self.end_step(result)?;
        // In the order asked.
        Ok(cards.into_iter().filter(|c| found.contains(c)).collect())
    }

    async fn ref_keys_in_use(&mut self, keys: Vec<RefKey>) -> StoreResult<Vec<RefKey>> {
        let wanted: Vec<&str> = keys
            .iter()
            .filter(|k| !self.fresh_keys.contains(*k))
            .map(RefKey::as_str)
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        self.begin_step()?;
        let (c, first) = (self.client.get()?, &mut self.first);
        let result = match first.build(c, &["id_ref_key"]).await {
            Ok(()) => {
                existing(
                    c,
                    "SELECT id_ref_key FROM residents WHERE id_ref_key = ANY($1::text[])",
                    &wanted,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let found = self.end_step(result)?;
        Ok(keys
            .into_iter()
            .filter(|k| found.contains(k.as_str()))
            .collect())
    }

    async fn insert(
        &mut self,
        households: Vec<Household>,
        residents: Vec<Resident>,
    ) -> StoreResult<()> {
        let households: Vec<RawHousehold> =
            households.iter().map(RawHousehold::from_record).collect();
        let residents: Vec<RawResident> = residents.iter().map(RawResident::from_record).collect();
        // From here a resident may hold any key of the vault.
        self.fresh_keys.clear();
        let result = copy_registry(self.start_step()?, &households, &residents).await;
        self.end_step(result)
    }

    async fn put_header(&mut self, header: Vec<String>) -> StoreResult<()> {
        let id = self.upload_id.clone();
        let result = datasets::put_header(self.start_step()?, &id, &header).await;
        self.end_step(result)
    }

    async fn put_rejections(&mut self, rows: Vec<StoredRejection>) -> StoreResult<()> {
        let id = self.upload_id.clone();
        let result = datasets::put_rejections(self.start_step()?, &id, &rows).await;
        self.end_step(result)
    }

    async fn put_mapping(&mut self, rows: Vec<MappingEntry>) -> StoreResult<()> {
        let Some(block) = mapping_block::encode(&rows)? else {
            return Ok(());
        };
        let id = self.upload_id.clone();
        let result = datasets::put_mapping(self.start_step()?, &id, &block).await;
        self.end_step(result)
    }

    async fn residents_by_ref_keys(
        &mut self,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<(RefKey, String)>> {
        self.begin_step()?;
        let (c, first) = (self.client.get()?, &mut self.first);
        let result = match first.build(c, &["id_ref_key"]).await {
            Ok(()) => datasets::residents_by_ref_keys(c, &keys).await,
            Err(e) => Err(e),
        };
        self.end_step(result)
    }

    async fn enrolment_states(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
    ) -> StoreResult<Vec<EnrolmentState>> {
        let result = datasets::enrolment_states(self.start_step()?, dataset, &keys).await;
        self.end_step(result)
    }

    async fn upsert_enrolments(&mut self, rows: Vec<Enrolment>) -> StoreResult<()> {
        let result = datasets::upsert_enrolments(self.start_step()?, &rows).await;
        self.end_step(result)
    }

    async fn touch_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
    ) -> StoreResult<()> {
        let result =
            datasets::touch_enrolments(self.start_step()?, dataset, &keys, upload_id).await;
        self.end_step(result)
    }

    async fn remove_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        let result =
            datasets::remove_enrolments(self.start_step()?, dataset, &keys, upload_id, now).await;
        self.end_step(result)
    }

    async fn remove_enrolments_not_seen(
        &mut self,
        dataset: &str,
        upload_id: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        let result = datasets::remove_enrolments_not_seen(
            self.start_step()?,
            dataset,
            upload_id,
            now,
            limit,
        )
        .await;
        self.end_step(result)
    }

    async fn commit(mut self: Box<Self>, upload: UploadRecord) -> StoreResult<()> {
        if upload.id != self.upload_id {
            return Err(StoreError::Backend(format!(
                "the load of upload {} cannot commit as upload {}",
                self.upload_id, upload.id
            )));
        }
        let upload_id = self.upload_id.clone();
        self.begin_step()?;
        let (c, first) = (self.client.get()?, &mut self.first);
        first.finish(c).await?;
        write_final(c, &upload).await?;
        c.batch_execute("COMMIT").await.map_err(map_err)?;
        // Committed. Hand the connection back to the pool only once the lock is released;
        // if that fails, dropping the load closes the connection, which releases it too.
        let unlocked = query_opt(
            c,
            "SELECT pg_advisory_unlock($1, hashtext($2))",
            &[&UPLOAD_LOCK, &upload_id],
        )
        .await;
        if let Ok(Some(row)) = unlocked
            && get::<bool>("pg_advisory_unlock", &row, 0).unwrap_or(false)
        {
            drop(self.client.0.take());
        }
        Ok(())
    }

    async fn households_of(&mut self, cards: Vec<String>) -> StoreResult<Vec<Household>> {
        let result = crate::registry::households_of(self.start_step()?, &cards).await;
        self.end_step(result)
    }

    async fn residents_of_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<Resident>> {
        let result = crate::registry::residents_of_cards(self.start_step()?, &cards).await;
        self.end_step(result)
    }

    async fn residents_by_blind_indexes(
        &mut self,
        blind_indexes: Vec<[u8; 32]>,
    ) -> StoreResult<Vec<([u8; 32], Resident)>> {
        self.begin_step()?;
        let (c, first) = (self.client.get()?, &mut self.first);
        let result = match first.build(c, &["blind_index", "id_ref_key"]).await {
            Ok(()) => crate::registry::residents_by_blind_indexes(c, &blind_indexes).await,
            Err(e) => Err(e),
        };
        self.end_step(result)
    }

    async fn update_registry(
        &mut self,
        households: Vec<sangam_store::RegistryUpdate<Household>>,
        residents: Vec<sangam_store::RegistryUpdate<Resident>>,
        ctx: sangam_store::ChangeContext,
    ) -> StoreResult<()> {
        self.begin_step()?;
        let (c, first) = (self.client.get()?, &mut self.first);
        let result = match first.build(c, &["resident_id"]).await {
            Ok(()) => crate::registry::update_registry(c, &households, &residents, &ctx).await,
            Err(e) => Err(e),
        };
        self.end_step(result)
    }
}
