//! The code lists uploads are checked against, each kept as the CSV it was loaded from.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sangam_store::{CodeListStore, StoreResult, StoredCodeList};

use crate::SqliteStore;
use crate::sql::{map_err, parse_ts, ts};

type Raw = (String, String, i64, String, String, String);

fn list((name, body, entries, sha256, loaded_by, loaded_at): Raw) -> StoreResult<StoredCodeList> {
    Ok(StoredCodeList {
        name,
        body,
        entries: u64::try_from(entries).unwrap_or_default(),
        sha256,
        loaded_by,
        loaded_at: parse_ts("code_lists.loaded_at", &loaded_at)?,
    })
}

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

#[async_trait]
impl CodeListStore for SqliteStore {
    async fn put_code_list(&self, l: &StoredCodeList) -> StoreResult<()> {
        let l = l.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO code_lists (name, body, entries, sha256, loaded_by, loaded_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET \
                     body = excluded.body, entries = excluded.entries, sha256 = excluded.sha256, \
                     loaded_by = excluded.loaded_by, loaded_at = excluded.loaded_at",
                    params![
                        l.name,
                        l.body,
                        i64::try_from(l.entries).unwrap_or(i64::MAX),
                        l.sha256,
                        l.loaded_by,
                        ts(&l.loaded_at)
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn code_list(&self, name: &str) -> StoreResult<Option<StoredCodeList>> {
        let name = name.to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    "SELECT name, body, entries, sha256, loaded_by, loaded_at FROM code_lists \
                     WHERE name = ?1",
                    [&name],
                    raw,
                )
                .optional()
                .map_err(map_err)?
                .map(list)
                .transpose()
            })
            .await
    }

    async fn code_lists(&self) -> StoreResult<Vec<StoredCodeList>> {
        self.conns
            .read(|c| {
                let mut stmt = c
                    .prepare(
                        "SELECT name, '', entries, sha256, loaded_by, loaded_at FROM code_lists \
                         ORDER BY name",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], raw)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter().map(list).collect()
            })
            .await
    }
}
