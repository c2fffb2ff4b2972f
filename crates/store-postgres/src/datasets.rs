//! Datasets and their spec versions, enrolments, and what an upload hands back (the file's
//! header, its sealed rejected rows, the reference-key mapping). The functions generic over
//! the client also run inside an upload's load transaction (see `uploads.rs`); batches go in
//! with one `UNNEST` statement each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use sangam_domain::RefKey;
use sangam_store::mapping_block::{self, Block};
use sangam_store::raw::{blind_index_32, ref_key};
use sangam_store::{
    Dataset, DatasetSpecVersion, DatasetStore, Enrolment, EnrolmentReseal, EnrolmentState,
    EnrolmentStatus, LastUpload, MappingEntry, RejectionEntry, RejectionPurge, RejectionReseal,
    SealedEnrolment, StoreError, StoreResult, StoredRejection,
};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::sql::{conflict_detail, count, execute, get, map_err, query, query_one, query_opt};

const DATASET_COLUMNS: &str = "name, title, organisation, current_version, \
     update_frequency_days, created_by, created_at, updated_at";

pub(crate) const ENROLMENT_COLUMNS: &str = "dataset, record_key, ref_key, resident_id, fields, \
     key_version, sealed, digest, status, spec_version, upload_id, created_at, updated_at, \
     version";

fn u32_of(what: &'static str, v: i32) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::corrupt(what, v))
}

fn i32_of(v: u32) -> StoreResult<i32> {
    i32::try_from(v).map_err(|_| StoreError::Backend(format!("{v} is out of range")))
}

fn i64_of(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{v} is out of range")))
}

fn dataset(row: &Row) -> StoreResult<Dataset> {
    const T: &str = "datasets";
    Ok(Dataset {
        name: get(T, row, 0)?,
        title: get(T, row, 1)?,
        organisation: get(T, row, 2)?,
        current_version: u32_of("datasets.current_version", get(T, row, 3)?)?,
        update_frequency_days: get::<Option<i32>>(T, row, 4)?
            .map(|f| u32_of("datasets.update_frequency_days", f))
            .transpose()?,
        created_by: get(T, row, 5)?,
        created_at: get(T, row, 6)?,
        updated_at: get(T, row, 7)?,
    })
}

pub(crate) fn enrolment(row: &Row) -> StoreResult<Enrolment> {
    const T: &str = "enrolments";
    let status: String = get(T, row, 8)?;
    Ok(Enrolment {
        dataset: get(T, row, 0)?,
        record_key: get(T, row, 1)?,
        ref_key: get::<Option<String>>(T, row, 2)?
            .map(|k| ref_key("enrolments.ref_key", &k))
            .transpose()?,
        resident_id: get(T, row, 3)?,
        fields: get(T, row, 4)?,
        key_version: u32_of("enrolments.key_version", get(T, row, 5)?)?,
        sealed: get(T, row, 6)?,
        digest: blind_index_32("enrolments.digest", get(T, row, 7)?)?,
        status: EnrolmentStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("enrolments.status", &status))?,
        spec_version: u32_of("enrolments.spec_version", get(T, row, 9)?)?,
        upload_id: get(T, row, 10)?,
        created_at: get(T, row, 11)?,
        updated_at: get(T, row, 12)?,
        version: get(T, row, 13)?,
    })
}

async fn insert_spec<C: GenericClient>(c: &C, spec: &DatasetSpecVersion) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO dataset_specs (dataset, version, spec_json, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &spec.dataset,
            &i32_of(spec.version)?,
            &spec.spec_json,
            &spec.created_by,
            &spec.created_at,
        ],
    )
    .await
    .map(|_| ())
}

#[async_trait]
impl DatasetStore for PostgresStore {
    async fn insert_dataset(&self, d: &Dataset, spec: &DatasetSpecVersion) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let frequency = d.update_frequency_days.map(i32_of).transpose()?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO datasets ({DATASET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await
            .map_err(map_err)?;
        tx.execute(
            &stmt,
            &[
                &d.name,
                &d.title,
                &d.organisation,
                &i32_of(d.current_version)?,
                &frequency,
                &d.created_by,
                &d.created_at,
                &d.updated_at,
            ],
        )
        .await
        .map_err(conflict_detail("datasets"))
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("dataset {} exists", d.name)),
            other => other,
        })?;
        insert_spec(&tx, spec).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn add_spec_version(&self, d: &Dataset, spec: &DatasetSpecVersion) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let frequency = d.update_frequency_days.map(i32_of).transpose()?;
        let n = execute(
            &tx,
            "UPDATE datasets SET title = $2, current_version = $3, update_frequency_days = $4, \
             updated_at = $5 WHERE name = $1",
            &[
                &d.name,
                &d.title,
                &i32_of(d.current_version)?,
                &frequency,
                &d.updated_at,
            ],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("dataset {}", d.name)));
        }
        insert_spec(&tx, spec).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "dataset {} already has spec version {}",
                spec.dataset, spec.version
            )),
            other => other,
        })?;
        tx.commit().await.map_err(map_err)
    }

    async fn dataset(&self, name: &str) -> StoreResult<Option<Dataset>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE name = $1"),
            &[&name],
        )
        .await?
        .as_ref()
        .map(dataset)
        .transpose()
    }

    async fn datasets(&self) -> StoreResult<Vec<Dataset>> {
        let c = self.client().await?;
        query(
            &c,
            &format!("SELECT {DATASET_COLUMNS} FROM datasets ORDER BY name"),
            &[],
        )
        .await?
        .iter()
        .map(dataset)
        .collect()
    }

    async fn spec_version(
        &self,
        dataset: &str,
        version: u32,
    ) -> StoreResult<Option<DatasetSpecVersion>> {
        const T: &str = "dataset_specs";
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT spec_json, created_by, created_at FROM dataset_specs \
             WHERE dataset = $1 AND version = $2",
            &[&dataset, &i32_of(version)?],
        )
        .await?
        .map(|row| {
            Ok(DatasetSpecVersion {
                dataset: dataset.to_owned(),
                version,
                spec_json: get(T, &row, 0)?,
                created_by: get(T, &row, 1)?,
                created_at: get(T, &row, 2)?,
            })
        })
        .transpose()
    }

    async fn last_uploads(&self) -> StoreResult<Vec<LastUpload>> {
        const T: &str = "uploads";
        let c = self.client().await?;
        query(
            &c,
            "SELECT DISTINCT ON (dataset, organisation) dataset, organisation, id, finished_at \
             FROM uploads WHERE status = 'committed' AND finished_at IS NOT NULL \
             ORDER BY dataset, organisation, finished_at DESC",
            &[],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(LastUpload {
                dataset: get(T, row, 0)?,
                organisation: get(T, row, 1)?,
                upload_id: get(T, row, 2)?,
                finished_at: get(T, row, 3)?,
            })
        })
        .collect()
    }

    async fn enrolment(&self, dataset: &str, record_key: &str) -> StoreResult<Option<Enrolment>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!(
                "SELECT {ENROLMENT_COLUMNS} FROM enrolments \
                 WHERE dataset = $1 AND record_key = $2"
            ),
            &[&dataset, &record_key],
        )
        .await?
        .as_ref()
        .map(enrolment)
        .transpose()
    }

    async fn enrolments(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Enrolment>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {ENROLMENT_COLUMNS} FROM enrolments \
                 WHERE dataset = $1 AND record_key > $2 ORDER BY record_key LIMIT $3"
            ),
            &[&dataset, &after.unwrap_or(""), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(enrolment)
        .collect()
    }

    async fn count_active_enrolments(&self, dataset: &str) -> StoreResult<u64> {
        let c = self.client().await?;
        let row = query_one(
            &c,
            "SELECT COUNT(*) FROM enrolments WHERE dataset = $1 AND status = 'active'",
            &[&dataset],
        )
        .await?;
        Ok(count(get("enrolments", &row, 0)?))
    }
}

// ------------------------------------------------------------ reads of an upload's output

pub(crate) async fn upload_header<C: GenericClient>(
    c: &C,
    upload_id: &str,
) -> StoreResult<Option<Vec<String>>> {
    query_opt(
        c,
        "SELECT header FROM upload_headers WHERE upload_id = $1",
        &[&upload_id],
    )
    .await?
    .map(|row| {
        let v: serde_json::Value = get("upload_headers", &row, 0)?;
        serde_json::from_value(v).map_err(|e| StoreError::corrupt("upload_headers.header", e))
    })
    .transpose()
}

pub(crate) async fn upload_rejections<C: GenericClient>(
    c: &C,
    upload_id: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<StoredRejection>> {
    const T: &str = "upload_rejections";
    query(
        c,
        "SELECT line, key_version, sealed FROM upload_rejections \
         WHERE upload_id = $1 AND line > $2 ORDER BY line LIMIT $3",
        &[&upload_id, &i64_of(after)?, &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(StoredRejection {
            line: count(get(T, row, 0)?),
            key_version: u32_of("upload_rejections.key_version", get(T, row, 1)?)?,
            sealed: get(T, row, 2)?,
        })
    })
    .collect()
}

pub(crate) async fn upload_mapping<C: GenericClient>(
    c: &C,
    upload_id: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<MappingEntry>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut from = after;
    // A block at a time, so a page never reads the whole mapping.
    while out.len() < limit {
        let Some(row) = query_opt(
            c,
            "SELECT last_seq, entries FROM upload_mapping_blocks \
             WHERE upload_id = $1 AND last_seq > $2 ORDER BY first_seq LIMIT 1",
            &[&upload_id, &i64_of(from)?],
        )
        .await?
        else {
            break;
        };
        let last: i64 = get("upload_mapping_blocks", &row, 0)?;
        let text: String = get("upload_mapping_blocks", &row, 1)?;
        mapping_block::decode_into(&text, after, limit, &mut out)?;
        from = count(last);
    }
    Ok(out)
}

// ------------------------------------------------------ rejected rows: rotation, retention

pub(crate) async fn rejections_below_version<C: GenericClient>(
    c: &C,
    version: u32,
    after: Option<(&str, u64)>,
    limit: u32,
) -> StoreResult<Vec<RejectionEntry>> {
    const T: &str = "upload_rejections";
    // Every upload id sorts after the empty string (the column is COLLATE "C"), and every
    // line after -1; the row comparison walks the primary key's index.
    let (after_id, after_line) = match after {
        Some((id, line)) => (id, i64_of(line)?),
        None => ("", -1),
    };
    query(
        c,
        "SELECT upload_id, line, key_version, sealed FROM upload_rejections \
         WHERE key_version < $1 AND (upload_id, line) > ($2::text, $3::int8) \
         ORDER BY upload_id, line LIMIT $4",
        &[&i32_of(version)?, &after_id, &after_line, &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(RejectionEntry {
            upload_id: get(T, row, 0)?,
            line: count(get(T, row, 1)?),
            key_version: u32_of("upload_rejections.key_version", get(T, row, 2)?)?,
            sealed: get(T, row, 3)?,
        })
    })
    .collect()
}

pub(crate) async fn reseal_rejections<C: GenericClient>(
    c: &C,
    updates: &[RejectionReseal],
) -> StoreResult<u64> {
    if updates.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = updates.iter().map(|u| u.upload_id.as_str()).collect();
    let lines = updates
        .iter()
        .map(|u| i64_of(u.line))
        .collect::<StoreResult<Vec<_>>>()?;
    let expected = updates
        .iter()
        .map(|u| i32_of(u.expected_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let new = updates
        .iter()
        .map(|u| i32_of(u.new_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let sealed: Vec<&[u8]> = updates.iter().map(|u| u.sealed.as_slice()).collect();
    // One statement, so the batch is written whole or not at all.
    execute(
        c,
        "UPDATE upload_rejections r SET key_version = u.new_version, sealed = u.sealed \
         FROM UNNEST($1::text[], $2::int8[], $3::int4[], $4::int4[], $5::bytea[]) \
              AS u(upload_id, line, expected, new_version, sealed) \
         WHERE r.upload_id = u.upload_id AND r.line = u.line AND r.key_version = u.expected",
        &[&ids, &lines, &expected, &new, &sealed],
    )
    .await
}

pub(crate) async fn enrolments_below_version<C: GenericClient>(
    c: &C,
    version: u32,
    after: Option<(&str, &str)>,
    limit: u32,
) -> StoreResult<Vec<SealedEnrolment>> {
    const T: &str = "enrolments";
    // Every dataset name sorts after the empty string; the row comparison walks the primary
    // key's index.
    let (after_dataset, after_key) = after.unwrap_or(("", ""));
    query(
        c,
        "SELECT dataset, record_key, key_version, sealed FROM enrolments \
         WHERE key_version < $1 AND (dataset, record_key) > ($2::text, $3::text) \
         ORDER BY dataset, record_key LIMIT $4",
        &[
            &i32_of(version)?,
            &after_dataset,
            &after_key,
            &i64::from(limit),
        ],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(SealedEnrolment {
            dataset: get(T, row, 0)?,
            record_key: get(T, row, 1)?,
            key_version: u32_of("enrolments.key_version", get(T, row, 2)?)?,
            sealed: get(T, row, 3)?,
        })
    })
    .collect()
}

pub(crate) async fn reseal_enrolments<C: GenericClient>(
    c: &C,
    updates: &[EnrolmentReseal],
) -> StoreResult<u64> {
    if updates.is_empty() {
        return Ok(0);
    }
    let datasets: Vec<&str> = updates.iter().map(|u| u.dataset.as_str()).collect();
    let keys: Vec<&str> = updates.iter().map(|u| u.record_key.as_str()).collect();
    let expected = updates
        .iter()
        .map(|u| i32_of(u.expected_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let new = updates
        .iter()
        .map(|u| i32_of(u.new_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let sealed: Vec<&[u8]> = updates.iter().map(|u| u.sealed.as_slice()).collect();
    // One statement, so the batch is written whole or not at all.
    execute(
        c,
        "UPDATE enrolments e SET key_version = u.new_version, sealed = u.sealed \
         FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::int4[], $5::bytea[]) \
              AS u(dataset, record_key, expected, new_version, sealed) \
         WHERE e.dataset = u.dataset AND e.record_key = u.record_key \
           AND e.key_version = u.expected",
        &[&datasets, &keys, &expected, &new, &sealed],
    )
    .await
}

pub(crate) async fn rejection_count_by_version<C: GenericClient>(
    c: &C,
) -> StoreResult<Vec<(u32, u64)>> {
    count_by_version(c, "upload_rejections").await
}

/// Rows of `table` (one of the hub's own, never from outside) by the key version sealing
/// them.
pub(crate) async fn count_by_version<C: GenericClient>(
    c: &C,
    table: &'static str,
) -> StoreResult<Vec<(u32, u64)>> {
    query(
        c,
        &format!(
            // The tables keep the version as INTEGER or BIGINT (resident_requests): read as one.
            "SELECT key_version::bigint, count(*) FROM {table} GROUP BY key_version \
             ORDER BY key_version"
        ),
        &[],
    )
    .await?
    .iter()
    .map(|row| {
        let version: i64 = get(table, row, 0)?;
        Ok((
            u32::try_from(version).map_err(|_| StoreError::corrupt(table, version))?,
            count(get(table, row, 1)?),
        ))
    })
    .collect()
}

/// One batch of the retention purge, in one transaction (see
/// `UploadStore::purge_rejections`). The uploads it works on are locked and skipped by
/// another purge running at the same moment.
pub(crate) async fn purge_rejections(
    c: &mut Object,
    finished_before: DateTime<Utc>,
    at: DateTime<Utc>,
    limit: u32,
) -> StoreResult<RejectionPurge> {
    let tx = c.transaction().await.map_err(map_err)?;
    let mut purge = RejectionPurge::default();
    // One more than the limit, to know whether uploads are left after this batch.
    let uploads: Vec<String> = query(
        &tx,
        "SELECT id FROM uploads WHERE status = 'committed' \
         AND rejections_purged_at IS NULL AND finished_at < $1 \
         ORDER BY finished_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        &[&finished_before, &(i64::from(limit) + 1)],
    )
    .await?
    .iter()
    .map(|row| get("uploads", row, 0))
    .collect::<StoreResult<_>>()?;
    let mut budget = u64::from(limit);
    for (i, id) in uploads.iter().enumerate() {
        if i as u64 >= u64::from(limit) || budget == 0 {
            purge.more = true;
            break;
        }
        let deleted = execute(
            &tx,
            "DELETE FROM upload_rejections WHERE upload_id = $1 AND line IN \
             (SELECT line FROM upload_rejections WHERE upload_id = $1 \
              ORDER BY line LIMIT $2)",
            &[id, &i64_of(budget)?],
        )
        .await?;
        purge.rows += deleted;
        budget -= deleted;
        if budget == 0 {
            let row = query_one(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM upload_rejections WHERE upload_id = $1)",
                &[id],
            )
            .await?;
            let left: bool = get("upload_rejections", &row, 0)?;
            if left {
                purge.more = true;
                break;
            }
        }
        execute(
            &tx,
            "DELETE FROM upload_headers WHERE upload_id = $1",
            &[id],
        )
        .await?;
        execute(
            &tx,
            "UPDATE uploads SET rejections_purged_at = $2 WHERE id = $1",
            &[id, &at],
        )
        .await?;
        purge.uploads += 1;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(purge)
}

// ------------------------------------------------------------ writes inside a load

pub(crate) async fn put_header<C: GenericClient>(
    c: &C,
    upload_id: &str,
    header: &[String],
) -> StoreResult<()> {
    let json = serde_json::to_value(header)
        .map_err(|e| StoreError::Backend(format!("cannot encode the header: {e}")))?;
    execute(
        c,
        "INSERT INTO upload_headers (upload_id, header) VALUES ($1, $2) \
         ON CONFLICT (upload_id) DO UPDATE SET header = EXCLUDED.header",
        &[&upload_id, &json],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn put_rejections<C: GenericClient>(
    c: &C,
    upload_id: &str,
    rows: &[StoredRejection],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let lines = rows
        .iter()
        .map(|r| i64_of(r.line))
        .collect::<StoreResult<Vec<_>>>()?;
    let versions = rows
        .iter()
        .map(|r| i32_of(r.key_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let sealed: Vec<&[u8]> = rows.iter().map(|r| r.sealed.as_slice()).collect();
    execute(
        c,
        "INSERT INTO upload_rejections (upload_id, line, key_version, sealed) \
         SELECT $1, * FROM UNNEST($2::int8[], $3::int4[], $4::bytea[])",
        &[&upload_id, &lines, &versions, &sealed],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn put_mapping<C: GenericClient>(
    c: &C,
    upload_id: &str,
    block: &Block,
) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO upload_mapping_blocks (upload_id, first_seq, last_seq, entries) \
         VALUES ($1, $2, $3, $4)",
        &[
            &upload_id,
            &i64_of(block.first_seq)?,
            &i64_of(block.last_seq)?,
            &block.entries,
        ],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn residents_by_ref_keys<C: GenericClient>(
    c: &C,
    keys: &[RefKey],
) -> StoreResult<Vec<(RefKey, String)>> {
    let wanted: Vec<&str> = keys.iter().map(RefKey::as_str).collect();
    query(
        c,
        "SELECT id_ref_key, resident_id FROM residents WHERE id_ref_key = ANY($1::text[])",
        &[&wanted],
    )
    .await?
    .iter()
    .map(|row| {
        let key: String = get("residents", row, 0)?;
        Ok((
            ref_key("residents.id_ref_key", &key)?,
            get("residents", row, 1)?,
        ))
    })
    .collect()
}

/// Found through the index on `enrolments (ref_key)`: a key is held by a handful of records
/// across all datasets, so filtering those by dataset and status costs nothing.
pub(crate) async fn active_enrolments_by_ref_keys<C: GenericClient>(
    c: &C,
    dataset: &str,
    keys: &[RefKey],
) -> StoreResult<Vec<EnrolmentState>> {
    const T: &str = "enrolments";
    let wanted: Vec<&str> = keys.iter().map(RefKey::as_str).collect();
    query(
        c,
        "SELECT record_key, digest, ref_key, version FROM enrolments \
         WHERE ref_key = ANY($1::text[]) AND dataset = $2 AND status = 'active' \
         ORDER BY record_key",
        &[&wanted, &dataset],
    )
    .await?
    .iter()
    .map(|row| {
        let key: String = get(T, row, 2)?;
        Ok(EnrolmentState {
            record_key: get(T, row, 0)?,
            digest: blind_index_32("enrolments.digest", get(T, row, 1)?)?,
            status: EnrolmentStatus::Active,
            ref_key: Some(ref_key("enrolments.ref_key", &key)?),
            version: get(T, row, 3)?,
        })
    })
    .collect()
}

pub(crate) async fn enrolment_states<C: GenericClient>(
    c: &C,
    dataset: &str,
    keys: &[String],
) -> StoreResult<Vec<EnrolmentState>> {
    const T: &str = "enrolments";
    query(
        c,
        "SELECT record_key, digest, status, ref_key, version FROM enrolments \
         WHERE dataset = $1 AND record_key = ANY($2::text[])",
        &[&dataset, &keys],
    )
    .await?
    .iter()
    .map(|row| {
        let status: String = get(T, row, 2)?;
        Ok(EnrolmentState {
            record_key: get(T, row, 0)?,
            digest: blind_index_32("enrolments.digest", get(T, row, 1)?)?,
            status: EnrolmentStatus::from_code(&status)
                .ok_or_else(|| StoreError::corrupt("enrolments.status", &status))?,
            ref_key: get::<Option<String>>(T, row, 3)?
                .map(|k| ref_key("enrolments.ref_key", &k))
                .transpose()?,
            version: get(T, row, 4)?,
        })
    })
    .collect()
}

pub(crate) async fn upsert_enrolments<C: GenericClient>(
    c: &C,
    rows: &[Enrolment],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let datasets: Vec<&str> = rows.iter().map(|e| e.dataset.as_str()).collect();
    let keys: Vec<&str> = rows.iter().map(|e| e.record_key.as_str()).collect();
    let refs: Vec<Option<&str>> = rows
        .iter()
        .map(|e| e.ref_key.as_ref().map(RefKey::as_str))
        .collect();
    let residents: Vec<Option<&str>> = rows.iter().map(|e| e.resident_id.as_deref()).collect();
    let fields: Vec<String> = rows.iter().map(|e| e.fields.to_string()).collect();
    let versions = rows
        .iter()
        .map(|e| i32_of(e.key_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let sealed: Vec<&[u8]> = rows.iter().map(|e| e.sealed.as_slice()).collect();
    let digests: Vec<&[u8]> = rows.iter().map(|e| e.digest.as_slice()).collect();
    let statuses: Vec<&str> = rows.iter().map(|e| e.status.code()).collect();
    let spec_versions = rows
        .iter()
        .map(|e| i32_of(e.spec_version))
        .collect::<StoreResult<Vec<_>>>()?;
    let uploads: Vec<&str> = rows.iter().map(|e| e.upload_id.as_str()).collect();
    let created: Vec<DateTime<Utc>> = rows.iter().map(|e| e.created_at).collect();
    let updated: Vec<DateTime<Utc>> = rows.iter().map(|e| e.updated_at).collect();
    let record_versions: Vec<i64> = rows.iter().map(|e| e.version).collect();
    execute(
        c,
        &format!(
            "INSERT INTO enrolments ({ENROLMENT_COLUMNS}, seen_upload, link_status, \
             link_method, link_probability) \
             SELECT d, k, r, res, f::jsonb, kv, s, dg, st, sv, u, ca, ua, v, u, \
             CASE WHEN res IS NULL THEN 'pending' ELSE 'linked' END, \
             CASE WHEN res IS NULL THEN NULL ELSE 'id_number' END, \
             CASE WHEN res IS NULL THEN NULL ELSE 1.0::float8 END FROM UNNEST(\
             $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], \
             $7::bytea[], $8::bytea[], $9::text[], $10::int4[], $11::text[], \
             $12::timestamptz[], $13::timestamptz[], $14::int8[]) \
             AS t(d, k, r, res, f, kv, s, dg, st, sv, u, ca, ua, v) \
             ON CONFLICT (dataset, record_key) DO UPDATE SET ref_key = EXCLUDED.ref_key, \
             resident_id = EXCLUDED.resident_id, fields = EXCLUDED.fields, \
             key_version = EXCLUDED.key_version, sealed = EXCLUDED.sealed, \
             digest = EXCLUDED.digest, status = EXCLUDED.status, \
             spec_version = EXCLUDED.spec_version, upload_id = EXCLUDED.upload_id, \
             seen_upload = EXCLUDED.seen_upload, updated_at = EXCLUDED.updated_at, \
             version = EXCLUDED.version, link_status = EXCLUDED.link_status, \
             link_method = EXCLUDED.link_method, link_probability = EXCLUDED.link_probability"
        ),
        &[
            &datasets,
            &keys,
            &refs,
            &residents,
            &fields,
            &versions,
            &sealed,
            &digests,
            &statuses,
            &spec_versions,
            &uploads,
            &created,
            &updated,
            &record_versions,
        ],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn touch_enrolments<C: GenericClient>(
    c: &C,
    dataset: &str,
    keys: &[String],
    upload_id: &str,
) -> StoreResult<()> {
    execute(
        c,
        "UPDATE enrolments SET seen_upload = $3 WHERE dataset = $1 AND record_key = ANY($2::text[])",
        &[&dataset, &keys, &upload_id],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn remove_enrolments<C: GenericClient>(
    c: &C,
    dataset: &str,
    keys: &[String],
    upload_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    query(
        c,
        "UPDATE enrolments SET status = 'removed', upload_id = $3, seen_upload = $3, \
         updated_at = $4, version = version + 1 \
         WHERE dataset = $1 AND record_key = ANY($2::text[]) AND status = 'active' \
         RETURNING record_key",
        &[&dataset, &keys, &upload_id, &now],
    )
    .await?
    .iter()
    .map(|row| get("enrolments", row, 0))
    .collect()
}

pub(crate) async fn remove_enrolments_not_seen<C: GenericClient>(
    c: &C,
    dataset: &str,
    upload_id: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let keys: Vec<String> = query(
        c,
        "SELECT record_key FROM enrolments WHERE dataset = $1 AND status = 'active' \
         AND seen_upload <> $2 ORDER BY record_key LIMIT $3",
        &[&dataset, &upload_id, &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|row| get("enrolments", row, 0))
    .collect::<StoreResult<_>>()?;
    remove_enrolments(c, dataset, &keys, upload_id, now).await
}
