//! Background work from the queue kept in the store: a restart loses nothing, several hub
//! processes share the work, and tests drive the worker one step at a time. Work done in
//! steps queues its next step with a cursor in its payload; recurring work (the purge of
//! rejected rows past their retention) queues itself again for later, and the worker of a
//! serving hub makes sure at its start that it is queued.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use sangam_domain::RefKey;
use sangam_store::UploadStatus;

use crate::audit::AuditEvent;
use crate::uploads::retention::{PURGE_BATCH, PURGE_EVERY};
use crate::{Hub, HubError, HubResult};

/// Entries re-encrypted per step of a key rotation.
pub const REENCRYPT_BATCH: u32 = 500;
/// How long a claimed job is reserved before another worker may take it over.
const LEASE: Duration = Duration::minutes(5);
/// How long a base upload's relink waits before it looks again at an upload still loading.
const RELINK_RECHECK: Duration = Duration::seconds(5);
/// Attempts before a failing job is given up.
const MAX_ATTEMPTS: i32 = 10;

/// The kinds of background work, with their state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Re-encrypt vault entries under data-key `version`: `resealed` done so far, and the
    /// last reference key passed (the walk goes through the vault once, in key order).
    ReencryptVault {
        version: u32,
        resealed: u64,
        #[serde(default)]
        after: Option<String>,
    },
    /// Re-seal the rejected rows uploads keep under data-key `version`: `resealed` done so
    /// far, and the last row passed (the walk goes through them once, in (upload, line) order).
    ReencryptRejections {
        version: u32,
        resealed: u64,
        #[serde(default)]
        after: Option<RejectionCursor>,
    },
    /// Link a dataset's pending records to residents, from the record key after `after`.
    LinkEnrolments {
        dataset: String,
        #[serde(default)]
        after: Option<String>,
        #[serde(default)]
        summary: crate::linking::LinkSummary,
    },
    /// Re-seal scheme records' sensitive fields under data-key `version`: `resealed` done so
    /// far, and the last record passed (the walk goes through them once, in (dataset, record
    /// key) order).
    ReencryptEnrolments {
        version: u32,
        resealed: u64,
        #[serde(default)]
        after: Option<EnrolmentCursor>,
    },
    /// After a base upload: send the schemes' records not found back to linking, once the
    /// upload has committed (they may be its new or changed residents); nothing if it
    /// failed or was interrupted.
    RelinkAfterUpload { upload_id: String },
    /// Delete the rejected rows of uploads past the retention period, a batch a step, then
    /// run again a day later; `uploads` and `rows` count what this pass removed so far.
    PurgeRejections {
        #[serde(default)]
        uploads: u64,
        #[serde(default)]
        rows: u64,
    },
}

/// Where a walk over scheme records stands: the last record passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentCursor {
    pub dataset: String,
    pub record_key: String,
}

/// Where a walk over stored rejected rows stands: the last row passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionCursor {
    pub upload_id: String,
    pub line: u64,
}

/// What follows one step of a job.
enum Then {
    /// The job is over.
    Done,
    /// Its next step, as soon as a worker takes it.
    Next(JobKind),
    /// It runs again at a later time (recurring work).
    At(JobKind, DateTime<Utc>),
}

impl JobKind {
    pub fn code(&self) -> &'static str {
        match self {
            JobKind::ReencryptVault { .. } => "vault.reencrypt",
            JobKind::ReencryptRejections { .. } => "vault.reencrypt_rejections",
            JobKind::ReencryptEnrolments { .. } => "vault.reencrypt_enrolments",
            JobKind::LinkEnrolments { .. } => "enrolments.link",
            JobKind::PurgeRejections { .. } => "uploads.purge_rejections",
            JobKind::RelinkAfterUpload { .. } => "registry.relink_after_upload",
        }
    }
}

/// What one run of the worker did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRun {
    pub job_id: i64,
    pub kind: String,
    /// `done`, `continues` (more steps queued), `scheduled` (queued to run again later),
    /// `retry` or `failed`.
    pub outcome: &'static str,
}

impl Hub {
    pub(crate) async fn enqueue(&self, job: JobKind) -> HubResult<i64> {
        let payload = serde_json::to_value(&job).map_err(|e| HubError::Internal(e.to_string()))?;
        Ok(self
            .store
            .enqueue_job(job.code(), &payload, self.now())
            .await?)
    }

    /// Claims and runs one due job, if there is one.
    pub async fn run_next_job(&self) -> HubResult<Option<JobRun>> {
        let now = self.now();
        let Some(job) = self.store.claim_job(now, now + LEASE).await? else {
            return Ok(None);
        };
        let kind: JobKind = match serde_json::from_value(job.payload.clone()) {
            Ok(kind) => kind,
            Err(e) => {
                let message = format!("unreadable job payload: {e}");
                self.store.fail_job(job.id, &message, now).await?;
                return Ok(Some(JobRun {
                    job_id: job.id,
                    kind: job.kind,
                    outcome: "failed",
                }));
            }
        };
        let outcome = match self.run_job(&kind).await {
            Ok(Then::Next(next)) => {
                let payload =
                    serde_json::to_value(&next).map_err(|e| HubError::Internal(e.to_string()))?;
                self.store
                    .requeue_job(job.id, &payload, self.now(), None)
                    .await?;
                "continues"
            }
            Ok(Then::At(next, at)) => {
                let payload =
                    serde_json::to_value(&next).map_err(|e| HubError::Internal(e.to_string()))?;
                self.store.requeue_job(job.id, &payload, at, None).await?;
                "scheduled"
            }
            Ok(Then::Done) => {
                self.store.complete_job(job.id, self.now()).await?;
                "done"
            }
            Err(e) if job.attempts < MAX_ATTEMPTS => {
                let backoff = Duration::seconds(2_i64.pow(job.attempts.clamp(0, 10) as u32));
                tracing::warn!(job_id = job.id, kind = %job.kind, error = %e, "job failed; will retry");
                self.store
                    .requeue_job(
                        job.id,
                        &job.payload,
                        self.now() + backoff,
                        Some(&e.to_string()),
                    )
                    .await?;
                "retry"
            }
            Err(e) => {
                tracing::error!(job_id = job.id, kind = %job.kind, error = %e, "job failed for good");
                self.store
                    .fail_job(job.id, &e.to_string(), self.now())
                    .await?;
                "failed"
            }
        };
        Ok(Some(JobRun {
            job_id: job.id,
            kind: job.kind,
            outcome,
        }))
    }

    /// Runs jobs until none is due.
    pub async fn run_jobs_until_idle(&self) -> HubResult<Vec<JobRun>> {
        let mut runs = Vec::new();
        while let Some(run) = self.run_next_job().await? {
            runs.push(run);
        }
        Ok(runs)
    }

    /// Runs one step of a job, and says what follows it.
    async fn run_job(&self, job: &JobKind) -> HubResult<Then> {
        match job {
            JobKind::LinkEnrolments {
                dataset,
                after,
                summary,
            } => {
                let step = self.link_step(dataset, after.as_deref()).await?;
                let summary = crate::linking::LinkSummary {
                    linked: summary.linked + step.summary.linked,
                    review: summary.review + step.summary.review,
                    not_found: summary.not_found + step.summary.not_found,
                };
                match step.next {
                    Some(after) => Ok(Then::Next(JobKind::LinkEnrolments {
                        dataset: dataset.clone(),
                        after: Some(after),
                        summary,
                    })),
                    None => {
                        tracing::info!(
                            dataset,
                            linked = summary.linked,
                            review = summary.review,
                            not_found = summary.not_found,
                            "records linked"
                        );
                        Ok(Then::Done)
                    }
                }
            }
            JobKind::ReencryptVault {
                version,
                resealed,
                after,
            } => {
                let (version, after) = (*version, after.as_deref());
                let after = after.map(RefKey::parse).transpose().map_err(|e| {
                    HubError::Internal(format!(
                        "a re-encryption job has a bad cursor: {}",
                        e.message
                    ))
                })?;
                let step = self.reencrypt_step(REENCRYPT_BATCH, after.as_ref()).await?;
                let resealed = resealed + step.resealed;
                self.walk_on(
                    step.next,
                    |last| JobKind::ReencryptVault {
                        version,
                        resealed,
                        after: Some(last),
                    },
                    AuditEvent::ReencryptionCompleted { version, resealed },
                )
                .await
            }
            JobKind::ReencryptRejections {
                version,
                resealed,
                after,
            } => {
                let step = self
                    .reencrypt_rejections_step(REENCRYPT_BATCH, after.as_ref())
                    .await?;
                let (version, resealed) = (*version, resealed + step.resealed);
                self.walk_on(
                    step.next,
                    |last| JobKind::ReencryptRejections {
                        version,
                        resealed,
                        after: Some(last),
                    },
                    AuditEvent::RejectionsReencrypted { version, resealed },
                )
                .await
            }
            JobKind::ReencryptEnrolments {
                version,
                resealed,
                after,
            } => {
                let step = self
                    .reencrypt_enrolments_step(REENCRYPT_BATCH, after.as_ref())
                    .await?;
                let (version, resealed) = (*version, resealed + step.resealed);
                self.walk_on(
                    step.next,
                    |last| JobKind::ReencryptEnrolments {
                        version,
                        resealed,
                        after: Some(last),
                    },
                    AuditEvent::EnrolmentsReencrypted { version, resealed },
                )
                .await
            }
            JobKind::RelinkAfterUpload { upload_id } => {
                let upload = match self.upload(upload_id).await {
                    Ok(upload) => upload,
                    Err(HubError::NotFound(_)) => return Ok(Then::Done),
                    Err(e) => return Err(e),
                };
                match upload.status {
                    // Still loading (reading it asked the reaper whether its process lives).
                    UploadStatus::Received | UploadStatus::Validating => {
                        Ok(Then::At(job.clone(), self.now() + RELINK_RECHECK))
                    }
                    UploadStatus::Committed => {
                        if upload.counts.added + upload.counts.modified > 0 {
                            self.relink_after_registry_change(upload_id).await?;
                        }
                        Ok(Then::Done)
                    }
                    UploadStatus::Failed | UploadStatus::Interrupted => Ok(Then::Done),
                }
            }
            JobKind::PurgeRejections { uploads, rows } => {
                let batch = self.purge_rejections_step(PURGE_BATCH).await?;
                let (uploads, rows) = (uploads + batch.uploads, rows + batch.rows);
                if batch.more {
                    return Ok(Then::Next(JobKind::PurgeRejections { uploads, rows }));
                }
                if uploads > 0 || rows > 0 {
                    let retention_days = self.retention_policy().rejections_days();
                    tracing::info!(uploads, rows, retention_days, "rejected rows purged");
                    self.audit(
                        "system",
                        AuditEvent::RejectionsPurged {
                            uploads,
                            rows,
                            retention_days,
                        },
                    )
                    .await?;
                }
                Ok(Then::At(
                    JobKind::PurgeRejections {
                        uploads: 0,
                        rows: 0,
                    },
                    self.now() + PURGE_EVERY,
                ))
            }
        }
    }

    /// What follows one step of a walk over stored rows (a re-encryption): the next step from
    /// where this one stopped, or, at the end, the walk's audit entry and done.
    async fn walk_on<C>(
        &self,
        stopped_at: Option<C>,
        next: impl FnOnce(C) -> JobKind,
        finished: AuditEvent,
    ) -> HubResult<Then> {
        match stopped_at {
            Some(last) => Ok(Then::Next(next(last))),
            None => {
                self.audit("system", finished).await?;
                Ok(Then::Done)
            }
        }
    }

    /// The worker loop of a serving hub: makes sure its recurring jobs are queued, runs due
    /// jobs, then sleeps a little, until shutdown.
    pub async fn run_worker(&self, mut shutdown: watch::Receiver<bool>) {
        let mut scheduled = false;
        loop {
            if !scheduled {
                match self.schedule_rejection_purge().await {
                    Ok(_) => scheduled = true,
                    Err(e) => {
                        tracing::error!(error = %e, "the job worker could not queue the purge of rejected rows")
                    }
                }
            }
            match self.run_jobs_until_idle().await {
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "the job worker could not reach the store"),
            }
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
