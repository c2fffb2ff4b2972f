//! The access log: every record served to an application is an entry of the hash-chained
//! audit log, written before the record leaves the hub.
//!
//! Thousands of records a second cannot each have a commit of their own, so entries are group
//! committed: each request adds its entries and waits; whichever request holds the writer
//! next writes everything waiting in one transaction and wakes the others. A record is sent
//! only once its entry is stored, so a crash loses no trace of a record served. The quota
//! counts since the last write go to the store in the same step.

use std::sync::Mutex;

use sangam_store::{AuditDraft, DailyUsage};
use tokio::sync::oneshot;

use crate::{Hub, HubError, HubResult};

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
pub(crate) struct AccessLog {
    pending: Mutex<Vec<(Vec<AuditDraft>, Waiter)>>,
    writer: tokio::sync::Mutex<()>,
}

impl Hub {
    /// Stores `drafts` in the audit log, together with whatever other requests are waiting.
    pub(crate) async fn log_access(&self, drafts: Vec<AuditDraft>) -> HubResult<()> {
        if drafts.is_empty() {
            return Ok(());
        }
        let log = &self.sharing().access_log;
        let (done, mut wait) = oneshot::channel();
        log.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((drafts, done));
        loop {
            if let Ok(outcome) = wait.try_recv() {
                return outcome.map_err(HubError::Internal);
            }
            let _writer = log.writer.lock().await;
            if let Ok(outcome) = wait.try_recv() {
                return outcome.map_err(HubError::Internal);
            }
            let batch = std::mem::take(
                &mut *log
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            let (drafts, waiters): (Vec<Vec<AuditDraft>>, Vec<Waiter>) = batch.into_iter().unzip();
            let drafts: Vec<AuditDraft> = drafts.into_iter().flatten().collect();
            let outcome = self.write_access(&drafts).await.map_err(|e| e.to_string());
            for waiter in waiters {
                let _ = waiter.send(outcome.clone());
            }
        }
    }

    async fn write_access(&self, drafts: &[AuditDraft]) -> HubResult<()> {
        self.store().append_audit_batch(drafts).await?;
        self.flush_usage().await
    }

    /// Adds the requests counted since the last flush to the stored daily usage.
    pub async fn flush_usage(&self) -> HubResult<()> {
        let deltas: Vec<DailyUsage> = self
            .sharing()
            .limiter
            .drain()
            .into_iter()
            .map(|d| DailyUsage {
                application_id: d.app,
                day: d.day,
                requests: d.requests,
            })
            .collect();
        Ok(self.store().add_usage(&deltas).await?)
    }
}
