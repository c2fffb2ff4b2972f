//! The code lists uploads are checked against, each kept as the CSV it was loaded from.

use async_trait::async_trait;
use sangam_store::{CodeListStore, StoreResult, StoredCodeList};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::sql::{count, execute, get, query, query_opt};

fn list(row: &Row) -> StoreResult<StoredCodeList> {
    const T: &str = "code_lists";
    Ok(StoredCodeList {
        name: get(T, row, 0)?,
        body: get(T, row, 1)?,
        entries: count(get(T, row, 2)?),
        sha256: get(T, row, 3)?,
        loaded_by: get(T, row, 4)?,
        loaded_at: get(T, row, 5)?,
    })
}

#[async_trait]
impl CodeListStore for PostgresStore {
    async fn put_code_list(&self, l: &StoredCodeList) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO code_lists (name, body, entries, sha256, loaded_by, loaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET \
             body = EXCLUDED.body, entries = EXCLUDED.entries, sha256 = EXCLUDED.sha256, \
             loaded_by = EXCLUDED.loaded_by, loaded_at = EXCLUDED.loaded_at",
            &[
                &l.name,
                &l.body,
                &i64::try_from(l.entries).unwrap_or(i64::MAX),
                &l.sha256,
                &l.loaded_by,
                &l.loaded_at,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn code_list(&self, name: &str) -> StoreResult<Option<StoredCodeList>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT name, body, entries, sha256, loaded_by, loaded_at FROM code_lists \
             WHERE name = $1",
            &[&name],
        )
        .await?
        .as_ref()
        .map(list)
        .transpose()
    }

    async fn code_lists(&self) -> StoreResult<Vec<StoredCodeList>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT name, '', entries, sha256, loaded_by, loaded_at FROM code_lists ORDER BY name",
            &[],
        )
        .await?
        .iter()
        .map(list)
        .collect()
    }
}
