//! `POST /v1/verify`: does an applicant's claimed name, date of birth and gender agree with
//! the resident a reference key names? Yes or no per field, never the registry's values.

use axum::Json;
use axum::extract::State;
use sangam_domain::RefKey;
use sangam_hub::verify::{Claims, Verdict, Verification};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::SignedIn;
use crate::problem::{ApiError, ApiJson};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The resident's reference key.
    pub ref_key: String,
    /// The name as the applicant gave it (any transliteration, initials, order).
    pub name: Option<String>,
    /// DD-MM-YYYY, DD/MM/YYYY, YYYY-MM-DD, a year, or an age.
    pub dob: Option<String>,
    /// F, M or T.
    pub gender: Option<String>,
}

/// `yes`, `no`, or `not_given` for a field that was not claimed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictView {
    Yes,
    No,
    NotGiven,
}

impl From<Verdict> for VerdictView {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Yes => VerdictView::Yes,
            Verdict::No => VerdictView::No,
            Verdict::NotGiven => VerdictView::NotGiven,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    pub name: VerdictView,
    pub dob: VerdictView,
    pub gender: VerdictView,
    /// `yes` when every claimed field agrees.
    pub overall: VerdictView,
}

impl From<Verification> for VerifyResponse {
    fn from(v: Verification) -> Self {
        VerifyResponse {
            name: v.name.into(),
            dob: v.dob.into(),
            gender: v.gender.into(),
            overall: v.overall.into(),
        }
    }
}

/// Verifies claimed details against a resident, yes or no per field. Audited.
#[utoipa::path(
    post, path = "/v1/verify", tag = "matching", security(("bearer" = [])),
    request_body = VerifyRequest,
    responses(
        (status = 200, body = VerifyResponse),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let ref_key = RefKey::parse(&body.ref_key).map_err(|e| ApiError::invalid("ref_key", e))?;
    let claims = Claims {
        name: body.name,
        dob: body.dob,
        gender: body.gender,
    };
    let verification = state
        .hub
        .verify_resident(&ref_key, &claims, &user.username)
        .await?;
    Ok(Json(verification.into()))
}
