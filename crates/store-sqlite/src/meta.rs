//! Hub-wide settings.

use async_trait::async_trait;
use rusqlite::OptionalExtension;
use sangam_store::{MetaStore, StoreResult};

use crate::SqliteStore;
use crate::sql::{begin, map_err};

#[async_trait]
impl MetaStore for SqliteStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.conns
            .read(move |c| {
                c.query_row("SELECT value FROM hub_meta WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(map_err)
            })
            .await
    }

    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                tx.execute(
                    "INSERT INTO hub_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                    [&key, &value],
                )
                .map_err(map_err)?;
                let stored: String = tx
                    .query_row("SELECT value FROM hub_meta WHERE key = ?1", [&key], |r| r.get(0))
                    .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.conns
            .read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err))
            .await
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        self.conns
            // With a limit on the rows each index's analysis reads (as SQLite advises for
            // applications): the planner needs the shape of the data, not exact counts, and
            // a full analysis after a million-row load read every index again, for about as
            // long as building one.
            .write(|c| {
                c.execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize")
                    .map_err(map_err)
            })
            .await
    }
}
