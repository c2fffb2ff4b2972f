//! `POST /v1/validate`: is a candidate beneficiary in the base data, and what stands in the
//! way of enrolling them in a scheme? The answer names the resident by reference key with a
//! match probability, never the registry's values.

use axum::Json;
use axum::extract::State;
use sangam_hub::conflicts::Outcome;
use sangam_hub::linking::validate::{Candidate, FoundBy, Presence, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::SignedIn;
use crate::problem::{ApiError, ApiJson};
use crate::routes::conflicts::ConflictView;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The scheme's dataset the candidate would join.
    pub dataset: String,
    /// The 12-digit ID number, if the department holds it.
    pub id_number: Option<String>,
    /// Or the reference key the hub gave for it.
    pub ref_key: Option<String>,
    /// Or the person's details: the name (any transliteration, initials, order)…
    pub name: Option<String>,
    /// …father's, husband's or spouse's name…
    pub relative_name: Option<String>,
    /// …date of birth (DD-MM-YYYY, DD/MM/YYYY, YYYY-MM-DD, a year, or an age)…
    pub dob: Option<String>,
    /// …gender (F, M or T)…
    pub gender: Option<String>,
    /// …and place: LGD village code, PIN code.
    pub village_code: Option<String>,
    pub pincode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    pub dataset: String,
    /// `yes`, `possible` (a likely match to check) or `no`.
    pub in_base_data: String,
    /// `id_number`, `ref_key` or `model`.
    pub found_by: Option<String>,
    pub resident_id: Option<String>,
    /// The reference key of the resident's ID number, when the registry holds one.
    pub ref_key: Option<String>,
    pub match_probability: Option<f64>,
    /// What enrolling this resident in the scheme would break. Records of other
    /// organisations' schemes carry no record key.
    pub conflicts: Vec<ConflictView>,
    /// The scheme's eligibility rules on the resident's registry data.
    pub eligibility: Vec<RuleOutcomeView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOutcomeView {
    pub rule: String,
    /// `pass`, `fail` or `not_checked`.
    pub outcome: String,
    pub message: String,
}

impl From<Validation> for ValidateResponse {
    fn from(v: Validation) -> Self {
        ValidateResponse {
            dataset: v.dataset,
            in_base_data: match v.found.in_base_data {
                Presence::Yes => "yes",
                Presence::Possible => "possible",
                Presence::No => "no",
            }
            .into(),
            found_by: v.found.found_by.map(|f| {
                match f {
                    FoundBy::IdNumber => "id_number",
                    FoundBy::RefKey => "ref_key",
                    FoundBy::Model => "model",
                }
                .into()
            }),
            resident_id: v.found.resident_id,
            ref_key: v.found.ref_key,
            match_probability: v.found.match_probability,
            conflicts: v.conflicts.into_iter().map(ConflictView::from).collect(),
            eligibility: v
                .eligibility
                .into_iter()
                .map(|r| RuleOutcomeView {
                    rule: r.rule,
                    outcome: match r.outcome {
                        Outcome::Pass => "pass",
                        Outcome::Fail => "fail",
                        Outcome::NotChecked => "not_checked",
                    }
                    .into(),
                    message: r.message,
                })
                .collect(),
        }
    }
}

/// Validates a candidate beneficiary for one of your schemes against the base data, online:
/// found or not (with the resident's reference key and the match probability), the
/// enrolments it would conflict with, and the scheme's eligibility rules. Audited.
#[utoipa::path(
    post, path = "/v1/validate", tag = "matching", security(("bearer" = [])),
    request_body = ValidateRequest,
    responses(
        (status = 200, body = ValidateResponse),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn validate(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiJson(body): ApiJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, ApiError> {
    let candidate = Candidate {
        dataset: body.dataset,
        id_number: body.id_number,
        ref_key: body.ref_key,
        name: body.name,
        relative_name: body.relative_name,
        dob: body.dob,
        gender: body.gender,
        village_code: body.village_code,
        pincode: body.pincode,
    };
    let validation = state.hub.validate_candidate(&candidate, &user).await?;
    Ok(Json(validation.into()))
}
