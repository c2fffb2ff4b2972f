//! Linking scheme records to residents: where a dataset's records stand, the not-found
//! report, sending not-found records to be linked again, and the clerical review queue.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use sangam_hub::HubError;
use sangam_hub::linking::reports::LinkCounts;
use sangam_store::{MatchReview, ReviewStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::SignedIn;
use crate::problem::{ApiError, ApiJson, ApiQuery};
use crate::routes::download::{CSV, attachment};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkCountsView {
    pub dataset: String,
    /// Waiting for the link job.
    pub pending: u64,
    pub linked: u64,
    /// Waiting for a reviewer.
    pub review: u64,
    /// Not found in the base data.
    pub not_found: u64,
}

impl From<LinkCounts> for LinkCountsView {
    fn from(c: LinkCounts) -> Self {
        LinkCountsView {
            dataset: c.dataset,
            pending: c.pending,
            linked: c.linked,
            review: c.review,
            not_found: c.not_found,
        }
    }
}

/// How many of a scheme's active records are linked to residents, waiting for review, not
/// found in the base data, or still waiting for the link job.
#[utoipa::path(
    get, path = "/v1/datasets/{name}/links", tag = "matching", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses(
        (status = 200, body = LinkCountsView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn counts(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<Json<LinkCountsView>, ApiError> {
    Ok(Json(state.hub.link_counts(&name, &user).await?.into()))
}

/// The scheme's records not found in the base data, as CSV: record key, the upload that
/// last sent it, and the record's plain fields, for the department to check.
#[utoipa::path(
    get, path = "/v1/datasets/{name}/not-found", tag = "matching", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "the report", content_type = "text/csv"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn not_found(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = state.hub.not_found_report_csv(&name, &user).await?;
    Ok(attachment(bytes, CSV, &format!("{name}-not-found.csv")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelinkView {
    /// Records sent back to be linked.
    pub records: u64,
}

/// Sends the scheme's not-found records back to be linked again (after the base registry
/// grew, for example); the link job runs in the background.
#[utoipa::path(
    post, path = "/v1/datasets/{name}/relink", tag = "matching", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses(
        (status = 202, body = RelinkView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn relink(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<(axum::http::StatusCode, Json<RelinkView>), ApiError> {
    let records = state.hub.relink_not_found(&name, &user).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(RelinkView { records }),
    ))
}

/// One candidate pair in the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: String,
    pub dataset: String,
    /// The department's record key.
    pub record_key: String,
    /// The candidate resident.
    pub resident_id: String,
    /// The model's match probability.
    pub probability: f64,
    /// `pending`, `accepted`, `rejected` or `superseded`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Each field's comparison level, m, u and weight, and the running total (a waterfall);
    /// ID numbers appear only as masked reference keys.
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
}

impl From<MatchReview> for ReviewView {
    fn from(r: MatchReview) -> Self {
        ReviewView {
            id: r.id,
            dataset: r.dataset,
            record_key: r.record_key,
            resident_id: r.resident_id,
            probability: r.probability,
            status: r.status.code().to_owned(),
            created_at: r.created_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            explanation: r.explanation,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReviewFilter {
    /// The scheme's dataset (required for nodal officers).
    pub dataset: Option<String>,
    /// `pending` (default), `accepted`, `rejected`, `superseded` or `all`.
    pub status: Option<String>,
    /// The last id of the previous page.
    pub after: Option<String>,
    #[param(default = 100, minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The review queue, oldest first.
#[utoipa::path(
    get, path = "/v1/reviews", tag = "matching", security(("bearer" = [])),
    params(ReviewFilter),
    responses(
        (status = 200, body = Vec<ReviewView>),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiQuery(filter): ApiQuery<ReviewFilter>,
) -> Result<Json<Vec<ReviewView>>, ApiError> {
    let status = match filter.status.as_deref().unwrap_or("pending") {
        "all" => None,
        code => Some(ReviewStatus::from_code(code).ok_or_else(|| {
            ApiError::from(HubError::Invalid {
                field: "status".into(),
                code: "status.unknown",
                message: format!(
                    "status is pending, accepted, rejected, superseded or all, not {code:?}"
                ),
            })
        })?),
    };
    let reviews = state
        .hub
        .match_reviews(
            &user,
            filter.dataset.as_deref(),
            status,
            filter.after.as_deref(),
            filter.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(reviews.into_iter().map(ReviewView::from).collect()))
}

/// One pair with the model's explanation.
#[utoipa::path(
    get, path = "/v1/reviews/{id}", tag = "matching", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ReviewView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn get(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<ReviewView>, ApiError> {
    Ok(Json(state.hub.match_review(&id, &user).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `true`: the record and the resident are the same person (the record is linked);
    /// `false`: they are not.
    pub same_person: bool,
}

/// Decides a pending pair. Accepting links the record and closes its other candidates;
/// rejecting the last open candidate reports the record not found. Decisions train the next
/// model.
#[utoipa::path(
    post, path = "/v1/reviews/{id}/decision", tag = "matching", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = DecisionRequest,
    responses(
        (status = 200, body = ReviewView),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> Result<Json<ReviewView>, ApiError> {
    Ok(Json(
        state
            .hub
            .decide_match_review(&id, body.same_person, &user)
            .await?
            .into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExplainQuery {
    /// The resident to compare the record with.
    pub resident_id: String,
}

/// The model's explanation for a scheme record and any resident: each field's comparison
/// level, m, u and weight, and the running total, ending in the match probability. Audited.
#[utoipa::path(
    get, path = "/v1/datasets/{name}/records/{record_key}/explain", tag = "matching",
    security(("bearer" = [])),
    params(("name" = String, Path), ("record_key" = String, Path), ExplainQuery),
    responses(
        (status = 200, description = "the waterfall", body = Object),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn explain(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((name, record_key)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ExplainQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let explanation = state
        .hub
        .explain_pair(&name, &record_key, &query.resident_id, &user)
        .await?;
    Ok(Json(serde_json::to_value(explanation).map_err(|e| {
        ApiError::from(HubError::Internal(e.to_string()))
    })?))
}
