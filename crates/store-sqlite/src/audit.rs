//! The append-only, hash-chained audit log. The write lock of an immediate transaction
//! serialises appends, also across processes sharing the file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sangam_store::audit::next_entry;
use sangam_store::{AuditDraft, AuditEntry, AuditFilter, AuditStore, StoreResult};

use crate::SqliteStore;
use crate::sql::{begin, map_err, parse_ts, ts};

const COLUMNS: &str = "seq, at, actor, action, target, details, prev_hash, hash";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<(AuditEntry, String)> {
    Ok((
        AuditEntry {
            seq: r.get(0)?,
            at: chrono::DateTime::default(),
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            details: r.get(5)?,
            prev_hash: r.get(6)?,
            hash: r.get(7)?,
        },
        r.get(1)?,
    ))
}

fn entries(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<AuditEntry>> {
    stmt.query_map(params, entry)
        .map_err(map_err)?
        .map(|row| {
            let (mut entry, at) = row.map_err(map_err)?;
            entry.at = parse_ts("audit_log.at", &at)?;
            Ok(entry)
        })
        .collect()
}

fn insert(tx: &rusqlite::Transaction<'_>, entry: &AuditEntry) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(map_err)?
    .execute(params![
        entry.seq,
        ts(&entry.at),
        entry.actor,
        entry.action,
        entry.target,
        entry.details,
        entry.prev_hash,
        entry.hash
    ])
    .map_err(map_err)?;
    Ok(())
}

fn last(tx: &rusqlite::Transaction<'_>) -> StoreResult<Option<(i64, String)>> {
    tx.query_row(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(map_err)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, draft: &AuditDraft) -> StoreResult<AuditEntry> {
        let draft = draft.clone();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let last = last(&tx)?;
                let entry = next_entry(last.as_ref().map(|(s, h)| (*s, h.as_str())), &draft);
                insert(&tx, &entry)?;
                tx.commit().map_err(map_err)?;
                Ok(entry)
            })
            .await
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))
                    .map_err(map_err)?;
                entries(&mut stmt, params![after, limit])
            })
            .await
    }

    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> StoreResult<i64> {
        let drafts = drafts.to_vec();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let mut previous = last(&tx)?;
                for draft in &drafts {
                    let entry = next_entry(previous.as_ref().map(|(s, h)| (*s, h.as_str())), draft);
                    insert(&tx, &entry)?;
                    previous = Some((entry.seq, entry.hash));
                }
                tx.commit().map_err(map_err)?;
                Ok(previous.map_or(0, |(seq, _)| seq))
            })
            .await
    }

    async fn search_audit(
        &self,
        filter: &AuditFilter,
        before: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let filter = filter.clone();
        let before = if before <= 0 { i64::MAX } else { before };
        // Only the filters given go into the query, so that each shape uses its index.
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq < ?1");
        let mut values: Vec<String> = Vec::new();
        for (column, value) in [
            ("actor", filter.actor),
            ("target", filter.target),
            ("action", filter.action),
        ] {
            if let Some(value) = value {
                values.push(value);
                sql.push_str(&format!(" AND {column} = ?{}", values.len() + 1));
            }
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", values.len() + 2));
        self.conns
            .read(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
                let mut params: Vec<&dyn rusqlite::ToSql> = vec![&before];
                params.extend(values.iter().map(|v| v as &dyn rusqlite::ToSql));
                params.push(&limit);
                entries(&mut stmt, params.as_slice())
            })
            .await
    }

    async fn audit_target_counts(
        &self,
        actor: &str,
        action: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        let (actor, action) = (actor.to_owned(), action.to_owned());
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT target, COUNT(*) AS n FROM audit_log \
                         WHERE actor = ?1 AND action = ?2 AND target IS NOT NULL \
                         GROUP BY target ORDER BY n DESC, target LIMIT ?3",
                    )
                    .map_err(map_err)?;
                stmt.query_map(params![actor, action, limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(map_err)?
                .map(|row| {
                    let (target, n) = row.map_err(map_err)?;
                    Ok((target, u64::try_from(n).unwrap_or_default()))
                })
                .collect()
            })
            .await
    }
}
