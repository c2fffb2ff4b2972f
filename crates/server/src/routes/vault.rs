//! Administration of the ID-number vault: its keys, their rotation, and the audited reveal.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sangam_domain::RefKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::problem::{ApiError, ApiJson};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyVersionView {
    pub version: u32,
    /// `active` (seals new entries), `decrypt_only` (opens older ones) or `retired`.
    pub status: String,
    /// Entries sealed with this version.
    pub entries: u64,
    /// Rejected rows kept for uploads' reports, sealed with this version (a version is
    /// retired only when neither these nor entries use it).
    pub rejected_rows: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultStatusResponse {
    pub active_version: u32,
    pub master_key_fingerprint: String,
    pub versions: Vec<KeyVersionView>,
}

/// The vault's data-key versions and how many entries each seals.
#[utoipa::path(
    get, path = "/v1/vault/status", tag = "vault", security(("bearer" = [])),
    responses((status = 200, body = VaultStatusResponse), (status = 401, body = crate::problem::Problem))
)]
pub async fn status(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<VaultStatusResponse>, ApiError> {
    let s = state.hub.vault().status().await?;
    Ok(Json(VaultStatusResponse {
        active_version: s.active_version,
        master_key_fingerprint: s.master_key_fingerprint,
        versions: s
            .versions
            .into_iter()
            .map(|v| KeyVersionView {
                version: v.version,
                status: v.status.into(),
                entries: v.entries,
                rejected_rows: v.rejected_rows,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The new active version; entries are re-encrypted to it in the background.
    pub version: u32,
}

/// Adds a data-key version and re-encrypts every entry to it in the background.
#[utoipa::path(
    post, path = "/v1/vault/rotate", tag = "vault", security(("bearer" = [])),
    responses((status = 202, body = Rotated), (status = 401, body = crate::problem::Problem))
)]
pub async fn rotate(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    let version = state.hub.rotate_data_key(&admin.username).await?;
    Ok((StatusCode::ACCEPTED, Json(Rotated { version })))
}

/// Retires a data-key version once no vault entry and no rejected row of an upload uses it.
#[utoipa::path(
    post, path = "/v1/vault/keys/{version}/retire", tag = "vault", security(("bearer" = [])),
    params(("version" = u32, Path)),
    responses(
        (status = 204),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem)
    )
)]
pub async fn retire(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(version): Path<u32>,
) -> Result<StatusCode, ApiError> {
    state.hub.retire_data_key(version, &admin.username).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealRequest {
    pub ref_key: String,
    /// Why the number is needed (for example `grievance.redressal`); kept in the audit log.
    pub purpose: String,
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    pub ref_key: String,
    /// The full ID number. Shown only through this audited operation.
    pub id_number: String,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field("ref_key", &self.ref_key)
            .finish_non_exhaustive()
    }
}

/// Decrypts one ID number for a stated purpose. Every reveal is in the audit log.
#[utoipa::path(
    post, path = "/v1/vault/reveal", tag = "vault", security(("bearer" = [])),
    request_body = RevealRequest,
    responses(
        (status = 200, body = Revealed),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn reveal(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(body): ApiJson<RevealRequest>,
) -> Result<Json<Revealed>, ApiError> {
    let ref_key = RefKey::parse(&body.ref_key).map_err(|e| ApiError::invalid("ref_key", e))?;
    let id = state
        .hub
        .reveal_id_number(&ref_key, &body.purpose, &admin.username)
        .await?;
    Ok(Json(Revealed {
        ref_key: body.ref_key,
        id_number: id.expose_digits().to_owned(),
    }))
}
