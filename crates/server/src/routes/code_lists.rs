//! Code lists (the LGD village directory, the scheme codes, the bank branches) that uploads
//! are checked against.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use sangam_store::StoredCodeList;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Admin, SignedIn};

/// The largest code list accepted: the RBI's list of every bank branch in India, with
/// addresses, is some tens of megabytes; a state's village directory far less.
pub const MAX_CODE_LIST_BYTES: usize = 64 * 1024 * 1024;
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeListView {
    /// `villages`, `schemes` or `ifsc`.
    pub name: String,
    pub entries: u64,
    /// SHA-256 of the CSV as loaded.
    pub sha256: String,
    pub loaded_by: String,
    pub loaded_at: DateTime<Utc>,
}

impl From<StoredCodeList> for CodeListView {
    fn from(l: StoredCodeList) -> Self {
        CodeListView {
            name: l.name,
            entries: l.entries,
            sha256: l.sha256,
            loaded_by: l.loaded_by,
            loaded_at: l.loaded_at,
        }
    }
}

/// The loaded code lists. A list not loaded is not checked against: only the code's format.
#[utoipa::path(
    get, path = "/v1/code-lists", tag = "datasets", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<CodeListView>),
        (status = 401, body = crate::problem::Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _user: SignedIn,
) -> Result<Json<Vec<CodeListView>>, ApiError> {
    let lists = state.hub.code_lists().await?;
    Ok(Json(lists.into_iter().map(CodeListView::from).collect()))
}

/// Loads a code list from CSV, replacing the one before; checked whole first (one bad row,
/// and nothing changes). `villages`: `state_code`, `district_code`, `sub_district_code`,
/// `village_code`, `village_name`; `schemes`: `scheme_code`, `scheme_name`; `ifsc` (the
/// bank branches, such as the RBI's list): `ifsc`, and `bank` and `branch` if present, other
/// columns ignored. Up to 64 MiB. Audited.
#[utoipa::path(
    put, path = "/v1/code-lists/{name}", tag = "datasets", security(("bearer" = [])),
    params(("name" = String, Path, description = "`villages`, `schemes` or `ifsc`")),
    request_body(content = String, description = "the list as CSV", content_type = "text/csv"),
    responses(
        (status = 200, body = CodeListView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 413, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn load(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path(name): Path<String>,
    body: String,
) -> Result<Json<CodeListView>, ApiError> {
    let loaded = state
        .hub
        .load_code_list(&name, &body, &user.username)
        .await?;
    Ok(Json(loaded.into()))
}
