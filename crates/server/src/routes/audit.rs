//! Reading and verifying the audit log.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use sangam_store::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Admin;
use crate::problem::{ApiError, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Entries after this sequence number.
    #[serde(default)]
    pub after: i64,
    /// At most this many (1 to 1000).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// The event's fields as JSON text.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditEntry> for AuditItem {
    fn from(e: AuditEntry) -> Self {
        AuditItem {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            details: e.details,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// Audit entries in order.
#[utoipa::path(
    get, path = "/v1/audit", tag = "audit", security(("bearer" = [])), params(Page),
    responses((status = 200, body = Vec<AuditItem>), (status = 401, body = crate::problem::Problem))
)]
pub async fn entries(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<AuditItem>>, ApiError> {
    let entries = state.hub.recent_audit(page.after, page.limit).await?;
    Ok(Json(entries.into_iter().map(AuditItem::from).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// Whether every link holds.
    pub intact: bool,
    /// Entries verified before the first broken link (all of them when intact).
    pub entries: u64,
    /// Hash of the last verified entry.
    pub head: String,
    /// The first broken link, in words.
    pub first_broken_link: Option<String>,
}

/// Walks the hash chain and names the first broken link.
#[utoipa::path(
    get, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyResponse), (status = 401, body = crate::problem::Problem))
)]
pub async fn verify(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<VerifyResponse>, ApiError> {
    let report = state.hub.verify_audit().await?;
    Ok(Json(VerifyResponse {
        intact: report.broken.is_none(),
        entries: report.entries,
        head: report.head,
        first_broken_link: report.broken.map(|b| b.to_string()),
    }))
}
