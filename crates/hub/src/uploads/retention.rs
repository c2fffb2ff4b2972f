//! How long the hub keeps an upload's rejected rows.
//!
//! They hold what the department typed, ID, mobile and bank numbers included, and exist only
//! so that its officers can fix them and send them again. After the retention period
//! (`rejections_retention_days`, 90 days by default) a recurring job deletes them, with the
//! file's header that only their report uses, in bounded batches. The upload keeps its counts
//! and records when its rows went, and its rejection report then answers "gone", saying when
//! and why.
//!
//! The hub had no recurring work before this: the purge job queues itself again a day after
//! each pass, and every serving hub's worker makes sure at its start that it is queued, once
//! (the store refuses a second one of its kind).

use chrono::{DateTime, Duration, Utc};
use sangam_store::{RejectionPurge, UploadRecord};
use serde::Serialize;

use crate::jobs::JobKind;
use crate::{Hub, HubError, HubResult};

/// How long rejected rows are kept when the configuration does not say.
pub const DEFAULT_REJECTIONS_RETENTION_DAYS: u32 = 90;
/// The longest retention accepted: ten years is longer than any correction takes, and a
/// larger number is more likely a mistake (a value in hours or seconds) than a policy.
pub const MAX_REJECTIONS_RETENTION_DAYS: u32 = 3650;
/// Rows (and uploads) purged per step of the job, so that one step's transaction stays short.
pub const PURGE_BATCH: u32 = 5_000;
/// How often the purge runs.
pub const PURGE_EVERY: Duration = Duration::days(1);

/// How long the hub keeps what it must not keep for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetentionPolicy {
    rejections_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            rejections_days: DEFAULT_REJECTIONS_RETENTION_DAYS,
        }
    }
}

impl RetentionPolicy {
    /// The policy with rejected rows kept `rejections_retention_days` after their upload
    /// finished: from 1 to [`MAX_REJECTIONS_RETENTION_DAYS`].
    pub fn new(rejections_retention_days: i64) -> HubResult<Self> {
        match u32::try_from(rejections_retention_days) {
            Ok(days) if (1..=MAX_REJECTIONS_RETENTION_DAYS).contains(&days) => {
                Ok(RetentionPolicy {
                    rejections_days: days,
                })
            }
            _ => Err(HubError::Invalid {
                field: "rejections_retention_days".into(),
                code: "rejections_retention_days.range",
                message: format!(
                    "rejected rows are kept from 1 to {MAX_REJECTIONS_RETENTION_DAYS} days after \
                     their upload finished; {rejections_retention_days} is not in that range"
                ),
            }),
        }
    }

    /// Days an upload's rejected rows are kept after it finished.
    pub fn rejections_days(&self) -> u32 {
        self.rejections_days
    }
}

/// Why an upload's rejection report is gone, in words for its officer.
pub(crate) fn purged_message(upload: &UploadRecord, purged_at: DateTime<Utc>) -> String {
    let after = upload
        .finished_at
        .map(|finished| {
            format!(
                ", {} days after it finished,",
                (purged_at - finished).num_days()
            )
        })
        .unwrap_or_default();
    format!(
        "the rejected rows of this upload were removed on {}{after} under the hub's retention \
         policy; the counts remain",
        purged_at.date_naive()
    )
}

impl Hub {
    /// The retention policy in force.
    pub fn retention_policy(&self) -> RetentionPolicy {
        self.retention.read().map(|p| *p).unwrap_or_default()
    }

    /// Changes the retention policy (configuration, tests); the next purge uses it.
    pub fn set_retention_policy(&self, policy: RetentionPolicy) {
        if let Ok(mut p) = self.retention.write() {
            *p = policy;
        }
    }

    /// Makes sure the recurring purge of rejected rows is queued, due now if it was not:
    /// every serving hub's worker calls this at its start, and however many do, one job is
    /// queued. Returns the id of the job queued, or `None` when one was already.
    pub async fn schedule_rejection_purge(&self) -> HubResult<Option<i64>> {
        let job = JobKind::PurgeRejections {
            uploads: 0,
            rows: 0,
        };
        let payload = serde_json::to_value(&job).map_err(|e| HubError::Internal(e.to_string()))?;
        Ok(self
            .store
            .enqueue_singleton_job(job.code(), &payload, self.now())
            .await?)
    }

    /// One batch of the purge, as of the hub's clock: the rejected rows of uploads that
    /// finished more than the retention period ago, at most `limit` rows.
    pub async fn purge_rejections_step(&self, limit: u32) -> HubResult<RejectionPurge> {
        let now = self.now();
        let cut_off = now - Duration::days(i64::from(self.retention_policy().rejections_days()));
        Ok(self.store.purge_rejections(cut_off, now, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(days: i64) -> Option<&'static str> {
        match RetentionPolicy::new(days) {
            Ok(_) => None,
            Err(HubError::Invalid { code, .. }) => Some(code),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn retention_is_from_one_day_to_ten_years() {
        assert_eq!(
            RetentionPolicy::default().rejections_days(),
            DEFAULT_REJECTIONS_RETENTION_DAYS
        );
        for ok in [1, 90, 3650] {
            assert_eq!(code(ok), None, "{ok}");
        }
        for bad in [
            0,
            -1,
            -90,
            3651,
            i64::from(u32::MAX) + 1,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(code(bad), Some("rejections_retention_days.range"), "{bad}");
        }
        let Err(e) = RetentionPolicy::new(0) else {
            panic!("0 days is refused")
        };
        assert!(
            e.to_string().starts_with("rejections_retention_days: "),
            "the message names the setting: {e}"
        );
    }
}
