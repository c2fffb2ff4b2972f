//! Administration of sharing: organisations, applications and their onboarding, agreements,
//! client secrets, usage, the access log, scraping alerts and decoys.
//!
//! Administrators take the evaluation steps; a nodal officer sees and answers for their own
//! organisation's applications, and another organisation's are "not found".

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sangam_hub::sharing::credentials::IssuedSecret;
use sangam_hub::sharing::model::{
    AgreementTerms, ApplicationForm, ApplicationStatus, ConnectivityRequest, Environment,
    OrganisationForm,
};
use sangam_hub::sharing::onboarding::{ApplicationView, NoteKind, OrganisationView, overlap_hours};
use sangam_hub::sharing::reports::{AccessEntry, RecordCount, Usage};
use sangam_store::AuditEntry;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Admin, SignedIn};
use crate::problem::{ApiError, ApiJson, ApiQuery};
use crate::state::AppState;

type Problem = crate::problem::Problem;

/// Registers an organisation, or updates its registration.
#[utoipa::path(
    post, path = "/v1/organisations", tag = "sharing", security(("bearer" = [])),
    request_body = OrganisationForm,
    responses((status = 201, body = OrganisationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem))
)]
pub async fn register_organisation(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(form): ApiJson<OrganisationForm>,
) -> Result<(StatusCode, Json<OrganisationView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.hub.register_organisation(form, &user).await?),
    ))
}

/// Organisations: all for administrators, one's own for a nodal officer.
#[utoipa::path(
    get, path = "/v1/organisations", tag = "sharing", security(("bearer" = [])),
    responses((status = 200, body = Vec<OrganisationView>), (status = 401, body = Problem))
)]
pub async fn organisations(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
) -> Result<Json<Vec<OrganisationView>>, ApiError> {
    Ok(Json(state.hub.organisations(&user).await?))
}

/// An application and its connectivity request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Submission {
    /// The applying organisation: an administrator must name it; a nodal officer's is theirs.
    #[serde(default)]
    pub organisation: Option<String>,
    pub application: ApplicationForm,
    pub connectivity_request: ConnectivityRequest,
}

/// Submits an application with its connectivity request.
#[utoipa::path(
    post, path = "/v1/applications", tag = "sharing", security(("bearer" = [])),
    request_body = Submission,
    responses((status = 201, body = ApplicationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem))
)]
pub async fn submit(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiJson(body): ApiJson<Submission>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    let view = state
        .hub
        .submit_application(
            body.organisation.as_deref(),
            body.application,
            body.connectivity_request,
            &user,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Applications: all for administrators, one's own organisation's for a nodal officer.
#[utoipa::path(
    get, path = "/v1/applications", tag = "sharing", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApplicationView>), (status = 401, body = Problem),
        (status = 403, body = Problem))
)]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
) -> Result<Json<Vec<ApplicationView>>, ApiError> {
    Ok(Json(state.hub.applications(&user).await?))
}

/// One application.
#[utoipa::path(
    get, path = "/v1/applications/{id}", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem),
        (status = 404, body = Problem))
)]
pub async fn get(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(state.hub.application(&id, &user).await?))
}

/// A step of onboarding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// `preliminary_check`, `technical_evaluation`, `refused`, `sandbox`, `live` or
    /// `suspended`.
    pub to: ApplicationStatus,
    /// Required to refuse or suspend.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Moves an application to its next onboarding state (administrators).
#[utoipa::path(
    post, path = "/v1/applications/{id}/status", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = StatusChange,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "not a step allowed from the current state"),
        (status = 422, body = Problem))
)]
pub async fn change_status(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChange>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(
        state
            .hub
            .move_application(&id, body.to, body.reason, &user)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Note {
    pub kind: NoteKind,
    pub text: String,
}

/// Adds a comment, meeting notes, or a clarification asked (administrators) or given (the
/// applicant) to the application's timeline.
#[utoipa::path(
    post, path = "/v1/applications/{id}/notes", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Note,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem))
)]
pub async fn add_note(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Note>,
) -> Result<StatusCode, ApiError> {
    state
        .hub
        .add_application_note(&id, body.kind, &body.text, &user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Entries with `seq` below this (from the newest when absent).
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The application's timeline: every step, note, credential and alert, newest first.
#[utoipa::path(
    get, path = "/v1/applications/{id}/timeline", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), Page),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem),
        (status = 404, body = Problem))
)]
pub async fn timeline(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(
        state
            .hub
            .application_timeline(
                &id,
                page.before.unwrap_or(0),
                page.limit.unwrap_or(100),
                &user,
            )
            .await?,
    ))
}

/// Approves an application under technical evaluation with the agreed plan: it becomes the
/// agreement (three years and 30 days' notice unless said otherwise).
#[utoipa::path(
    post, path = "/v1/applications/{id}/approval", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = AgreementTerms,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem))
)]
pub async fn approve(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(terms): ApiJson<AgreementTerms>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(
        state.hub.approve_application(&id, terms, &user).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Renewal {
    /// Three years after the current end by default.
    #[serde(default)]
    pub ends_on: Option<chrono::NaiveDate>,
}

/// Renews the agreement on the same terms; access resumes if it had expired.
#[utoipa::path(
    post, path = "/v1/applications/{id}/renewal", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Renewal,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem))
)]
pub async fn renew(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Renewal>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(
        state.hub.renew_agreement(&id, body.ends_on, &user).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Termination {
    pub reason: String,
}

/// Terminates the agreement: access stops at once.
#[utoipa::path(
    post, path = "/v1/applications/{id}/termination", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Termination,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn terminate(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Termination>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(
        state
            .hub
            .terminate_application(&id, &body.reason, &user)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Destruction {
    /// The consumer's certificate or letter number.
    pub reference: String,
}

/// Records the consumer's confirmation that it destroyed the data, after termination.
#[utoipa::path(
    post, path = "/v1/applications/{id}/destruction", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Destruction,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn confirm_destruction(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Destruction>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(
        state
            .hub
            .confirm_data_destroyed(&id, &body.reference, &user)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecretRequest {
    pub environment: Environment,
    /// How long earlier secrets of the environment keep working; 24 hours by default.
    #[serde(default)]
    pub overlap_hours: Option<i64>,
}

/// Issues a client secret (shown once). Earlier secrets of the environment keep working for
/// the overlap window.
#[utoipa::path(
    post, path = "/v1/applications/{id}/secrets", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SecretRequest,
    responses((status = 201, body = IssuedSecret), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn issue_secret(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SecretRequest>,
) -> Result<(StatusCode, Json<IssuedSecret>), ApiError> {
    let overlap = overlap_hours(body.overlap_hours)?;
    let issued = state
        .hub
        .issue_client_secret(&id, body.environment, overlap, &user.username)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes a client secret: tokens it obtained stop working at once.
#[utoipa::path(
    delete, path = "/v1/applications/{id}/secrets/{secret_id}", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), ("secret_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn revoke_secret(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path((id, secret_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .hub
        .revoke_client_secret(&id, &secret_id, &user.username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An application's usage against its quotas.
#[utoipa::path(
    get, path = "/v1/applications/{id}/usage", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Usage), (status = 401, body = Problem), (status = 404, body = Problem))
)]
pub async fn usage(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<Usage>, ApiError> {
    state.hub.visible_application(&id, &user).await?;
    Ok(Json(state.hub.application_usage(&id).await?))
}

/// The records an application was served, newest first.
#[utoipa::path(
    get, path = "/v1/applications/{id}/access-log", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), Page),
    responses((status = 200, body = Vec<AccessEntry>), (status = 401, body = Problem), (status = 404, body = Problem))
)]
pub async fn access_log(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<AccessEntry>>, ApiError> {
    Ok(Json(
        state
            .hub
            .application_access_log(
                &id,
                page.before.unwrap_or(0),
                page.limit.unwrap_or(100),
                &user,
            )
            .await?,
    ))
}

/// Which residents an application was served, and how many times, most first.
#[utoipa::path(
    get, path = "/v1/applications/{id}/access-counts", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), Page),
    responses((status = 200, body = Vec<RecordCount>), (status = 401, body = Problem), (status = 404, body = Problem))
)]
pub async fn access_counts(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<RecordCount>>, ApiError> {
    Ok(Json(
        state
            .hub
            .application_record_counts(&id, page.limit.unwrap_or(100), &user)
            .await?,
    ))
}

/// Who saw a resident's data, and why, newest first (the resident's data tracker).
#[utoipa::path(
    get, path = "/v1/residents/{resident_id}/access-log", tag = "sharing", security(("bearer" = [])),
    params(("resident_id" = String, Path), Page),
    responses((status = 200, body = Vec<AccessEntry>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
pub async fn resident_access_log(
    State(state): State<AppState>,
    _admin: Admin,
    Path(resident_id): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<AccessEntry>>, ApiError> {
    Ok(Json(
        state
            .hub
            .resident_access_log(
                &resident_id,
                page.before.unwrap_or(0),
                page.limit.unwrap_or(100),
            )
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertQuery {
    #[serde(default)]
    pub application: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Scraping alerts, newest first.
#[utoipa::path(
    get, path = "/v1/alerts", tag = "sharing", security(("bearer" = [])),
    params(AlertQuery),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
pub async fn alerts(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(
        state
            .hub
            .scraping_alerts(q.application.as_deref(), q.limit.unwrap_or(100))
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Honeytokens {
    pub resident_ids: Vec<String>,
}

/// Marks residents as decoys: no legitimate query returns them, so an application that
/// asks for one is harvesting and is suspended.
#[utoipa::path(
    post, path = "/v1/honeytokens", tag = "sharing", security(("bearer" = [])),
    request_body = Honeytokens,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem))
)]
pub async fn plant_honeytokens(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<Honeytokens>,
) -> Result<StatusCode, ApiError> {
    state
        .hub
        .plant_honeytokens(&body.resident_ids, &user.username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
