//! The data APIs for consuming applications, under `/v1/share/`. Each passes the gate with
//! its operation's scope; see `sangam_hub::sharing::consumer` for what each serves.

use axum::Json;
use axum::extract::{Path, State};
use sangam_hub::sharing::consumer::{EnrolmentQueued, EnrolmentRequest, SearchQuery};
use sangam_hub::sharing::reports::Usage;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::Consumer;
use crate::auth::scope::*;
use crate::problem::{ApiError, ApiJson, ApiQuery};
use crate::state::AppState;

/// A lookup by ID number: in the body, so the number is in no URL or log.
#[derive(Deserialize, ToSchema)]
pub struct IdNumberLookup {
    pub id_number: String,
}

impl std::fmt::Debug for IdNumberLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdNumberLookup").finish_non_exhaustive()
    }
}

/// A resident by the reference key of their ID number.
#[utoipa::path(
    get, path = "/v1/share/residents/{ref_key}", tag = "sharing", security(("bearer" = [])),
    params(
        ("ref_key" = String, Path),
        ("X-Purpose" = Option<String>, Header, description = "A purpose the agreement approved")
    ),
    responses(
        (status = 200, body = Object, description = "the resident: `resident_id`, `ref_key` (if any) and the fields approved for the purpose, nothing else"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 429, body = crate::problem::Problem)
    )
)]
pub async fn resident(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<ResidentsRead>,
    Path(ref_key): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(state.hub.consumer_resident(&caller, &ref_key).await?))
}

/// A resident by ID number, looked up through the blind index; the number is not echoed.
#[utoipa::path(
    post, path = "/v1/share/residents/lookup", tag = "sharing", security(("bearer" = [])),
    request_body = IdNumberLookup,
    responses(
        (status = 200, body = Object, description = "the resident: `resident_id`, `ref_key` (if any) and the fields approved for the purpose, nothing else"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<ResidentsRead>,
    ApiJson(body): ApiJson<IdNumberLookup>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(
        state
            .hub
            .consumer_resident_by_id_number(&caller, &body.id_number)
            .await?,
    ))
}

/// A household by ration card number: its members.
#[utoipa::path(
    get, path = "/v1/share/households/{card_number}", tag = "sharing", security(("bearer" = [])),
    params(("card_number" = String, Path)),
    responses(
        (status = 200, body = Object),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn household(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<HouseholdsRead>,
    Path(card_number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state.hub.consumer_household(&caller, &card_number).await?,
    ))
}

/// A resident's 360-degree view: their fields and scheme enrolments, as approved.
#[utoipa::path(
    get, path = "/v1/share/residents/{ref_key}/profile", tag = "sharing", security(("bearer" = [])),
    params(("ref_key" = String, Path)),
    responses(
        (status = 200, body = Object, description = "the resident: `resident_id`, `ref_key` (if any) and the fields approved for the purpose, nothing else"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn profile(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<ResidentsProfile>,
    Path(ref_key): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(state.hub.consumer_profile(&caller, &ref_key).await?))
}

/// A resident's eKYC status (and life status), if the purpose sees them.
#[utoipa::path(
    get, path = "/v1/share/residents/{ref_key}/ekyc", tag = "sharing", security(("bearer" = [])),
    params(("ref_key" = String, Path)),
    responses(
        (status = 200, body = Object, description = "the resident: `resident_id`, `ref_key` (if any) and the fields approved for the purpose, nothing else"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn ekyc(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<EkycRead>,
    Path(ref_key): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(state.hub.consumer_ekyc(&caller, &ref_key).await?))
}

/// Residents like the given name, date of birth and village, best first, at most 10.
#[utoipa::path(
    get, path = "/v1/share/search", tag = "sharing", security(("bearer" = [])),
    params(
        ("name" = String, Query),
        ("dob" = Option<String>, Query),
        ("village" = Option<String>, Query),
        ("limit" = Option<usize>, Query)
    ),
    responses(
        (status = 200, body = Vec<Object>, description = "residents, each as in a lookup"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn search(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<ResidentsSearch>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<Map<String, Value>>>, ApiError> {
    Ok(Json(state.hub.consumer_search(&caller, &query).await?))
}

/// Asks the hub to enrol a resident missing from it; queued for verification.
#[utoipa::path(
    post, path = "/v1/share/resident-requests", tag = "sharing", security(("bearer" = [])),
    request_body = EnrolmentRequest,
    responses(
        (status = 202, body = EnrolmentQueued),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<ResidentsEnrol>,
    ApiJson(body): ApiJson<EnrolmentRequest>,
) -> Result<(axum::http::StatusCode, Json<EnrolmentQueued>), ApiError> {
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(state.hub.consumer_enrol(&caller, &body).await?),
    ))
}

/// The calling application's own usage against its quotas.
#[utoipa::path(
    get, path = "/v1/share/usage", tag = "sharing", security(("bearer" = [])),
    responses(
        (status = 200, body = Usage),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem)
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    Consumer(caller, _): Consumer<AnyScope>,
) -> Result<Json<Usage>, ApiError> {
    Ok(Json(
        state.hub.application_usage(&caller.application.id).await?,
    ))
}

/// The resident lookup of [`resident`] with no authentication, policy or access log, for
/// `sangam bench-share`'s baseline; mounted only when the server is started for it
/// (`ServerOptions::benchmark_baseline`), and not part of the API.
pub async fn baseline(
    State(state): State<AppState>,
    axum::Extension(fields): axum::Extension<std::sync::Arc<Vec<String>>>,
    Path(ref_key): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(
        state
            .hub
            .resident_projection_unguarded(&ref_key, &fields)
            .await?,
    ))
}
