//! The queue of background work. An immediate transaction holds SQLite's single write lock
//! while a job is claimed, which is what `FOR UPDATE SKIP LOCKED` gives on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sangam_store::{Job, JobStatus, JobStore, StoreError, StoreResult};

use crate::SqliteStore;
use crate::sql::{begin, map_err, parse_ts, ts};

const JOB_COLUMNS: &str =
    "id, kind, payload, status, attempts, run_at, locked_until, last_error, created_at, updated_at";

type RawJob = (
    i64,
    String,
    String,
    String,
    i32,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn raw_job(r: &Row<'_>) -> rusqlite::Result<RawJob> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn job(raw: RawJob) -> StoreResult<Job> {
    let (id, kind, payload, status, attempts, run_at, locked, last_error, created, updated) = raw;
    Ok(Job {
        id,
        kind,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::corrupt("jobs.payload", e))?,
        status: JobStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("jobs.status", &status))?,
        attempts,
        run_at: parse_ts("jobs.run_at", &run_at)?,
        locked_until: locked
            .map(|l| parse_ts("jobs.locked_until", &l))
            .transpose()?,
        last_error,
        created_at: parse_ts("jobs.created_at", &created)?,
        updated_at: parse_ts("jobs.updated_at", &updated)?,
    })
}

fn load(c: &Connection, id: i64) -> StoreResult<Option<Job>> {
    c.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
        [id],
        raw_job,
    )
    .optional()
    .map_err(map_err)?
    .map(job)
    .transpose()
}

fn expect_one(n: usize, id: i64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(format!("job {id}")))
    } else {
        Ok(())
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let (kind, payload) = (kind.to_owned(), payload.to_string());
        let now = ts(&Utc::now());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO jobs (kind, payload, status, run_at, created_at, updated_at) \
                     VALUES (?1, ?2, 'queued', ?3, ?4, ?4)",
                    params![kind, payload, ts(&run_at), now],
                )
                .map_err(map_err)?;
                Ok(c.last_insert_rowid())
            })
            .await
    }

    async fn enqueue_singleton_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        let (kind, payload) = (kind.to_owned(), payload.to_string());
        let now = ts(&Utc::now());
        self.conns
            .write(move |c| {
                // The partial unique index `jobs_singleton` refuses a second one queued or
                // running; that refusal, and only it, is "nothing to do".
                let inserted = c
                    .execute(
                        "INSERT INTO jobs (kind, payload, status, run_at, created_at, \
                         updated_at, singleton) VALUES (?1, ?2, 'queued', ?3, ?4, ?4, 1) \
                         ON CONFLICT (kind) WHERE singleton = 1 \
                         AND status IN ('queued', 'running') DO NOTHING",
                        params![kind, payload, ts(&run_at), now],
                    )
                    .map_err(map_err)?;
                Ok((inserted > 0).then(|| c.last_insert_rowid()))
            })
            .await
    }

    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let (now, lease) = (ts(&now), ts(&lease_until));
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let id: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= ?1) \
                         OR (status = 'running' AND locked_until < ?1) ORDER BY run_at, id LIMIT 1",
                        [&now],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?;
                let Some(id) = id else { return Ok(None) };
                tx.execute(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, \
                     locked_until = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, lease, now],
                )
                .map_err(map_err)?;
                let claimed = load(&tx, id)?;
                tx.commit().map_err(map_err)?;
                Ok(claimed)
            })
            .await
    }

    async fn complete_job(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.conns
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = ?2 \
                         WHERE id = ?1",
                        params![id, ts(&now)],
                    )
                    .map_err(map_err)?;
                expect_one(n, id)
            })
            .await
    }

    async fn requeue_job(
        &self,
        id: i64,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let (payload, error) = (payload.to_string(), error.map(str::to_owned));
        let now = ts(&Utc::now());
        self.conns
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE jobs SET status = 'queued', payload = ?2, run_at = ?3, \
                         last_error = COALESCE(?4, last_error), locked_until = NULL, \
                         attempts = CASE WHEN ?4 IS NULL THEN 0 ELSE attempts END, \
                         updated_at = ?5 WHERE id = ?1",
                        params![id, payload, ts(&run_at), error, now],
                    )
                    .map_err(map_err)?;
                expect_one(n, id)
            })
            .await
    }

    async fn fail_job(&self, id: i64, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let error = error.to_owned();
        self.conns
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE jobs SET status = 'failed', last_error = ?2, locked_until = NULL, \
                         updated_at = ?3 WHERE id = ?1",
                        params![id, error, ts(&now)],
                    )
                    .map_err(map_err)?;
                expect_one(n, id)
            })
            .await
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        self.conns.read(move |c| load(c, id)).await
    }

    async fn pending_jobs(&self) -> StoreResult<Vec<Job>> {
        self.conns
            .read(|c| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {JOB_COLUMNS} FROM jobs WHERE status <> 'done' ORDER BY id"
                    ))
                    .map_err(map_err)?;
                let rows = stmt.query_map([], raw_job).map_err(map_err)?;
                rows.map(|r| r.map_err(map_err).and_then(job)).collect()
            })
            .await
    }
}
