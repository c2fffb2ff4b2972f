//! Uploads (batches) of department data: what was uploaded, and how many rows were accepted
//! and rejected. Sending a file over the API comes with the upload endpoints of issue 3.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use sangam_store::UploadRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Admin;
use crate::problem::{ApiError, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadCountsView {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    pub id: String,
    pub dataset: String,
    pub organisation: String,
    pub uploaded_by: String,
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub file_sha256: String,
    pub idempotency_key: String,
    /// `full` or `incremental`.
    pub mode: String,
    /// `received`, `validating`, `committed`, `failed` or `interrupted`.
    pub status: String,
    pub counts: UploadCountsView,
    /// The upload whose rejected rows this one corrects.
    pub corrects: Option<String>,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<UploadRecord> for UploadView {
    fn from(u: UploadRecord) -> Self {
        let c = u.counts;
        UploadView {
            id: u.id,
            dataset: u.dataset,
            organisation: u.organisation,
            uploaded_by: u.uploaded_by,
            file_name: u.file_name,
            file_sha256: u.file_sha256,
            idempotency_key: u.idempotency_key,
            mode: u.mode,
            status: u.status.code().to_owned(),
            counts: UploadCountsView {
                rows: c.rows,
                accepted: c.accepted,
                rejected: c.rejected,
                added: c.added,
                modified: c.modified,
                deleted: c.deleted,
                unchanged: c.unchanged,
            },
            corrects: u.corrects,
            error: u.error,
            received_at: u.received_at,
            finished_at: u.finished_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadFilter {
    /// Only this organisation's uploads.
    pub organisation: Option<String>,
    /// At most this many, newest first (1 to 500).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

/// Uploads, newest first.
#[utoipa::path(
    get, path = "/v1/uploads", tag = "uploads", security(("bearer" = [])), params(UploadFilter),
    responses(
        (status = 200, body = Vec<UploadView>),
        (status = 401, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(filter): ApiQuery<UploadFilter>,
) -> Result<Json<Vec<UploadView>>, ApiError> {
    let uploads = state
        .hub
        .uploads(filter.organisation.as_deref(), filter.limit)
        .await?;
    Ok(Json(uploads.into_iter().map(UploadView::from).collect()))
}

/// One upload, with its counts and status.
#[utoipa::path(
    get, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = UploadView),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<UploadView>, ApiError> {
    Ok(Json(state.hub.upload(&id).await?.into()))
}
