//! Errors at the HTTP edge, as `application/problem+json` (RFC 9457). Every error of the
//! service layer is mapped here, once. Internal details are logged with the request id, not
//! sent: the client gets the request id to quote to the help desk.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sangam_hub::HubError;
use sangam_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For refusals of consuming applications: the rule that refused, e.g. `token.expired`,
    /// `purpose.not_approved`, `quota.daily`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For validation problems: which field broke which rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One field that broke a rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    /// A stable code such as `id_number.checksum`.
    pub code: String,
    pub message: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    code: Option<&'static str>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            code: None,
            retry_after: None,
        }
    }

    pub fn invalid(field: &str, e: sangam_domain::ValidationError) -> Self {
        ApiError::from(HubError::invalid(field, e))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request is malformed",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Invalid {
                field,
                code,
                message,
            } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                slug: "validation",
                title: "A value breaks a rule",
                detail: format!("{field}: {message}"),
                errors: vec![FieldProblem {
                    field,
                    code: code.into(),
                    message,
                }],
                code: None,
                retry_after: None,
            },
            HubError::Denied(denial) => {
                use sangam_hub::sharing::gate::DenialKind;
                let (status, title, retry_after) = match denial.kind {
                    DenialKind::Unauthenticated => {
                        (StatusCode::UNAUTHORIZED, "Authentication required", None)
                    }
                    DenialKind::Forbidden => (StatusCode::FORBIDDEN, "Not allowed", None),
                    DenialKind::BadRequest => {
                        (StatusCode::BAD_REQUEST, "The request is malformed", None)
                    }
                    DenialKind::TooManyRequests { retry_after_secs } => (
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many requests",
                        Some(retry_after_secs),
                    ),
                };
                ApiError {
                    status,
                    slug: denial.code,
                    title,
                    detail: denial.message,
                    errors: Vec::new(),
                    code: Some(denial.code),
                    retry_after,
                }
            }
            HubError::NotFound(what) => ApiError::not_found(format!("{what} was not found")),
            HubError::BadCredentials => ApiError::unauthenticated(e.to_string()),
            HubError::Unauthenticated => ApiError::unauthenticated(e.to_string()),
            HubError::Forbidden(m) => ApiError::forbidden(m),
            HubError::Conflict(m) | HubError::Store(StoreError::Conflict(m)) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", m)
            }
            HubError::Gone(m) => ApiError::new(StatusCode::GONE, "gone", "Gone", m),
            HubError::Store(StoreError::Unavailable(m)) => {
                tracing::error!(error = %m, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The hub's database is unavailable",
                    "try again shortly; if it persists, quote the request id to the help desk",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the hub could not complete the request; quote the request id to the help desk",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://sangam.invalid/problems/{}", self.slug),
            title: self.title.into(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.map(str::to_owned),
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

/// JSON bodies whose rejections are problem+json too.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query strings whose rejections are problem+json too.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
