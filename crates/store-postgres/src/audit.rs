//! The append-only, hash-chained audit log. A transaction advisory lock serialises appends,
//! also across hub processes sharing the database, so that each entry chains to the one
//! committed just before it.

use async_trait::async_trait;
use sangam_store::audit::next_entry;
use sangam_store::{AuditDraft, AuditEntry, AuditStore, StoreResult};

use crate::sql::{execute, get, map_err, query, query_opt};
use crate::{AUDIT_LOCK, PostgresStore};

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, draft: &AuditDraft) -> StoreResult<AuditEntry> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // Held until commit or rollback; the next appender then reads this entry as the last.
        execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await?;
        let last = query_opt(
            &tx,
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?
        .map(|row| -> StoreResult<(i64, String)> {
            Ok((get("audit_log", &row, 0)?, get("audit_log", &row, 1)?))
        })
        .transpose()?;
        let entry = next_entry(last.as_ref().map(|(s, h)| (*s, h.as_str())), draft);
        execute(
            &tx,
            "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &entry.seq,
                &entry.at,
                &entry.actor,
                &entry.action,
                &entry.target,
                &entry.details,
                &entry.prev_hash,
                &entry.hash,
            ],
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(entry)
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        const T: &str = "audit_log";
        let c = self.client().await?;
        query(
            &c,
            "SELECT seq, at, actor, action, target, details, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                seq: get(T, row, 0)?,
                at: get(T, row, 1)?,
                actor: get(T, row, 2)?,
                action: get(T, row, 3)?,
                target: get(T, row, 4)?,
                details: get(T, row, 5)?,
                prev_hash: get(T, row, 6)?,
                hash: get(T, row, 7)?,
            })
        })
        .collect()
    }
}
