//! Datasets: the built-in base registry and the schemes' beneficiary lists with their
//! versioned data specs, and the data updation policy (which datasets are overdue).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use sangam_hub::datasets::{DatasetWithSpec, Freshness, SpecFormat};
use sangam_store::Dataset;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::SignedIn;
use crate::problem::{ApiError, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetView {
    pub name: String,
    pub title: String,
    /// The organisation whose nodal officers upload it.
    pub organisation: String,
    pub current_version: u32,
    /// Expected days between uploads (the data updation policy).
    pub update_frequency_days: Option<u32>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Dataset> for DatasetView {
    fn from(d: Dataset) -> Self {
        DatasetView {
            name: d.name,
            title: d.title,
            organisation: d.organisation,
            current_version: d.current_version,
            update_frequency_days: d.update_frequency_days,
            created_by: d.created_by,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetWithSpecView {
    pub dataset: DatasetView,
    /// The current spec, as JSON (the same shape as the TOML form).
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
}

fn with_spec(d: DatasetWithSpec) -> Result<DatasetWithSpecView, ApiError> {
    let spec = serde_json::to_value(&d.spec)
        .map_err(|e| ApiError::from(sangam_hub::HubError::Internal(e.to_string())))?;
    Ok(DatasetWithSpecView {
        dataset: d.dataset.into(),
        spec,
    })
}

/// Every dataset, the base registry first.
#[utoipa::path(
    get, path = "/v1/datasets", tag = "datasets", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<DatasetView>),
        (status = 401, body = crate::problem::Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _user: SignedIn,
) -> Result<Json<Vec<DatasetView>>, ApiError> {
    let all = state.hub.datasets().await?;
    Ok(Json(all.into_iter().map(DatasetView::from).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CreateParams {
    /// The organisation that will upload it (a nodal officer's own by default).
    pub organisation: Option<String>,
}

/// Declares a scheme's dataset with its first data spec (TOML or JSON in the body; see
/// `sangam` docs for a commented example). Administrators declare datasets for any
/// organisation; a nodal officer for their own.
#[utoipa::path(
    post, path = "/v1/datasets", tag = "datasets", security(("bearer" = [])), params(CreateParams),
    request_body(content = String, description = "the data spec, TOML or JSON", content_type = "application/toml"),
    responses(
        (status = 201, body = DatasetWithSpecView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiQuery(params): ApiQuery<CreateParams>,
    body: String,
) -> Result<(StatusCode, Json<DatasetWithSpecView>), ApiError> {
    let organisation = params
        .organisation
        .or_else(|| user.organisation.clone())
        .ok_or_else(|| {
            ApiError::from(sangam_hub::HubError::Invalid {
                field: "organisation".into(),
                code: "field.missing",
                message: "name the organisation that will upload this dataset".into(),
            })
        })?;
    let created = state
        .hub
        .create_dataset(&body, SpecFormat::sniff(&body), &organisation, &user)
        .await?;
    Ok((StatusCode::CREATED, Json(with_spec(created)?)))
}

/// A dataset and its current spec.
#[utoipa::path(
    get, path = "/v1/datasets/{name}", tag = "datasets", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses(
        (status = 200, body = DatasetWithSpecView),
        (status = 401, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _user: SignedIn,
    Path(name): Path<String>,
) -> Result<Json<DatasetWithSpecView>, ApiError> {
    Ok(Json(with_spec(state.hub.dataset(&name).await?)?))
}

/// Makes a new version of a dataset's spec current (its `version` must be the next one).
/// Uploads validated before keep the version they were validated against.
#[utoipa::path(
    post, path = "/v1/datasets/{name}/specs", tag = "datasets", security(("bearer" = [])),
    params(("name" = String, Path)),
    request_body(content = String, description = "the data spec, TOML or JSON", content_type = "application/toml"),
    responses(
        (status = 201, body = DatasetWithSpecView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn add_spec(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<DatasetWithSpecView>), ApiError> {
    let changed = state
        .hub
        .add_dataset_spec(&name, &body, SpecFormat::sniff(&body), &user)
        .await?;
    Ok((StatusCode::CREATED, Json(with_spec(changed)?)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FreshnessView {
    pub dataset: String,
    pub organisation: String,
    pub update_frequency_days: u32,
    pub last_upload_id: Option<String>,
    pub last_upload_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub overdue: bool,
    pub days_overdue: i64,
}

impl From<Freshness> for FreshnessView {
    fn from(f: Freshness) -> Self {
        FreshnessView {
            dataset: f.dataset,
            organisation: f.organisation,
            update_frequency_days: f.update_frequency_days,
            last_upload_id: f.last_upload_id,
            last_upload_at: f.last_upload_at,
            due_at: f.due_at,
            overdue: f.overdue,
            days_overdue: f.days_overdue,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OverdueQuery {
    /// Also list the datasets that are not overdue (default: only overdue ones).
    #[serde(default)]
    pub all: bool,
}

/// The data updation policy: datasets whose organisation has not uploaded them within their
/// expected update frequency, most overdue first.
#[utoipa::path(
    get, path = "/v1/datasets/overdue", tag = "datasets", security(("bearer" = [])),
    params(OverdueQuery),
    responses(
        (status = 200, body = Vec<FreshnessView>),
        (status = 401, body = crate::problem::Problem)
    )
)]
pub async fn overdue(
    State(state): State<AppState>,
    _user: SignedIn,
    ApiQuery(query): ApiQuery<OverdueQuery>,
) -> Result<Json<Vec<FreshnessView>>, ApiError> {
    let list = state.hub.dataset_freshness().await?;
    Ok(Json(
        list.into_iter()
            .filter(|f| query.all || f.overdue)
            .map(FreshnessView::from)
            .collect(),
    ))
}
