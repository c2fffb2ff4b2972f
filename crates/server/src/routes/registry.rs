//! The base registry: households by ration card, residents by id or reference key.
//!
//! Responses are API representations, not store records: the registry holds no ID number,
//! only its reference key, and mobile numbers only masked.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use sangam_domain::{
    DateOfBirth, EkycStatus, Gender, LifeStatus, MobileNumber, PersonName, RationCardNumber,
    RefKey, Relationship,
};
use sangam_hub::registry::{HouseholdView, ResidentPatch};
use sangam_store::{HistoryEntry, Household, RegistryCounts, Resident};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::problem::{ApiError, ApiJson};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub house_no: Option<String>,
    pub street: Option<String>,
    pub locality: Option<String>,
    pub pincode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdResponse {
    pub card_number: String,
    /// AAY, PHH, NPHH or a state's own type.
    pub card_type: String,
    pub address: AddressView,
    /// LGD village code.
    pub village_code: u32,
    pub head_resident_id: Option<String>,
    pub members: Vec<ResidentResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentResponse {
    pub resident_id: String,
    pub card_number: String,
    pub name: String,
    pub relative_name: Option<String>,
    /// F, M or T.
    pub gender: String,
    /// `YYYY-MM-DD`, `YYYY`, or `age:N@YYYY-MM-DD` for a declared age.
    pub dob: String,
    pub relationship: String,
    /// Masked, e.g. `XXXXXX3210`.
    pub mobile: Option<String>,
    /// Reference key of the person's ID number; the number itself never leaves the vault here.
    pub id_ref_key: Option<String>,
    pub ekyc_status: String,
    pub life_status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<&Resident> for ResidentResponse {
    fn from(r: &Resident) -> Self {
        ResidentResponse {
            resident_id: r.resident_id.clone(),
            card_number: r.card_number.as_str().to_owned(),
            name: r.name.as_str().to_owned(),
            relative_name: r.relative_name.as_ref().map(|n| n.as_str().to_owned()),
            gender: r.gender.code().to_owned(),
            dob: r.dob.to_storage(),
            relationship: r.relationship.code().to_owned(),
            mobile: r.mobile_masked.clone(),
            id_ref_key: r.id_ref_key.as_ref().map(|k| k.as_str().to_owned()),
            ekyc_status: r.ekyc_status.code().to_owned(),
            life_status: r.life_status.code().to_owned(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

fn household_response(h: &Household, members: &[Resident]) -> HouseholdResponse {
    HouseholdResponse {
        card_number: h.card_number.as_str().to_owned(),
        card_type: h.card_type.code().to_owned(),
        address: AddressView {
            house_no: h.address.house_no.clone(),
            street: h.address.street.clone(),
            locality: h.address.locality.clone(),
            pincode: h.address.pincode.clone(),
        },
        village_code: h.village_code.get(),
        head_resident_id: h.head_resident_id.clone(),
        members: members.iter().map(ResidentResponse::from).collect(),
        created_at: h.created_at,
        updated_at: h.updated_at,
        version: h.version,
    }
}

/// A household and its members, by ration card number.
#[utoipa::path(
    get, path = "/v1/households/{card_number}", tag = "registry", security(("bearer" = [])),
    params(("card_number" = String, Path, description = "Ration card number (letters and digits)")),
    responses(
        (status = 200, body = HouseholdResponse),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn household(
    State(state): State<AppState>,
    _admin: Admin,
    Path(card_number): Path<String>,
) -> Result<Json<HouseholdResponse>, ApiError> {
    let card =
        RationCardNumber::parse(&card_number).map_err(|e| ApiError::invalid("card_number", e))?;
    let HouseholdView { household, members } = state.hub.household(&card).await?;
    Ok(Json(household_response(&household, &members)))
}

/// A resident by the hub's resident id.
#[utoipa::path(
    get, path = "/v1/residents/{resident_id}", tag = "registry", security(("bearer" = [])),
    params(("resident_id" = String, Path)),
    responses(
        (status = 200, body = ResidentResponse),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn resident(
    State(state): State<AppState>,
    _admin: Admin,
    Path(resident_id): Path<String>,
) -> Result<Json<ResidentResponse>, ApiError> {
    Ok(Json(ResidentResponse::from(
        &state.hub.resident(&resident_id).await?,
    )))
}

/// A resident by the reference key of their ID number.
#[utoipa::path(
    get, path = "/v1/residents/by-ref-key/{ref_key}", tag = "registry", security(("bearer" = [])),
    params(("ref_key" = String, Path, description = "Reference key (22 URL-safe characters)")),
    responses(
        (status = 200, body = ResidentResponse),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn resident_by_ref_key(
    State(state): State<AppState>,
    _admin: Admin,
    Path(ref_key): Path<String>,
) -> Result<Json<ResidentResponse>, ApiError> {
    let ref_key = RefKey::parse(&ref_key).map_err(|e| ApiError::invalid("ref_key", e))?;
    Ok(Json(ResidentResponse::from(
        &state.hub.resident_by_ref_key(&ref_key).await?,
    )))
}

/// A change to a resident's record. Absent fields stay as they are; `null` clears an
/// optional field.
#[derive(Deserialize, ToSchema)]
pub struct ResidentChange {
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub relative_name: Option<Option<String>>,
    pub gender: Option<String>,
    /// DD-MM-YYYY, DD/MM/YYYY, YYYY-MM-DD, YYYY, or an age.
    pub dob: Option<String>,
    pub relationship: Option<String>,
    /// Ten digits; stored only masked and as a keyed index.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    pub ekyc_status: Option<String>,
    pub life_status: Option<String>,
    /// Why the record changes; kept in the history.
    pub reason: Option<String>,
}

impl std::fmt::Debug for ResidentChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentChange").finish_non_exhaustive()
    }
}

/// Distinguishes an absent field (no change) from `null` (clear it).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

fn field<T>(
    name: &str,
    value: Option<String>,
    parse: impl Fn(&str) -> Result<T, sangam_domain::ValidationError>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| parse(&v).map_err(|e| ApiError::invalid(name, e)))
        .transpose()
}

fn optional_field<T>(
    name: &str,
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, sangam_domain::ValidationError>,
) -> Result<Option<Option<T>>, ApiError> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(v)) => parse(&v)
            .map(|t| Some(Some(t)))
            .map_err(|e| ApiError::invalid(name, e)),
    }
}

/// Changes a resident's record; every changed field goes into the history and the change
/// into the audit log.
#[utoipa::path(
    patch, path = "/v1/residents/{resident_id}", tag = "registry", security(("bearer" = [])),
    params(("resident_id" = String, Path)), request_body = ResidentChange,
    responses(
        (status = 200, body = ResidentResponse),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn update_resident(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(resident_id): Path<String>,
    ApiJson(change): ApiJson<ResidentChange>,
) -> Result<Json<ResidentResponse>, ApiError> {
    let today: NaiveDate = state.hub.now().date_naive();
    let patch = ResidentPatch {
        name: field("name", change.name, PersonName::parse)?,
        relative_name: optional_field("relative_name", change.relative_name, PersonName::parse)?,
        gender: field("gender", change.gender, Gender::parse)?,
        dob: field("dob", change.dob, |s| DateOfBirth::parse(s, today))?,
        relationship: field("relationship", change.relationship, Relationship::parse)?,
        mobile: optional_field("mobile", change.mobile, MobileNumber::parse)?,
        ekyc_status: field("ekyc_status", change.ekyc_status, EkycStatus::parse)?,
        life_status: field("life_status", change.life_status, LifeStatus::parse)?,
    };
    let updated = state
        .hub
        .update_resident(&resident_id, patch, &admin.username, change.reason)
        .await?;
    Ok(Json(ResidentResponse::from(&updated)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<HistoryEntry> for HistoryItem {
    fn from(h: HistoryEntry) -> Self {
        HistoryItem {
            field: h.field,
            old_value: h.old_value,
            new_value: h.new_value,
            actor: h.actor,
            reason: h.reason,
            at: h.at,
        }
    }
}

/// Every change of a resident's record: who, when, which field, old and new value.
#[utoipa::path(
    get, path = "/v1/residents/{resident_id}/history", tag = "registry", security(("bearer" = [])),
    params(("resident_id" = String, Path)),
    responses(
        (status = 200, body = Vec<HistoryItem>),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn resident_history(
    State(state): State<AppState>,
    _admin: Admin,
    Path(resident_id): Path<String>,
) -> Result<Json<Vec<HistoryItem>>, ApiError> {
    let history = state.hub.resident_history(&resident_id).await?;
    Ok(Json(history.into_iter().map(HistoryItem::from).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountsResponse {
    pub households: u64,
    pub residents: u64,
    pub residents_with_id_number: u64,
    pub vault_entries: u64,
}

impl From<RegistryCounts> for CountsResponse {
    fn from(c: RegistryCounts) -> Self {
        CountsResponse {
            households: c.households,
            residents: c.residents,
            residents_with_id_number: c.residents_with_id_number,
            vault_entries: c.vault_entries,
        }
    }
}

/// How many households, residents and vault entries the registry holds.
#[utoipa::path(
    get, path = "/v1/registry/counts", tag = "registry", security(("bearer" = [])),
    responses((status = 200, body = CountsResponse), (status = 401, body = crate::problem::Problem))
)]
pub async fn counts(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<CountsResponse>, ApiError> {
    Ok(Json(state.hub.registry_counts().await?.into()))
}
