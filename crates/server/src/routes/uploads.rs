//! Uploads (batches) of department data: sending a file, what became of it (how many rows
//! were accepted and rejected, and why), and, for the uploading organisation only, the
//! rejected rows to fix and the reference-key mapping of the accepted ones.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sangam_hub::uploads::reports::{
    DiscardRejections, MappingPages, ReportFormat, mapping_csv_page,
};
use sangam_hub::uploads::{Prepared, UploadMode, UploadOutcome, UploadRequest};
use sangam_store::{Role, UploadRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::SignedIn;
use crate::problem::{ApiError, ApiQuery};
use crate::routes::download::{CSV, XLSX, attachment};
use crate::spool;
use crate::state::AppState;

/// The largest file one upload may send (8 GiB): more than any department's list, small
/// enough that a mistaken upload of a disk image is refused.
pub const MAX_UPLOAD_BYTES: u64 = 8 << 30;

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
    /// When the rejected rows were removed under the hub's retention policy (the counts
    /// stay; the rejection report is gone from then on).
    pub rejections_purged_at: Option<DateTime<Utc>>,
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
            rejections_purged_at: u.rejections_purged_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadFilter {
    /// Only this organisation's uploads (a nodal officer always sees only their own).
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
    SignedIn(user): SignedIn,
    ApiQuery(filter): ApiQuery<UploadFilter>,
) -> Result<Json<Vec<UploadView>>, ApiError> {
    let organisation = match user.role {
        Role::Admin => filter.organisation,
        Role::NodalOfficer => user.organisation.clone(),
    };
    let uploads = state
        .hub
        .uploads(organisation.as_deref(), filter.limit)
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
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<UploadView>, ApiError> {
    Ok(Json(state.hub.upload_for(&id, &user).await?.into()))
}

/// How a file is described when it is sent as a raw body; a multipart form may carry the
/// same names as text fields instead.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct UploadParams {
    /// The dataset: `base` or a scheme's dataset name.
    pub dataset: Option<String>,
    /// `full` (default) or `incremental`.
    pub mode: Option<String>,
    /// With the file's checksum, makes the same upload load once only (the
    /// `Idempotency-Key` header works too).
    pub idempotency_key: Option<String>,
    /// The upload whose rejected rows this one corrects.
    pub corrects: Option<String>,
    /// For administrators uploading on a department's behalf (default: the dataset's owner).
    pub organisation: Option<String>,
    /// The file's name (its extension helps tell the format).
    pub file_name: Option<String>,
    /// The sheet of an XLSX file (default: the first).
    pub sheet: Option<String>,
    /// `true` lets a full upload of a scheme remove more than a fifth of the records the hub
    /// holds (default `false`: such an upload stops with `upload.removals_unconfirmed` and
    /// keeps nothing, in case the file is not whole).
    pub confirm_removals: Option<String>,
}

/// What an upload became.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResult {
    pub upload: UploadView,
    /// The same file with the same idempotency key was loaded before; nothing was done.
    pub already_loaded: bool,
    /// Columns of the file that the dataset's spec does not have (ignored).
    pub unknown_columns: Vec<String>,
    /// Where the rejected rows and the mapping can be fetched.
    pub rejections_csv: String,
    pub rejections_xlsx: String,
    pub mapping: String,
}

/// Whether the client asked not to wait for the load (`Prefer: respond-async`, RFC 7240).
fn prefers_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

/// A yes-or-no parameter: absent is no.
fn flag(spooled: &spool::Spooled, query: Option<String>, name: &str) -> Result<bool, ApiError> {
    let Some(value) = param(spooled, query, name) else {
        return Ok(false);
    };
    sangam_domain::parse_yes_no(&value).map_err(|e| {
        ApiError::from(sangam_hub::HubError::Invalid {
            field: name.into(),
            code: e.code,
            message: e.message,
        })
    })
}

fn param(spooled: &spool::Spooled, query: Option<String>, name: &str) -> Option<String> {
    spooled
        .fields
        .get(name)
        .cloned()
        .or(query)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Sends a file: a multipart form (a `file` part and text parts named as the query
/// parameters), or the file itself as the body with the query parameters. The upload is
/// validated and loaded before the answer comes back (201), unless the request says
/// `Prefer: respond-async`: then, once the file is received and its header checked, the
/// answer is 202 with the upload validating and its address in `Location`, where its status
/// and counts are read until it is committed or failed. Either way the load goes on if the
/// client stops waiting.
#[utoipa::path(
    post, path = "/v1/uploads", tag = "uploads", security(("bearer" = [])), params(UploadParams),
    request_body(content = Vec<u8>, description = "the file (CSV, XLSX or JSON Lines), or a multipart form", content_type = "application/octet-stream"),
    responses(
        (status = 201, body = UploadResult, description = "loaded"),
        (status = 202, body = UploadResult, description = "received and being loaded (`Prefer: respond-async`): follow `Location`"),
        (status = 200, body = UploadResult, description = "this file was loaded before"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem),
        (status = 413, body = crate::problem::Problem),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiQuery(query): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let spool_dir = std::env::temp_dir();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let spooled = if content_type.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(content_type).map_err(|e| {
            ApiError::bad_request(format!("the multipart form has no boundary: {e}"))
        })?;
        spool::multipart(body, boundary, &spool_dir, MAX_UPLOAD_BYTES).await?
    } else {
        spool::raw(body, &spool_dir, query.file_name.clone(), MAX_UPLOAD_BYTES).await?
    };
    let dataset = param(&spooled, query.dataset, "dataset").ok_or_else(|| {
        ApiError::from(sangam_hub::HubError::Invalid {
            field: "dataset".into(),
            code: "field.missing",
            message: "name the dataset: `base` or a scheme's dataset".into(),
        })
    })?;
    tracing::info!(bytes = spooled.bytes, dataset = %dataset, "upload received");
    let mode = match param(&spooled, query.mode, "mode") {
        Some(m) => UploadMode::parse(&m)?,
        None => UploadMode::Full,
    };
    let asked = param(&spooled, query.organisation, "organisation");
    // A nodal officer sends for their own organisation; an administrator for the one named,
    // or else the dataset's own (the hub decides that and checks the pairing).
    let organisation = match user.role {
        Role::Admin => asked,
        Role::NodalOfficer => {
            let own = user.organisation.clone().unwrap_or_default();
            if asked.as_ref().is_some_and(|a| *a != own) {
                return Err(ApiError::forbidden(format!(
                    "you upload for {own}, not for another organisation"
                )));
            }
            Some(own)
        }
    };
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| param(&spooled, query.idempotency_key, "idempotency_key"))
        .unwrap_or_else(|| "api".to_owned());
    if idempotency_key.len() > 200 {
        return Err(ApiError::bad_request(
            "the idempotency key is longer than 200 characters",
        ));
    }
    let file_name = spooled
        .file_name
        .clone()
        .or(query.file_name)
        .unwrap_or_else(|| "upload".to_owned());
    let sheet = param(&spooled, query.sheet, "sheet");
    let confirm_removals = flag(&spooled, query.confirm_removals, "confirm_removals")?;
    let path = spooled.file.to_path_buf();
    let source = tokio::task::spawn_blocking(move || {
        sangam_ingest::read::open_file(&path, sheet.as_deref())
    })
    .await
    .map_err(|e| ApiError::from(sangam_hub::HubError::Internal(e.to_string())))?
    .map_err(|e| {
        ApiError::from(sangam_hub::HubError::Invalid {
            field: "file".into(),
            code: "file.unreadable",
            message: e.to_string(),
        })
    })?
    .1;
    let request = UploadRequest {
        dataset,
        mode,
        organisation,
        uploaded_by: user.username.clone(),
        file_name,
        file_sha256: spooled.sha256.clone(),
        idempotency_key,
        corrects: param(&spooled, query.corrects, "corrects"),
        confirm_removals,
    };
    // The stored report is what the officer downloads; nothing else needs the rows here.
    let respond_async = prefers_async(&headers);
    // A file refused whole (its header, a retry of a load under way) is refused here, in the
    // answer, whichever way the client waits.
    let (status, already_loaded, unknown_columns, upload) =
        match state.hub.prepare_upload(request, source).await? {
            Prepared::AlreadyLoaded(upload) => (StatusCode::OK, true, Vec::new(), upload),
            Prepared::Ready(prepared) => {
                let received = prepared.upload().clone();
                let unknown_columns = prepared.unknown_columns().to_vec();
                // The rows load on a task of their own, so that a client that stops waiting
                // (a proxy's time limit, a closed laptop) does not stop a load under way: it
                // commits, and the officer finds it in the list.
                let hub = state.hub.clone();
                let load = tokio::spawn(async move {
                    // The spooled file is read until the load ends.
                    let _spooled = spooled;
                    hub.load_prepared(prepared, &mut DiscardRejections, &|_| {})
                        .await
                });
                if respond_async {
                    (StatusCode::ACCEPTED, false, unknown_columns, received)
                } else {
                    let outcome = load.await.map_err(|e| {
                        ApiError::from(sangam_hub::HubError::Internal(format!(
                            "the upload's load stopped: {e}"
                        )))
                    })??;
                    match outcome {
                        UploadOutcome::Loaded {
                            upload,
                            unknown_columns,
                        } => (StatusCode::CREATED, false, unknown_columns, upload),
                        UploadOutcome::AlreadyLoaded { upload } => {
                            (StatusCode::OK, true, Vec::new(), upload)
                        }
                    }
                }
            }
        };
    let base = format!("/v1/uploads/{}", upload.id);
    let mut response = (
        status,
        Json(UploadResult {
            rejections_csv: format!("{base}/rejections?format=csv"),
            rejections_xlsx: format!("{base}/rejections?format=xlsx"),
            mapping: format!("{base}/mapping"),
            upload: upload.into(),
            already_loaded,
            unknown_columns,
        }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&base) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if status == StatusCode::ACCEPTED {
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("respond-async"),
        );
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `csv` (default) or `xlsx` for rejections; `csv` (default) or `json` for the mapping.
    pub format: Option<String>,
}

/// The rejected rows of an upload, as the officer sent them, with `line`, `error_codes` and
/// `error_messages` added: fix them and upload the file again (with `corrects` naming this
/// upload). Only for nodal officers of the uploading organisation. The rows are kept for the
/// hub's retention period after the upload finished; after that the report is gone (410).
#[utoipa::path(
    get, path = "/v1/uploads/{id}/rejections", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path), ReportQuery),
    responses(
        (status = 200, description = "the report", content_type = "text/csv"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem),
        (status = 410, body = crate::problem::Problem, description = "the rows were removed under the retention policy"),
        (status = 422, body = crate::problem::Problem)
    )
)]
pub async fn rejections(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref().unwrap_or("csv") {
        "csv" => ReportFormat::Csv,
        "xlsx" => ReportFormat::Xlsx,
        other => {
            return Err(ApiError::from(sangam_hub::HubError::Invalid {
                field: "format".into(),
                code: "format.unknown",
                message: format!("the report comes as `csv` or `xlsx`, not {other:?}"),
            }));
        }
    };
    let bytes = state.hub.rejection_report(&id, format, &user).await?;
    Ok(match format {
        ReportFormat::Csv => attachment(bytes, CSV, &format!("{id}-rejected.csv")),
        ReportFormat::Xlsx => attachment(bytes, XLSX, &format!("{id}-rejected.xlsx")),
    })
}

/// One accepted row's reference key.
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingView {
    /// The department's record key (for the base registry, the ration card number).
    pub record_key: String,
    pub ref_key: Option<String>,
    /// The ID number masked (`XXXX XXXX 1234`).
    pub id_number_masked: Option<String>,
    pub resident_id: Option<String>,
    /// `added`, `modified`, `unchanged` or `deleted`.
    pub outcome: String,
}

/// The reference-key mapping of an upload's accepted rows: each record key with the
/// reference key that stands for its ID number from now on. Only for nodal officers of the
/// uploading organisation.
#[utoipa::path(
    get, path = "/v1/uploads/{id}/mapping", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path), ReportQuery),
    responses(
        (status = 200, body = Vec<MappingView>, description = "as JSON with format=json; CSV otherwise"),
        (status = 401, body = crate::problem::Problem),
        (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem)
    )
)]
pub async fn mapping(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let json = match query.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => {
            return Err(ApiError::from(sangam_hub::HubError::Invalid {
                field: "format".into(),
                code: "format.unknown",
                message: format!("the mapping comes as `csv` or `json`, not {other:?}"),
            }));
        }
    };
    let pages = state.hub.upload_mapping_pages(&id, &user).await?;
    // Sent a page at a time as it is read: a million-row mapping never sits in memory.
    let body = Body::from_stream(futures_util::stream::try_unfold(
        MappingStream {
            pages,
            json,
            written: 0,
            finished: false,
        },
        MappingStream::next_chunk,
    ));
    Ok(if json {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    } else {
        attachment(
            body,
            "text/csv; charset=utf-8",
            &format!("{id}-mapping.csv"),
        )
    })
}

/// Where a mapping response has got to.
struct MappingStream {
    pages: MappingPages,
    json: bool,
    /// Entries sent so far.
    written: u64,
    /// Whether the last piece (the JSON array's end) has gone.
    finished: bool,
}

impl MappingStream {
    /// The next piece of the response and the state after it; `None` at the end.
    async fn next_chunk(mut self) -> Result<Option<(Vec<u8>, Self)>, sangam_hub::HubError> {
        if self.finished {
            return Ok(None);
        }
        // The first page starts the file (the CSV's header, the array's `[`), even empty; an
        // empty first page is also the last, so `written` tells the first page apart.
        let first = self.written == 0;
        let Some(page) = self.pages.next_page().await? else {
            self.finished = true;
            return Ok(self.json.then(|| (b"]".to_vec(), self)));
        };
        let bytes = if self.json {
            let mut out = Vec::new();
            if first {
                out.push(b'[');
            }
            for (i, m) in page.into_iter().enumerate() {
                if !(first && i == 0) {
                    out.push(b',');
                }
                let view = MappingView {
                    record_key: m.record_key,
                    ref_key: m.ref_key.map(|k| k.as_str().to_owned()),
                    id_number_masked: m.id_masked,
                    resident_id: m.resident_id,
                    outcome: m.outcome,
                };
                serde_json::to_writer(&mut out, &view).map_err(|e| {
                    sangam_hub::HubError::Internal(format!("cannot encode the mapping: {e}"))
                })?;
                self.written += 1;
            }
            out
        } else {
            let bytes = mapping_csv_page(&page, first)?;
            self.written += page.len() as u64;
            bytes
        };
        Ok(Some((bytes, self)))
    }
}
