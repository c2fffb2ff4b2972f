//! Hub-wide settings.

use async_trait::async_trait;
use sangam_store::{MetaStore, StoreResult};

use crate::PostgresStore;
use crate::sql::{get, map_err, query_one, query_opt};

#[async_trait]
impl MetaStore for PostgresStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        query_opt(&c, "SELECT value FROM hub_meta WHERE key = $1", &[&key])
            .await?
            .map(|row| get("hub_meta", &row, 0))
            .transpose()
    }

    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // The insert waits for a concurrent one of the same key, so the read after it sees
        // whichever value won.
        crate::sql::execute(
            &tx,
            "INSERT INTO hub_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .await?;
        let row = query_one(&tx, "SELECT value FROM hub_meta WHERE key = $1", &[&key]).await?;
        let stored: String = get("hub_meta", &row, 0)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        query_one(&c, "SELECT 1", &[]).await?;
        Ok(())
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        let c = self.client().await?;
        c.batch_execute("ANALYZE households, residents, vault_entries, enrolments")
            .await
            .map_err(crate::sql::map_err)
    }
}
