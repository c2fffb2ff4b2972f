//! The append-only, hash-chained audit log. The write lock of an immediate transaction
//! serialises appends, also across processes sharing the file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sangam_store::audit::next_entry;
use sangam_store::{AuditDraft, AuditEntry, AuditStore, StoreResult};

use crate::SqliteStore;
use crate::sql::{begin, map_err, parse_ts, ts};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, draft: &AuditDraft) -> StoreResult<AuditEntry> {
        let draft = draft.clone();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let last: Option<(i64, String)> = tx
                    .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                    .map_err(map_err)?;
                let entry = next_entry(last.as_ref().map(|(s, h)| (*s, h.as_str())), &draft);
                tx.execute(
                    "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        entry.seq,
                        ts(&entry.at),
                        entry.actor,
                        entry.action,
                        entry.target,
                        entry.details,
                        entry.prev_hash,
                        entry.hash
                    ],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(entry)
            })
            .await
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT seq, at, actor, action, target, details, prev_hash, hash \
                         FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, String>(7)?,
                        ))
                    })
                    .map_err(map_err)?;
                rows.map(|row| {
                    let (seq, at, actor, action, target, details, prev_hash, hash) =
                        row.map_err(map_err)?;
                    Ok(AuditEntry {
                        seq,
                        at: parse_ts("audit_log.at", &at)?,
                        actor,
                        action,
                        target,
                        details,
                        prev_hash,
                        hash,
                    })
                })
                .collect()
            })
            .await
    }
}
