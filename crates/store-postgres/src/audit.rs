//! The append-only, hash-chained audit log. A transaction advisory lock serialises appends,
//! also across hub processes sharing the database, so that each entry chains to the one
//! committed just before it.

use async_trait::async_trait;
use sangam_store::audit::next_entry;
use sangam_store::{AuditDraft, AuditEntry, AuditFilter, AuditStore, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::sql::{count, execute, get, map_err, query, query_opt};
use crate::{AUDIT_LOCK, PostgresStore};

fn entry(row: &Row) -> StoreResult<AuditEntry> {
    const T: &str = "audit_log";
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
}

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
        let c = self.client().await?;
        query(
            &c,
            "SELECT seq, at, actor, action, target, details, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(entry)
        .collect()
    }

    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> StoreResult<i64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await?;
        let mut previous = query_opt(
            &tx,
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?
        .map(|row| -> StoreResult<(i64, String)> {
            Ok((get("audit_log", &row, 0)?, get("audit_log", &row, 1)?))
        })
        .transpose()?;
        let mut entries = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let entry = next_entry(previous.as_ref().map(|(s, h)| (*s, h.as_str())), draft);
            previous = Some((entry.seq, entry.hash.clone()));
            entries.push(entry);
        }
        // One statement per thousand entries: a round trip each would cap the rate at the
        // connection's latency.
        for chunk in entries.chunks(1000) {
            let seqs: Vec<i64> = chunk.iter().map(|e| e.seq).collect();
            let ats: Vec<chrono::DateTime<chrono::Utc>> = chunk.iter().map(|e| e.at).collect();
            let actors: Vec<&str> = chunk.iter().map(|e| e.actor.as_str()).collect();
            let actions: Vec<&str> = chunk.iter().map(|e| e.action.as_str()).collect();
            let targets: Vec<Option<&str>> = chunk.iter().map(|e| e.target.as_deref()).collect();
            let details: Vec<&str> = chunk.iter().map(|e| e.details.as_str()).collect();
            let prevs: Vec<&str> = chunk.iter().map(|e| e.prev_hash.as_str()).collect();
            let hashes: Vec<&str> = chunk.iter().map(|e| e.hash.as_str()).collect();
            execute(
                &tx,
                "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) \
                 SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::text[], $8::text[])",
                &[
                    &seqs, &ats, &actors, &actions, &targets, &details, &prevs, &hashes,
                ],
            )
            .await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(previous.map_or(0, |(seq, _)| seq))
    }

    async fn search_audit(
        &self,
        filter: &AuditFilter,
        before: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let before = if before <= 0 { i64::MAX } else { before };
        let limit = i64::from(limit);
        // Only the filters given go into the query, so that each shape uses its index.
        let mut sql = "SELECT seq, at, actor, action, target, details, prev_hash, hash \
                       FROM audit_log WHERE seq < $1"
            .to_owned();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&before];
        for (column, value) in [
            ("actor", &filter.actor),
            ("target", &filter.target),
            ("action", &filter.action),
        ] {
            if let Some(value) = value {
                params.push(value);
                sql.push_str(&format!(" AND {column} = ${}", params.len()));
            }
        }
        params.push(&limit);
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", params.len()));
        let c = self.client().await?;
        query(&c, &sql, &params).await?.iter().map(entry).collect()
    }

    async fn audit_target_counts(
        &self,
        actor: &str,
        action: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        const T: &str = "audit_log";
        let c = self.client().await?;
        query(
            &c,
            "SELECT target, COUNT(*) AS n FROM audit_log \
             WHERE actor = $1 AND action = $2 AND target IS NOT NULL \
             GROUP BY target ORDER BY n DESC, target LIMIT $3",
            &[&actor, &action, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|row| Ok((get(T, row, 0)?, count(get(T, row, 1)?))))
        .collect()
    }
}
