//! Conflict reports: a scheme's (JSON page by page, or the whole report as CSV streamed as it
//! is read) and a resident's across schemes. The hub decides who may read which and audits
//! every read; a conflict carries dataset names, record keys, resident ids and reference
//! keys, never an ID, phone or bank number.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use sangam_domain::RefKey;
use sangam_hub::conflicts::{Conflict, ConflictCsv, ConflictRecord, ConflictReport};
use sangam_hub::{Hub, HubError};
use sangam_store::User;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::SignedIn;
use crate::problem::{ApiError, ApiQuery};
use crate::routes::download::{CSV, attachment};
use crate::state::AppState;

/// The most conflicts one JSON page asks for.
const MAX_LIMIT: u32 = 10_000;

/// One enrolment a conflict involves.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictRecordView {
    pub dataset: String,
    /// The department's record key.
    pub record_key: String,
    pub resident_id: String,
    /// The reference key of the resident's ID number, if the registry has one.
    pub ref_key: Option<String>,
}

impl From<ConflictRecord> for ConflictRecordView {
    fn from(r: ConflictRecord) -> Self {
        ConflictRecordView {
            dataset: r.dataset,
            record_key: r.record_key,
            resident_id: r.resident_id,
            ref_key: r.ref_key,
        }
    }
}

/// One conflict.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictView {
    /// `duplicate_in_scheme`, `household_limit`, `mutually_exclusive`, `ineligible` or
    /// `deceased`.
    pub kind: String,
    /// The dataset the conflict is seen from.
    pub dataset: String,
    /// For `mutually_exclusive`: the other dataset.
    pub other_dataset: Option<String>,
    pub records: Vec<ConflictRecordView>,
    /// For `household_limit`: the ration card number.
    pub card_number: Option<String>,
    /// For `ineligible`: the failing rule's name.
    pub rule: Option<String>,
    pub message: String,
}

impl From<Conflict> for ConflictView {
    fn from(c: Conflict) -> Self {
        ConflictView {
            kind: c.kind.code().to_owned(),
            dataset: c.dataset,
            other_dataset: c.other_dataset,
            records: c.records.into_iter().map(Into::into).collect(),
            card_number: c.card_number,
            rule: c.rule,
            message: c.message,
        }
    }
}

/// A page of a scheme's conflict report.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetConflictsView {
    pub dataset: String,
    /// Datasets that exclude this one or that it excludes (either spec may name the other).
    pub exclusive_with: Vec<String>,
    /// Names in this dataset's `exclusive_with` that are not datasets (not declared yet, or
    /// misspelt): nothing can conflict with them.
    pub unknown_exclusive_with: Vec<String>,
    pub conflicts: Vec<ConflictView>,
    /// Pass as `after` for the next page; absent when the report is complete.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ConflictQuery {
    /// `json` (default) or `csv` (the whole report, one row per enrolment of a conflict).
    pub format: Option<String>,
    /// JSON only: the `next` of the previous page.
    pub after: Option<String>,
    /// JSON only: about how many conflicts a page holds (1 to 10000, default 1000). A page
    /// ends at the end of a store read, so it may hold a few more; after a long stretch
    /// without conflicts it may hold fewer, even none: follow `next` until it is absent.
    pub limit: Option<u32>,
}

async fn open(
    hub: &Hub,
    user: &User,
    name: &str,
    after: Option<&str>,
) -> Result<ConflictReport, ApiError> {
    Ok(match after {
        Some(cursor) => hub.dataset_conflicts_after(user, name, cursor).await?,
        None => hub.dataset_conflicts(user, name).await?,
    })
}

/// A scheme's conflicts: residents enrolled twice, households over a one-per-household
/// limit, residents in schemes that exclude each other, eligibility rules failing on the
/// registry's data, deceased residents. For the dataset's organisation and administrators;
/// audited.
#[utoipa::path(
    get, path = "/v1/datasets/{name}/conflicts", tag = "conflicts", security(("bearer" = [])),
    params(("name" = String, Path), ConflictQuery),
    responses(
        (status = 200, body = DatasetConflictsView, description = "JSON, or CSV with format=csv"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn dataset(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ConflictQuery>,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => {
            return Err(ApiError::from(HubError::Invalid {
                field: "format".into(),
                code: "format.unknown",
                message: format!("the conflict report comes as `json` or `csv`, not {other:?}"),
            }));
        }
    };
    let limit = query.limit.unwrap_or(1000);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::from(HubError::Invalid {
            field: "limit".into(),
            code: "limit.range",
            message: format!("must be between 1 and {MAX_LIMIT}"),
        }));
    }
    if csv {
        if query.after.is_some() {
            return Err(ApiError::from(HubError::Invalid {
                field: "after".into(),
                code: "after.csv",
                message: "the CSV report is always whole; `after` pages the JSON form".into(),
            }));
        }
        let report = open(&state.hub, &user, &name, None).await?;
        return csv_response(report, &name);
    }
    // Reading `limit` groups or records per store query keeps a page close to its limit.
    let mut report = open(&state.hub, &user, &name, query.after.as_deref())
        .await?
        .with_page_size(limit);
    let conflicts = report.collect(limit as usize).await?;
    Ok(Json(DatasetConflictsView {
        dataset: name,
        exclusive_with: report.exclusive_with().to_vec(),
        unknown_exclusive_with: report.unknown_exclusive_with().to_vec(),
        conflicts: conflicts.into_iter().map(Into::into).collect(),
        next: report.cursor(),
    })
    .into_response())
}

/// The whole report as CSV, written page by page as the hub reads it. A store failure
/// midway cuts the response short (the status is sent already); it is logged.
fn csv_response(report: ConflictReport, name: &str) -> Result<Response, ApiError> {
    let writer = ConflictCsv::new()?;
    let stream = futures_util::stream::unfold(Some((report, writer, true)), |state| async move {
        let (mut report, mut writer, first) = state?;
        match report.next_page().await {
            Ok(Some(page)) => match writer.write(&page) {
                Ok(bytes) => Some((Ok(Bytes::from(bytes)), Some((report, writer, false)))),
                Err(e) => Some((Err(stream_error(e)), None)),
            },
            // An empty report is its header alone.
            Ok(None) if first => match writer.write(&[]) {
                Ok(bytes) => Some((Ok(Bytes::from(bytes)), None)),
                Err(e) => Some((Err(stream_error(e)), None)),
            },
            Ok(None) => None,
            Err(e) => Some((Err(stream_error(e)), None)),
        }
    });
    Ok(attachment(
        Body::from_stream(stream),
        CSV,
        &format!("{name}-conflicts.csv"),
    ))
}

fn stream_error(e: HubError) -> std::io::Error {
    tracing::error!(error = %e, "the conflict report stopped midway");
    std::io::Error::other("the conflict report stopped midway")
}

/// A resident's conflicts across schemes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentConflictsView {
    pub resident_id: String,
    pub conflicts: Vec<ConflictView>,
}

async fn resident_view(
    hub: &Hub,
    user: &User,
    resident_id: String,
) -> Result<Json<ResidentConflictsView>, ApiError> {
    let conflicts = hub.resident_conflicts(user, &resident_id).await?;
    Ok(Json(ResidentConflictsView {
        resident_id,
        conflicts: conflicts.into_iter().map(Into::into).collect(),
    }))
}

/// Every conflict a resident is in, across schemes. Administrators see all; a nodal officer
/// those involving their organisation's datasets, for residents enrolled in one. Audited.
#[utoipa::path(
    get, path = "/v1/residents/{resident_id}/conflicts", tag = "conflicts", security(("bearer" = [])),
    params(("resident_id" = String, Path)),
    responses(
        (status = 200, body = ResidentConflictsView),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem)
    )
)]
pub async fn resident(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(resident_id): Path<String>,
) -> Result<Json<ResidentConflictsView>, ApiError> {
    resident_view(&state.hub, &user, resident_id).await
}

/// The same, for the resident holding a reference key.
#[utoipa::path(
    get, path = "/v1/residents/by-ref-key/{ref_key}/conflicts", tag = "conflicts",
    security(("bearer" = [])),
    params(("ref_key" = String, Path, description = "Reference key (22 URL-safe characters)")),
    responses(
        (status = 200, body = ResidentConflictsView),
        (status = 401, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn resident_by_ref_key(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(ref_key): Path<String>,
) -> Result<Json<ResidentConflictsView>, ApiError> {
    let ref_key = RefKey::parse(&ref_key).map_err(|e| ApiError::invalid("ref_key", e))?;
    // Officers must not learn who holds a key they have no enrolment of: the hub answers
    // "not found" for both.
    let resident = match state.hub.resident_by_ref_key(&ref_key).await {
        Ok(r) => r,
        Err(HubError::NotFound(_)) => {
            return Err(ApiError::not_found(
                "no resident with this reference key among those you may see",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    resident_view(&state.hub, &user, resident.resident_id).await
}
