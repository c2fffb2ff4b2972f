//! The queue of background work. A claim locks the job it takes with `FOR UPDATE SKIP
//! LOCKED`, so concurrent workers, in one process or several, pass over each other's jobs
//! instead of waiting for them or taking them twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sangam_store::{Job, JobStatus, JobStore, StoreError, StoreResult};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::sql::{execute, get, query, query_one, query_opt};

const JOB_COLUMNS: &str =
    "id, kind, payload, status, attempts, run_at, locked_until, last_error, created_at, updated_at";

fn job(row: &Row) -> StoreResult<Job> {
    const T: &str = "jobs";
    let status: String = get(T, row, 3)?;
    Ok(Job {
        id: get(T, row, 0)?,
        kind: get(T, row, 1)?,
        payload: get(T, row, 2)?,
        status: JobStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("jobs.status", &status))?,
        attempts: get(T, row, 4)?,
        run_at: get(T, row, 5)?,
        locked_until: get(T, row, 6)?,
        last_error: get(T, row, 7)?,
        created_at: get(T, row, 8)?,
        updated_at: get(T, row, 9)?,
    })
}

fn expect_one(n: u64, id: i64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(format!("job {id}")))
    } else {
        Ok(())
    }
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let c = self.client().await?;
        let row = query_one(
            &c,
            "INSERT INTO jobs (kind, payload, status, run_at, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, $4, $4) RETURNING id",
            &[&kind, payload, &run_at, &Utc::now()],
        )
        .await?;
        get("jobs", &row, 0)
    }

    async fn enqueue_singleton_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        let c = self.client().await?;
        // The partial unique index `jobs_singleton` decides between processes asking at once:
        // the second insert finds the first and does nothing.
        query_opt(
            &c,
            "INSERT INTO jobs (kind, payload, status, run_at, created_at, updated_at, singleton) \
             VALUES ($1, $2, 'queued', $3, $4, $4, true) \
             ON CONFLICT (kind) WHERE singleton AND status IN ('queued', 'running') DO NOTHING \
             RETURNING id",
            &[&kind, payload, &run_at, &Utc::now()],
        )
        .await?
        .map(|row| get("jobs", &row, 0))
        .transpose()
    }

    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, \
                 locked_until = $2, updated_at = $1 \
                 WHERE id = (SELECT id FROM jobs \
                     WHERE (status = 'queued' AND run_at <= $1) \
                        OR (status = 'running' AND locked_until < $1) \
                     ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING {JOB_COLUMNS}"
            ),
            &[&now, &lease_until],
        )
        .await?
        .as_ref()
        .map(job)
        .transpose()
    }

    async fn complete_job(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE jobs SET status = 'done', locked_until = NULL, updated_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .await?;
        expect_one(n, id)
    }

    async fn requeue_job(
        &self,
        id: i64,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE jobs SET status = 'queued', payload = $2, run_at = $3, \
             last_error = COALESCE($4, last_error), locked_until = NULL, \
             attempts = CASE WHEN $4::text IS NULL THEN 0 ELSE attempts END, \
             updated_at = $5 WHERE id = $1",
            &[&id, payload, &run_at, &error, &Utc::now()],
        )
        .await?;
        expect_one(n, id)
    }

    async fn fail_job(&self, id: i64, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE jobs SET status = 'failed', last_error = $2, locked_until = NULL, \
             updated_at = $3 WHERE id = $1",
            &[&id, &error, &now],
        )
        .await?;
        expect_one(n, id)
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(job)
        .transpose()
    }

    async fn pending_jobs(&self) -> StoreResult<Vec<Job>> {
        let c = self.client().await?;
        query(
            &c,
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE status <> 'done' ORDER BY id"),
            &[],
        )
        .await?
        .iter()
        .map(job)
        .collect()
    }
}
