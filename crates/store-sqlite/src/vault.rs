//! The vault's tables: wrapped data keys and sealed ID numbers.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sangam_domain::RefKey;
use sangam_store::raw::{blind_index_32, ref_key};
use sangam_store::{
    KeyStatus, NewVaultEntry, Reseal, StoreError, StoreResult, StoredDataKey, VaultEntry,
    VaultStore,
};

use crate::SqliteStore;
use crate::sql::{begin, from_micros, insert_batched, map_err, micros, parse_ts, ts};

const ENTRY_COLUMNS: &str = "ref_key, blind_index, key_version, sealed, consent_ref, created_at";

type RawEntry = (String, Vec<u8>, u32, Vec<u8>, String, i64);

fn raw_entry(r: &Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn entry((rk, bi, version, sealed, consent_ref, created): RawEntry) -> StoreResult<VaultEntry> {
    Ok(VaultEntry {
        ref_key: ref_key("vault_entries.ref_key", &rk)?,
        blind_index: blind_index_32("vault_entries.blind_index", bi)?,
        key_version: version,
        sealed,
        consent_ref,
        created_at: from_micros("vault_entries.created_at", created)?,
    })
}

/// Stores vault entries on `conn` (inside the caller's transaction) and returns the
/// reference key held for each entry's blind index, in order.
///
/// Entries are written in blind-index order: a large batch then walks the blind-index B-tree
/// from left to right instead of jumping about it, which keeps the pages it needs in the
/// CPU's caches. The keys still come back in the caller's order.
pub(crate) fn put_entries(tx: &Connection, entries: &[NewVaultEntry]) -> StoreResult<Vec<RefKey>> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by_key(|&i| &entries[i].blind_index);
    let mut keys: Vec<Option<RefKey>> = vec![None; entries.len()];
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO vault_entries (ref_key, blind_index, key_version, sealed, \
                 consent_ref, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (blind_index) DO NOTHING",
            )
            .map_err(map_err)?;
        let mut find = tx
            .prepare_cached("SELECT ref_key FROM vault_entries WHERE blind_index = ?1")
            .map_err(map_err)?;
        for i in order {
            let e = &entries[i];
            insert
                .raw_bind_parameter(1, e.ref_key.as_str())
                .and_then(|()| insert.raw_bind_parameter(2, &e.blind_index[..]))
                .and_then(|()| insert.raw_bind_parameter(3, e.key_version))
                .and_then(|()| insert.raw_bind_parameter(4, &e.sealed))
                .and_then(|()| insert.raw_bind_parameter(5, &e.consent_ref))
                .and_then(|()| insert.raw_bind_parameter(6, micros(&e.created_at)))
                .map_err(map_err)?;
            let inserted = insert.raw_execute().map_err(map_err)?;
            keys[i] = Some(if inserted == 1 {
                e.ref_key.clone()
            } else {
                let existing: String = find
                    .query_row([&e.blind_index[..]], |r| r.get(0))
                    .map_err(map_err)?;
                ref_key("vault_entries.ref_key", &existing)?
            });
        }
    }
    Ok(keys.into_iter().flatten().collect())
}

/// Appends vault entries on `conn` that the caller knows are new (no blind index or
/// reference key of theirs is in the vault): a first load, whose unique indexes are built at
/// its commit, which would refuse a repeated one.
pub(crate) fn append_entries(tx: &Connection, entries: &[NewVaultEntry]) -> StoreResult<()> {
    insert_batched(
        tx,
        &format!("vault_entries ({ENTRY_COLUMNS})"),
        6,
        entries,
        |stmt, i, e| {
            stmt.raw_bind_parameter(i, e.ref_key.as_str())?;
            stmt.raw_bind_parameter(i + 1, &e.blind_index[..])?;
            stmt.raw_bind_parameter(i + 2, e.key_version)?;
            stmt.raw_bind_parameter(i + 3, &e.sealed)?;
            stmt.raw_bind_parameter(i + 4, &e.consent_ref)?;
            stmt.raw_bind_parameter(i + 5, micros(&e.created_at))
        },
        |e| format!("vault entry {}", e.ref_key.as_str()),
    )
}

#[async_trait]
impl VaultStore for SqliteStore {
    async fn vault_keys(&self) -> StoreResult<Vec<StoredDataKey>> {
        self.conns
            .read(|c| {
                let mut stmt = c
                    .prepare(
                        "SELECT version, purpose, wrapped, status, created_at FROM vault_keys \
                         ORDER BY purpose, version",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, u32>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    })
                    .map_err(map_err)?;
                let mut keys = Vec::new();
                for row in rows {
                    let (version, purpose, wrapped, status, created) = row.map_err(map_err)?;
                    keys.push(StoredDataKey {
                        version,
                        purpose,
                        wrapped,
                        status: KeyStatus::from_code(&status)
                            .ok_or_else(|| StoreError::corrupt("vault_keys.status", &status))?,
                        created_at: parse_ts("vault_keys.created_at", &created)?,
                    });
                }
                Ok(keys)
            })
            .await
    }

    async fn insert_vault_key(&self, key: &StoredDataKey) -> StoreResult<()> {
        let key = key.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO vault_keys (purpose, version, wrapped, status, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        key.purpose,
                        key.version,
                        key.wrapped,
                        key.status.code(),
                        ts(&key.created_at)
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn set_vault_key_status(
        &self,
        purpose: &str,
        version: u32,
        status: KeyStatus,
    ) -> StoreResult<()> {
        let purpose = purpose.to_owned();
        self.conns
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE vault_keys SET status = ?1 WHERE purpose = ?2 AND version = ?3",
                        params![status.code(), purpose, version],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!(
                        "{purpose} key version {version}"
                    )));
                }
                Ok(())
            })
            .await
    }

    async fn vault_put(&self, entries: &[NewVaultEntry]) -> StoreResult<Vec<RefKey>> {
        let entries = entries.to_vec();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let keys = put_entries(&tx, &entries)?;
                tx.commit().map_err(map_err)?;
                Ok(keys)
            })
            .await
    }

    async fn vault_get(&self, key: &RefKey) -> StoreResult<Option<VaultEntry>> {
        let key = key.as_str().to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {ENTRY_COLUMNS} FROM vault_entries WHERE ref_key = ?1"),
                    [&key],
                    raw_entry,
                )
                .optional()
                .map_err(map_err)?
                .map(entry)
                .transpose()
            })
            .await
    }

    async fn vault_find(&self, blind_index: &[u8; 32]) -> StoreResult<Option<VaultEntry>> {
        let blind_index = *blind_index;
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {ENTRY_COLUMNS} FROM vault_entries WHERE blind_index = ?1"),
                    [&blind_index[..]],
                    raw_entry,
                )
                .optional()
                .map_err(map_err)?
                .map(entry)
                .transpose()
            })
            .await
    }

    async fn vault_entries_below_version(
        &self,
        version: u32,
        after: Option<&RefKey>,
        limit: u32,
    ) -> StoreResult<Vec<VaultEntry>> {
        // Every reference key sorts after the empty string.
        let after = after.map_or_else(String::new, |k| k.as_str().to_owned());
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {ENTRY_COLUMNS} FROM vault_entries WHERE key_version < ?1 \
                         AND ref_key > ?2 ORDER BY ref_key LIMIT ?3"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![version, after, limit], raw_entry)
                    .map_err(map_err)?;
                rows.map(|r| r.map_err(map_err).and_then(entry)).collect()
            })
            .await
    }

    async fn vault_reseal(&self, updates: &[Reseal]) -> StoreResult<u64> {
        let updates = updates.to_vec();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let mut replaced = 0;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "UPDATE vault_entries SET key_version = ?1, sealed = ?2 \
                             WHERE ref_key = ?3 AND key_version = ?4",
                        )
                        .map_err(map_err)?;
                    for u in &updates {
                        replaced += stmt
                            .execute(params![
                                u.new_version,
                                u.sealed,
                                u.ref_key.as_str(),
                                u.expected_version
                            ])
                            .map_err(map_err)? as u64;
                    }
                }
                tx.commit().map_err(map_err)?;
                Ok(replaced)
            })
            .await
    }

    async fn vault_count_by_version(&self) -> StoreResult<Vec<(u32, u64)>> {
        self.conns
            .read(|c| {
                let mut stmt = c
                    .prepare(
                        "SELECT key_version, COUNT(*) FROM vault_entries GROUP BY key_version \
                         ORDER BY key_version",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
                    })
                    .map_err(map_err)?;
                rows.map(|r| r.map_err(map_err)).collect()
            })
            .await
    }
}
