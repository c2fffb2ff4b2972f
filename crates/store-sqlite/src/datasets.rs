//! Datasets and their spec versions, enrolments, and what an upload hands back (the file's
//! header, its sealed rejected rows, the reference-key mapping). The functions that take a
//! bare `&Connection` also run inside an upload's load transaction (see `uploads.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sangam_domain::RefKey;
use sangam_store::mapping_block::{self, Block};
use sangam_store::raw::{blind_index_32, ref_key};
use sangam_store::{
    Dataset, DatasetSpecVersion, DatasetStore, Enrolment, EnrolmentReseal, EnrolmentState,
    EnrolmentStatus, LastUpload, MappingEntry, RejectionEntry, RejectionPurge, RejectionReseal,
    SealedEnrolment, StoreError, StoreResult, StoredRejection,
};

use crate::SqliteStore;
use crate::sql::{begin, map_err, parse_ts, ts};

const DATASET_COLUMNS: &str = "name, title, organisation, current_version, \
     update_frequency_days, created_by, created_at, updated_at";

pub(crate) const ENROLMENT_COLUMNS: &str = "dataset, record_key, ref_key, resident_id, fields, \
     key_version, sealed, digest, status, spec_version, upload_id, created_at, updated_at, \
     version";

/// The link an enrolment gets when an upload writes it: linked when its ID number's reference
/// key is a resident's (?4 is the resident), otherwise waiting for the link job.
const LINK_AT_WRITE: &str = "CASE WHEN ?4 IS NULL THEN 'pending' ELSE 'linked' END, \
     CASE WHEN ?4 IS NULL THEN NULL ELSE 'id_number' END, \
     CASE WHEN ?4 IS NULL THEN NULL ELSE 1.0 END";

fn u32_of(what: &'static str, v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::corrupt(what, v))
}

fn i64_of(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{v} is out of range")))
}

type RawDataset = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    String,
    String,
    String,
);

fn raw_dataset(r: &Row<'_>) -> rusqlite::Result<RawDataset> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn dataset(raw: RawDataset) -> StoreResult<Dataset> {
    let (name, title, organisation, version, frequency, created_by, created, updated) = raw;
    Ok(Dataset {
        name,
        title,
        organisation,
        current_version: u32_of("datasets.current_version", version)?,
        update_frequency_days: frequency
            .map(|f| u32_of("datasets.update_frequency_days", f))
            .transpose()?,
        created_by,
        created_at: parse_ts("datasets.created_at", &created)?,
        updated_at: parse_ts("datasets.updated_at", &updated)?,
    })
}

fn insert_spec(c: &Connection, spec: &DatasetSpecVersion) -> StoreResult<()> {
    c.execute(
        "INSERT INTO dataset_specs (dataset, version, spec_json, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            spec.dataset,
            spec.version,
            spec.spec_json,
            spec.created_by,
            ts(&spec.created_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(crate) type RawEnrolment = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Vec<u8>,
    Vec<u8>,
    String,
    i64,
    String,
    String,
    String,
    i64,
);

pub(crate) fn raw_enrolment(r: &Row<'_>) -> rusqlite::Result<RawEnrolment> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

pub(crate) fn enrolment(raw: RawEnrolment) -> StoreResult<Enrolment> {
    let (
        dataset,
        record_key,
        rk,
        resident_id,
        fields,
        key_version,
        sealed,
        digest,
        status,
        spec_version,
        upload_id,
        created,
        updated,
        version,
    ) = raw;
    Ok(Enrolment {
        dataset,
        record_key,
        ref_key: rk.map(|k| ref_key("enrolments.ref_key", &k)).transpose()?,
        resident_id,
        fields: serde_json::from_str(&fields)
            .map_err(|e| StoreError::corrupt("enrolments.fields", e))?,
        key_version: u32_of("enrolments.key_version", key_version)?,
        sealed,
        digest: blind_index_32("enrolments.digest", digest)?,
        status: EnrolmentStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("enrolments.status", &status))?,
        spec_version: u32_of("enrolments.spec_version", spec_version)?,
        upload_id,
        created_at: parse_ts("enrolments.created_at", &created)?,
        updated_at: parse_ts("enrolments.updated_at", &updated)?,
        version,
    })
}

#[async_trait]
impl DatasetStore for SqliteStore {
    async fn insert_dataset(
        &self,
        dataset: &Dataset,
        spec: &DatasetSpecVersion,
    ) -> StoreResult<()> {
        let (d, spec) = (dataset.clone(), spec.clone());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                tx.execute(
                    &format!(
                        "INSERT INTO datasets ({DATASET_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                    ),
                    params![
                        d.name,
                        d.title,
                        d.organisation,
                        d.current_version,
                        d.update_frequency_days,
                        d.created_by,
                        ts(&d.created_at),
                        ts(&d.updated_at)
                    ],
                )
                .map_err(|e| match map_err(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("dataset {} exists", d.name))
                    }
                    other => other,
                })?;
                insert_spec(&tx, &spec)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn add_spec_version(
        &self,
        dataset: &Dataset,
        spec: &DatasetSpecVersion,
    ) -> StoreResult<()> {
        let (d, spec) = (dataset.clone(), spec.clone());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let n = tx
                    .execute(
                        "UPDATE datasets SET title = ?2, current_version = ?3, \
                         update_frequency_days = ?4, updated_at = ?5 WHERE name = ?1",
                        params![
                            d.name,
                            d.title,
                            d.current_version,
                            d.update_frequency_days,
                            ts(&d.updated_at)
                        ],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("dataset {}", d.name)));
                }
                insert_spec(&tx, &spec).map_err(|e| match e {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "dataset {} already has spec version {}",
                        spec.dataset, spec.version
                    )),
                    other => other,
                })?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn dataset(&self, name: &str) -> StoreResult<Option<Dataset>> {
        let name = name.to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE name = ?1"),
                    [&name],
                    raw_dataset,
                )
                .optional()
                .map_err(map_err)?
                .map(dataset)
                .transpose()
            })
            .await
    }

    async fn datasets(&self) -> StoreResult<Vec<Dataset>> {
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {DATASET_COLUMNS} FROM datasets ORDER BY name"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], raw_dataset)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter().map(dataset).collect()
            })
            .await
    }

    async fn spec_version(
        &self,
        dataset: &str,
        version: u32,
    ) -> StoreResult<Option<DatasetSpecVersion>> {
        let name = dataset.to_owned();
        self.conns
            .read(move |c| {
                let row = c
                    .query_row(
                        "SELECT spec_json, created_by, created_at FROM dataset_specs \
                         WHERE dataset = ?1 AND version = ?2",
                        params![name, version],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(map_err)?;
                row.map(|(spec_json, created_by, created)| {
                    Ok(DatasetSpecVersion {
                        dataset: name.clone(),
                        version,
                        spec_json,
                        created_by,
                        created_at: parse_ts("dataset_specs.created_at", &created)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn last_uploads(&self) -> StoreResult<Vec<LastUpload>> {
        self.conns
            .read(move |c| {
                // SQLite returns the other columns of the row holding the MAX.
                let mut stmt = c
                    .prepare(
                        "SELECT dataset, organisation, id, MAX(finished_at) FROM uploads \
                         WHERE status = 'committed' AND finished_at IS NOT NULL \
                         GROUP BY dataset, organisation ORDER BY dataset, organisation",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter()
                    .map(|(dataset, organisation, upload_id, finished)| {
                        Ok(LastUpload {
                            dataset,
                            organisation,
                            upload_id,
                            finished_at: parse_ts("uploads.finished_at", &finished)?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn enrolment(&self, dataset: &str, record_key: &str) -> StoreResult<Option<Enrolment>> {
        let (dataset, key) = (dataset.to_owned(), record_key.to_owned());
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!(
                        "SELECT {ENROLMENT_COLUMNS} FROM enrolments \
                         WHERE dataset = ?1 AND record_key = ?2"
                    ),
                    [&dataset, &key],
                    raw_enrolment,
                )
                .optional()
                .map_err(map_err)?
                .map(enrolment)
                .transpose()
            })
            .await
    }

    async fn enrolments(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Enrolment>> {
        let (dataset, after) = (dataset.to_owned(), after.unwrap_or("").to_owned());
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {ENROLMENT_COLUMNS} FROM enrolments \
                         WHERE dataset = ?1 AND record_key > ?2 ORDER BY record_key LIMIT ?3"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![dataset, after, limit], raw_enrolment)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter().map(enrolment).collect()
            })
            .await
    }

    async fn count_active_enrolments(&self, dataset: &str) -> StoreResult<u64> {
        let dataset = dataset.to_owned();
        self.conns
            .read(move |c| {
                let n: i64 = c
                    .query_row(
                        "SELECT COUNT(*) FROM enrolments WHERE dataset = ?1 AND status = 'active'",
                        [&dataset],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                Ok(n.unsigned_abs())
            })
            .await
    }
}

// ------------------------------------------------------------ reads of an upload's output

pub(crate) fn upload_header(c: &Connection, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
    let text: Option<String> = c
        .query_row(
            "SELECT header FROM upload_headers WHERE upload_id = ?1",
            [upload_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::corrupt("upload_headers.header", e))
    })
    .transpose()
}

pub(crate) fn upload_rejections(
    c: &Connection,
    upload_id: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<StoredRejection>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT line, key_version, sealed FROM upload_rejections \
             WHERE upload_id = ?1 AND line > ?2 ORDER BY line LIMIT ?3",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params![upload_id, i64_of(after)?, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter()
        .map(|(line, version, sealed)| {
            Ok(StoredRejection {
                line: line.unsigned_abs(),
                key_version: u32_of("upload_rejections.key_version", version)?,
                sealed,
            })
        })
        .collect()
}

pub(crate) fn upload_mapping(
    c: &Connection,
    upload_id: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<MappingEntry>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut stmt = c
        .prepare_cached(
            "SELECT entries FROM upload_mapping_blocks WHERE upload_id = ?1 AND last_seq > ?2 \
             ORDER BY first_seq",
        )
        .map_err(map_err)?;
    let mut blocks = stmt
        .query(params![upload_id, i64_of(after)?])
        .map_err(map_err)?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(block) = blocks.next().map_err(map_err)? else {
            break;
        };
        let text: String = block.get(0).map_err(map_err)?;
        mapping_block::decode_into(&text, after, limit, &mut out)?;
    }
    Ok(out)
}

// ------------------------------------------------------ rejected rows: rotation, retention

pub(crate) fn rejections_below_version(
    c: &Connection,
    version: u32,
    after: Option<(&str, u64)>,
    limit: u32,
) -> StoreResult<Vec<RejectionEntry>> {
    // Every upload id sorts after the empty string, and every line after -1.
    let (after_id, after_line) = match after {
        Some((id, line)) => (id, i64_of(line)?),
        None => ("", -1),
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT upload_id, line, key_version, sealed FROM upload_rejections \
             WHERE key_version < ?1 AND (upload_id, line) > (?2, ?3) \
             ORDER BY upload_id, line LIMIT ?4",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params![version, after_id, after_line, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter()
        .map(|(upload_id, line, version, sealed)| {
            Ok(RejectionEntry {
                upload_id,
                line: line.unsigned_abs(),
                key_version: u32_of("upload_rejections.key_version", version)?,
                sealed,
            })
        })
        .collect()
}

pub(crate) fn reseal_rejections(
    c: &mut Connection,
    updates: &[RejectionReseal],
) -> StoreResult<u64> {
    let tx = begin(c)?;
    let mut replaced = 0;
    {
        let mut stmt = tx
            .prepare_cached(
                "UPDATE upload_rejections SET key_version = ?1, sealed = ?2 \
                 WHERE upload_id = ?3 AND line = ?4 AND key_version = ?5",
            )
            .map_err(map_err)?;
        for u in updates {
            replaced += stmt
                .execute(params![
                    u.new_version,
                    u.sealed,
                    u.upload_id,
                    i64_of(u.line)?,
                    u.expected_version
                ])
                .map_err(map_err)? as u64;
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(replaced)
}

pub(crate) fn enrolments_below_version(
    c: &Connection,
    version: u32,
    after: Option<(&str, &str)>,
    limit: u32,
) -> StoreResult<Vec<SealedEnrolment>> {
    // Every dataset name sorts after the empty string.
    let (after_dataset, after_key) = after.unwrap_or(("", ""));
    let mut stmt = c
        .prepare_cached(
            "SELECT dataset, record_key, key_version, sealed FROM enrolments \
             WHERE key_version < ?1 AND (dataset, record_key) > (?2, ?3) \
             ORDER BY dataset, record_key LIMIT ?4",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params![version, after_dataset, after_key, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter()
        .map(|(dataset, record_key, version, sealed)| {
            Ok(SealedEnrolment {
                dataset,
                record_key,
                key_version: u32_of("enrolments.key_version", version)?,
                sealed,
            })
        })
        .collect()
}

pub(crate) fn reseal_enrolments(
    c: &mut Connection,
    updates: &[EnrolmentReseal],
) -> StoreResult<u64> {
    let tx = begin(c)?;
    let mut replaced = 0;
    {
        let mut stmt = tx
            .prepare_cached(
                "UPDATE enrolments SET key_version = ?1, sealed = ?2 \
                 WHERE dataset = ?3 AND record_key = ?4 AND key_version = ?5",
            )
            .map_err(map_err)?;
        for u in updates {
            replaced += stmt
                .execute(params![
                    u.new_version,
                    u.sealed,
                    u.dataset,
                    u.record_key,
                    u.expected_version
                ])
                .map_err(map_err)? as u64;
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(replaced)
}

pub(crate) fn rejection_count_by_version(c: &Connection) -> StoreResult<Vec<(u32, u64)>> {
    count_by_version(c, "upload_rejections")
}

/// Rows of `table` (one of the hub's own, never from outside) by the key version sealing
/// them.
pub(crate) fn count_by_version(
    c: &Connection,
    table: &'static str,
) -> StoreResult<Vec<(u32, u64)>> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT key_version, count(*) FROM {table} GROUP BY key_version ORDER BY key_version"
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter()
        .map(|(v, n)| Ok((u32_of(table, v)?, n.unsigned_abs())))
        .collect()
}

/// One batch of the retention purge, in one write transaction (see
/// `UploadStore::purge_rejections`).
pub(crate) fn purge_rejections(
    c: &mut Connection,
    finished_before: &DateTime<Utc>,
    at: &DateTime<Utc>,
    limit: u32,
) -> StoreResult<RejectionPurge> {
    let tx = begin(c)?;
    let mut purge = RejectionPurge::default();
    let uploads: Vec<String> = {
        // One more than the limit, to know whether uploads are left after this batch.
        let mut stmt = tx
            .prepare_cached(
                "SELECT id FROM uploads WHERE status = 'committed' \
                 AND rejections_purged_at IS NULL AND finished_at < ?1 \
                 ORDER BY finished_at, id LIMIT ?2",
            )
            .map_err(map_err)?;
        stmt.query_map(params![ts(finished_before), i64::from(limit) + 1], |r| {
            r.get(0)
        })
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?
    };
    let mut budget = u64::from(limit);
    for (i, id) in uploads.iter().enumerate() {
        if i as u64 >= u64::from(limit) || budget == 0 {
            purge.more = true;
            break;
        }
        let deleted = tx
            .execute(
                "DELETE FROM upload_rejections WHERE upload_id = ?1 AND line IN \
                 (SELECT line FROM upload_rejections WHERE upload_id = ?1 \
                  ORDER BY line LIMIT ?2)",
                params![id, i64_of(budget)?],
            )
            .map_err(map_err)? as u64;
        purge.rows += deleted;
        budget -= deleted;
        if budget == 0 {
            let left: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM upload_rejections WHERE upload_id = ?1)",
                    [id],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if left {
                purge.more = true;
                break;
            }
        }
        tx.execute("DELETE FROM upload_headers WHERE upload_id = ?1", [id])
            .map_err(map_err)?;
        tx.execute(
            "UPDATE uploads SET rejections_purged_at = ?2 WHERE id = ?1",
            params![id, ts(at)],
        )
        .map_err(map_err)?;
        purge.uploads += 1;
    }
    tx.commit().map_err(map_err)?;
    Ok(purge)
}

// ------------------------------------------------------------ writes inside a load

pub(crate) fn put_header(c: &Connection, upload_id: &str, header: &[String]) -> StoreResult<()> {
    let text = serde_json::to_string(header)
        .map_err(|e| StoreError::Backend(format!("cannot encode the header: {e}")))?;
    // A retried upload keeps its id; its earlier attempt left nothing (rolled back), but a
    // header written by a committed attempt is never rewritten because a committed upload is
    // never loaded again.
    c.execute(
        "INSERT INTO upload_headers (upload_id, header) VALUES (?1, ?2) \
         ON CONFLICT (upload_id) DO UPDATE SET header = excluded.header",
        params![upload_id, text],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn put_rejections(
    c: &Connection,
    upload_id: &str,
    rows: &[StoredRejection],
) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO upload_rejections (upload_id, line, key_version, sealed) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(map_err)?;
    for r in rows {
        stmt.execute(params![upload_id, i64_of(r.line)?, r.key_version, r.sealed])
            .map_err(map_err)?;
    }
    Ok(())
}

pub(crate) fn put_mapping(c: &Connection, upload_id: &str, block: &Block) -> StoreResult<()> {
    c.execute(
        "INSERT INTO upload_mapping_blocks (upload_id, first_seq, last_seq, entries) \
         VALUES (?1, ?2, ?3, ?4)",
        params![
            upload_id,
            i64_of(block.first_seq)?,
            i64_of(block.last_seq)?,
            block.entries
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn residents_by_ref_keys(
    c: &Connection,
    keys: &[RefKey],
) -> StoreResult<Vec<(RefKey, String)>> {
    let mut stmt = c
        .prepare_cached("SELECT resident_id FROM residents WHERE id_ref_key = ?1")
        .map_err(map_err)?;
    let mut found = Vec::new();
    for k in keys {
        let id: Option<String> = stmt
            .query_row([k.as_str()], |r| r.get(0))
            .optional()
            .map_err(map_err)?;
        if let Some(id) = id {
            found.push((k.clone(), id));
        }
    }
    Ok(found)
}

/// Found through the index on `enrolments (ref_key)`: a key is held by a handful of records
/// across all datasets, so filtering those by dataset and status costs nothing.
pub(crate) fn active_enrolments_by_ref_keys(
    c: &Connection,
    dataset: &str,
    keys: &[RefKey],
) -> StoreResult<Vec<EnrolmentState>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT record_key, digest, version FROM enrolments \
             WHERE ref_key = ?1 AND dataset = ?2 AND status = 'active' ORDER BY record_key",
        )
        .map_err(map_err)?;
    let mut found = Vec::new();
    for key in keys {
        let rows = stmt
            .query_map([key.as_str(), dataset], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(map_err)?;
        for row in rows {
            let (record_key, digest, version) = row.map_err(map_err)?;
            found.push(EnrolmentState {
                record_key,
                digest: blind_index_32("enrolments.digest", digest)?,
                status: EnrolmentStatus::Active,
                ref_key: Some(key.clone()),
                version,
            });
        }
    }
    Ok(found)
}

pub(crate) fn enrolment_states(
    c: &Connection,
    dataset: &str,
    keys: &[String],
) -> StoreResult<Vec<EnrolmentState>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT digest, status, ref_key, version FROM enrolments \
             WHERE dataset = ?1 AND record_key = ?2",
        )
        .map_err(map_err)?;
    let mut found = Vec::new();
    for key in keys {
        let row = stmt
            .query_row([dataset, key], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()
            .map_err(map_err)?;
        if let Some((digest, status, rk, version)) = row {
            found.push(EnrolmentState {
                record_key: key.clone(),
                digest: blind_index_32("enrolments.digest", digest)?,
                status: EnrolmentStatus::from_code(&status)
                    .ok_or_else(|| StoreError::corrupt("enrolments.status", &status))?,
                ref_key: rk.map(|k| ref_key("enrolments.ref_key", &k)).transpose()?,
                version,
            });
        }
    }
    Ok(found)
}

pub(crate) fn upsert_enrolments(c: &Connection, rows: &[Enrolment]) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(&format!(
            "INSERT INTO enrolments ({ENROLMENT_COLUMNS}, seen_upload, link_status, \
             link_method, link_probability) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?11, \
             {LINK_AT_WRITE}) \
             ON CONFLICT (dataset, record_key) DO UPDATE SET ref_key = excluded.ref_key, \
             resident_id = excluded.resident_id, fields = excluded.fields, \
             key_version = excluded.key_version, sealed = excluded.sealed, \
             digest = excluded.digest, status = excluded.status, \
             spec_version = excluded.spec_version, upload_id = excluded.upload_id, \
             seen_upload = excluded.seen_upload, updated_at = excluded.updated_at, \
             version = excluded.version, link_status = excluded.link_status, \
             link_method = excluded.link_method, link_probability = excluded.link_probability"
        ))
        .map_err(map_err)?;
    for e in rows {
        stmt.execute(params![
            e.dataset,
            e.record_key,
            e.ref_key.as_ref().map(RefKey::as_str),
            e.resident_id,
            e.fields.to_string(),
            e.key_version,
            e.sealed,
            e.digest.as_slice(),
            e.status.code(),
            e.spec_version,
            e.upload_id,
            ts(&e.created_at),
            ts(&e.updated_at),
            e.version
        ])
        .map_err(map_err)?;
    }
    Ok(())
}

pub(crate) fn touch_enrolments(
    c: &Connection,
    dataset: &str,
    keys: &[String],
    upload_id: &str,
) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "UPDATE enrolments SET seen_upload = ?3 WHERE dataset = ?1 AND record_key = ?2",
        )
        .map_err(map_err)?;
    for key in keys {
        stmt.execute([dataset, key, upload_id]).map_err(map_err)?;
    }
    Ok(())
}

pub(crate) fn remove_enrolments(
    c: &Connection,
    dataset: &str,
    keys: &[String],
    upload_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let mut stmt = c
        .prepare_cached(
            "UPDATE enrolments SET status = 'removed', upload_id = ?3, seen_upload = ?3, \
             updated_at = ?4, version = version + 1 \
             WHERE dataset = ?1 AND record_key = ?2 AND status = 'active'",
        )
        .map_err(map_err)?;
    let now = ts(&now);
    let mut removed = Vec::new();
    for key in keys {
        if stmt
            .execute(params![dataset, key, upload_id, now])
            .map_err(map_err)?
            > 0
        {
            removed.push(key.clone());
        }
    }
    Ok(removed)
}

pub(crate) fn remove_enrolments_not_seen(
    c: &Connection,
    dataset: &str,
    upload_id: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let keys: Vec<String> = {
        let mut stmt = c
            .prepare_cached(
                "SELECT record_key FROM enrolments WHERE dataset = ?1 AND status = 'active' \
                 AND seen_upload <> ?2 ORDER BY record_key LIMIT ?3",
            )
            .map_err(map_err)?;
        stmt.query_map(params![dataset, upload_id, limit], |r| r.get(0))
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?
    };
    remove_enrolments(c, dataset, &keys, upload_id, now)
}
