//! The vault's tables: wrapped data keys and sealed ID numbers.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use sangam_domain::RefKey;
use sangam_store::raw::{blind_index_32, ref_key};
use sangam_store::{
    KeyStatus, NewVaultEntry, Reseal, StoreError, StoreResult, StoredDataKey, VaultEntry,
    VaultStore,
};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use crate::PostgresStore;
use crate::sql::{
    copy_rows, count, execute, get, map_err, query, query_one, query_opt, version_from_db,
};

const ENTRY_COLUMNS: &str = "ref_key, blind_index, key_version, sealed, consent_ref, created_at";

fn entry(row: &Row) -> StoreResult<VaultEntry> {
    let rk: String = get("vault_entries", row, 0)?;
    Ok(VaultEntry {
        ref_key: ref_key("vault_entries.ref_key", &rk)?,
        blind_index: blind_index_32("vault_entries.blind_index", get("vault_entries", row, 1)?)?,
        key_version: version_from_db("vault_entries.key_version", get("vault_entries", row, 2)?)?,
        sealed: get("vault_entries", row, 3)?,
        consent_ref: get("vault_entries", row, 4)?,
        created_at: get("vault_entries", row, 5)?,
    })
}

/// Stores each entry whose blind index is not in the vault yet and returns, in order, the
/// reference key the vault holds for each entry's blind index (see [`VaultStore::vault_put`]).
/// One statement when every number is new, two otherwise: the caller runs them in a
/// transaction (its own, or an upload's load).
pub(crate) async fn put_entries<C: GenericClient>(
    c: &C,
    entries: &[NewVaultEntry],
) -> StoreResult<Vec<RefKey>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // One row per blind index, the first offered; sorted, so that two batches that share
    // numbers lock them in the same order and never deadlock.
    let mut seen = HashSet::with_capacity(entries.len());
    let mut fresh: Vec<&NewVaultEntry> = entries
        .iter()
        .filter(|e| seen.insert(e.blind_index))
        .collect();
    fresh.sort_unstable_by_key(|e| e.blind_index);
    let ref_keys: Vec<&str> = fresh.iter().map(|e| e.ref_key.as_str()).collect();
    let blind: Vec<&[u8]> = fresh.iter().map(|e| &e.blind_index[..]).collect();
    let versions: Vec<i64> = fresh.iter().map(|e| i64::from(e.key_version)).collect();
    let sealed: Vec<&[u8]> = fresh.iter().map(|e| e.sealed.as_slice()).collect();
    let consent: Vec<&str> = fresh.iter().map(|e| e.consent_ref.as_str()).collect();
    let created: Vec<DateTime<Utc>> = fresh.iter().map(|e| e.created_at).collect();

    let inserted = query_one(
        c,
        "WITH inserted AS (INSERT INTO vault_entries (ref_key, blind_index, key_version, \
         sealed, consent_ref, created_at) SELECT * FROM UNNEST($1::text[], $2::bytea[], \
         $3::int8[], $4::bytea[], $5::text[], $6::timestamptz[]) \
         ON CONFLICT (blind_index) DO NOTHING RETURNING 1) SELECT count(*) FROM inserted",
        &[&ref_keys, &blind, &versions, &sealed, &consent, &created],
    )
    .await?;
    let inserted: i64 = get("vault_entries", &inserted, 0)?;
    let mut stored = HashMap::with_capacity(fresh.len());
    if usize::try_from(inserted).is_ok_and(|n| n == fresh.len()) {
        // Every blind index was new and now has the row offered for it: nothing to read back.
        for e in &fresh {
            stored.insert(e.blind_index, e.ref_key.clone());
        }
    } else {
        // Some were there already (stored before, or by a concurrent batch, which the insert
        // waited for): read back the keys the vault holds.
        let rows = query(
            c,
            "SELECT blind_index, ref_key FROM vault_entries WHERE blind_index = ANY($1::bytea[])",
            &[&blind],
        )
        .await?;
        for row in &rows {
            let bi = blind_index_32("vault_entries.blind_index", get("vault_entries", row, 0)?)?;
            let rk: String = get("vault_entries", row, 1)?;
            stored.insert(bi, ref_key("vault_entries.ref_key", &rk)?);
        }
    }
    entries
        .iter()
        .map(|e| {
            stored.get(&e.blind_index).cloned().ok_or_else(|| {
                StoreError::Backend("a vault entry just stored cannot be read back".into())
            })
        })
        .collect()
}

/// Appends entries whose blind indexes the caller knows are new to the vault and distinct (a
/// first load, while the blind index is deferred: see `first_load`), with `COPY`, without
/// looking anything up; each entry keeps its own reference key.
pub(crate) async fn append_entries(c: &Object, entries: &[NewVaultEntry]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<(&str, &[u8], i64, &NewVaultEntry)> = entries
        .iter()
        .map(|e| {
            let blind: &[u8] = &e.blind_index;
            (e.ref_key.as_str(), blind, i64::from(e.key_version), e)
        })
        .collect();
    copy_rows(
        c,
        "vault_entries",
        "vault_entries (ref_key, blind_index, key_version, sealed, consent_ref, created_at)",
        &[
            Type::TEXT,
            Type::BYTEA,
            Type::INT8,
            Type::BYTEA,
            Type::TEXT,
            Type::TIMESTAMPTZ,
        ],
        &rows
            .iter()
            .map(|(ref_key, blind, version, e)| {
                [
                    ref_key as &(dyn ToSql + Sync),
                    blind,
                    version,
                    &e.sealed,
                    &e.consent_ref,
                    &e.created_at,
                ]
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl VaultStore for PostgresStore {
    async fn vault_keys(&self) -> StoreResult<Vec<StoredDataKey>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT version, purpose, wrapped, status, created_at FROM vault_keys \
             ORDER BY purpose, version",
            &[],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = get("vault_keys", row, 3)?;
                Ok(StoredDataKey {
                    version: version_from_db("vault_keys.version", get("vault_keys", row, 0)?)?,
                    purpose: get("vault_keys", row, 1)?,
                    wrapped: get("vault_keys", row, 2)?,
                    status: KeyStatus::from_code(&status)
                        .ok_or_else(|| StoreError::corrupt("vault_keys.status", &status))?,
                    created_at: get("vault_keys", row, 4)?,
                })
            })
            .collect()
    }

    async fn insert_vault_key(&self, key: &StoredDataKey) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO vault_keys (purpose, version, wrapped, status, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &key.purpose,
                &i64::from(key.version),
                &key.wrapped,
                &key.status.code(),
                &key.created_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn set_vault_key_status(
        &self,
        purpose: &str,
        version: u32,
        status: KeyStatus,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE vault_keys SET status = $1 WHERE purpose = $2 AND version = $3",
            &[&status.code(), &purpose, &i64::from(version)],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "{purpose} key version {version}"
            )));
        }
        Ok(())
    }

    async fn vault_put(&self, entries: &[NewVaultEntry]) -> StoreResult<Vec<RefKey>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let keys = put_entries(&tx, entries).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(keys)
    }

    async fn vault_get(&self, key: &RefKey) -> StoreResult<Option<VaultEntry>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {ENTRY_COLUMNS} FROM vault_entries WHERE ref_key = $1"),
            &[&key.as_str()],
        )
        .await?
        .as_ref()
        .map(entry)
        .transpose()
    }

    async fn vault_find(&self, blind_index: &[u8; 32]) -> StoreResult<Option<VaultEntry>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {ENTRY_COLUMNS} FROM vault_entries WHERE blind_index = $1"),
            &[&&blind_index[..]],
        )
        .await?
        .as_ref()
        .map(entry)
        .transpose()
    }

    async fn vault_entries_below_version(
        &self,
        version: u32,
        after: Option<&RefKey>,
        limit: u32,
    ) -> StoreResult<Vec<VaultEntry>> {
        // Every reference key sorts after the empty string. The column is COLLATE "C", so the
        // order is byte order on every server and the primary key's index serves it.
        let after = after.map_or("", |k| k.as_str());
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM vault_entries WHERE key_version < $1 \
                 AND ref_key > $2 ORDER BY ref_key LIMIT $3"
            ),
            &[&i64::from(version), &after, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(entry)
        .collect()
    }

    async fn vault_reseal(&self, updates: &[Reseal]) -> StoreResult<u64> {
        if updates.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&str> = updates.iter().map(|u| u.ref_key.as_str()).collect();
        let expected: Vec<i64> = updates
            .iter()
            .map(|u| i64::from(u.expected_version))
            .collect();
        let new: Vec<i64> = updates.iter().map(|u| i64::from(u.new_version)).collect();
        let sealed: Vec<&[u8]> = updates.iter().map(|u| u.sealed.as_slice()).collect();
        let c = self.client().await?;
        // One statement, so the batch is written whole or not at all.
        execute(
            &c,
            "UPDATE vault_entries v SET key_version = u.new_version, sealed = u.sealed \
             FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::bytea[]) \
                  AS u(ref_key, expected, new_version, sealed) \
             WHERE v.ref_key = u.ref_key AND v.key_version = u.expected",
            &[&keys, &expected, &new, &sealed],
        )
        .await
    }

    async fn vault_count_by_version(&self) -> StoreResult<Vec<(u32, u64)>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT key_version, COUNT(*) FROM vault_entries GROUP BY key_version \
             ORDER BY key_version",
            &[],
        )
        .await?
        .iter()
        .map(|row| {
            Ok((
                version_from_db("vault_entries.key_version", get("vault_entries", row, 0)?)?,
                count(get("vault_entries", row, 1)?),
            ))
        })
        .collect()
    }
}
