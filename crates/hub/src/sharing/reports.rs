//! What the access log and the usage counts tell: which applications saw a resident and why
//! (the resident's data tracker), which records an application saw and how often, its usage
//! against its quotas, and the scraping alerts.

use chrono::Datelike;
use sangam_access::limits::UsageSnapshot;
use sangam_store::{AuditEntry, AuditFilter, DailyUsage, User};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::ist_day;
use crate::audit::RECORD_SERVED;
use crate::{Hub, HubError, HubResult};

/// One record served, as the access log holds it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessEntry {
    pub seq: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub application_id: String,
    pub resident_id: String,
    pub operation: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub request_id: String,
    pub client_ip: String,
}

/// An application's usage: today and this month against its quotas, and the days stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    #[schema(value_type = Object)]
    pub current: UsageSnapshot,
    pub days: Vec<DayUsage>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayUsage {
    pub day: chrono::NaiveDate,
    pub requests: u64,
}

/// How many times an application was served one resident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordCount {
    pub resident_id: String,
    pub times: u64,
}

fn access_entry(e: &AuditEntry) -> HubResult<AccessEntry> {
    #[derive(serde::Deserialize)]
    struct Details {
        application_id: String,
        resident_id: String,
        operation: String,
        fields: Vec<String>,
        purpose: String,
        request_id: String,
        client_ip: String,
    }
    let d: Details = serde_json::from_str(&e.details)
        .map_err(|err| HubError::Internal(format!("audit entry {}: {err}", e.seq)))?;
    Ok(AccessEntry {
        seq: e.seq,
        at: e.at,
        application_id: d.application_id,
        resident_id: d.resident_id,
        operation: d.operation,
        fields: d.fields,
        purpose: d.purpose,
        request_id: d.request_id,
        client_ip: d.client_ip,
    })
}

impl Hub {
    /// Who saw a resident's data, and why: newest first. Administrators only.
    pub async fn resident_access_log(
        &self,
        resident_id: &str,
        before: i64,
        limit: u32,
    ) -> HubResult<Vec<AccessEntry>> {
        self.store()
            .search_audit(
                &AuditFilter {
                    target: Some(format!("resident:{resident_id}")),
                    action: Some(RECORD_SERVED.into()),
                    actor: None,
                },
                before,
                limit.clamp(1, 1000),
            )
            .await?
            .iter()
            .map(access_entry)
            .collect()
    }

    /// The records an application was served, newest first.
    pub async fn application_access_log(
        &self,
        id: &str,
        before: i64,
        limit: u32,
        user: &User,
    ) -> HubResult<Vec<AccessEntry>> {
        self.visible_application(id, user).await?;
        self.store()
            .search_audit(
                &AuditFilter {
                    actor: Some(format!("app:{id}")),
                    action: Some(RECORD_SERVED.into()),
                    target: None,
                },
                before,
                limit.clamp(1, 1000),
            )
            .await?
            .iter()
            .map(access_entry)
            .collect()
    }

    /// Which residents an application was served most often.
    pub async fn application_record_counts(
        &self,
        id: &str,
        limit: u32,
        user: &User,
    ) -> HubResult<Vec<RecordCount>> {
        self.visible_application(id, user).await?;
        Ok(self
            .store()
            .audit_target_counts(&format!("app:{id}"), RECORD_SERVED, limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(|(target, times)| RecordCount {
                resident_id: target.trim_start_matches("resident:").to_owned(),
                times,
            })
            .collect())
    }

    /// An application's usage against its quotas, for itself or for the people who may see it.
    pub async fn application_usage(&self, id: &str) -> HubResult<Usage> {
        let app = self.active_application(id).await?;
        self.flush_usage().await?;
        let today = ist_day(self.now());
        let from = today.with_day(1).unwrap_or(today) - chrono::Days::new(31);
        let days: Vec<DailyUsage> = self.store().usage(id, from, today).await?;
        let month_start = today.with_day(1).unwrap_or(today);
        let this_month: u64 = days
            .iter()
            .filter(|d| d.day >= month_start)
            .map(|d| d.requests)
            .sum();
        let today_count: u64 = days
            .iter()
            .filter(|d| d.day == today)
            .map(|d| d.requests)
            .sum();
        let limits = app
            .doc
            .agreement()
            .map(|a| a.limits)
            .ok_or_else(|| HubError::Conflict("the application has no agreement".into()))?;
        Ok(Usage {
            current: UsageSnapshot {
                day: today,
                today: today_count,
                daily_limit: limits.daily,
                month: month_start.format("%Y-%m").to_string(),
                this_month,
                monthly_limit: limits.monthly,
            },
            days: days
                .into_iter()
                .map(|d| DayUsage {
                    day: d.day,
                    requests: d.requests,
                })
                .collect(),
        })
    }

    /// Scraping alerts, newest first: all, or one application's.
    pub async fn scraping_alerts(
        &self,
        application: Option<&str>,
        limit: u32,
    ) -> HubResult<Vec<AuditEntry>> {
        Ok(self
            .store()
            .search_audit(
                &AuditFilter {
                    action: Some("scraping.detected".into()),
                    target: application.map(|a| format!("application:{a}")),
                    actor: None,
                },
                0,
                limit.clamp(1, 1000),
            )
            .await?)
    }
}
