//! Signing in and out of the hub (administrators and nodal officers).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::bearer_token;
use crate::problem::{ApiError, ApiJson};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs in with a user name and password and returns a bearer token.
#[utoipa::path(
    post, path = "/v1/session", tag = "session", request_body = SignIn,
    responses((status = 201, body = SessionCreated), (status = 401, body = crate::problem::Problem))
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    let session = state.hub.sign_in(&body.username, &body.password).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            token: session.token,
            expires_at: session.expires_at,
        }),
    ))
}

/// Signs out: the bearer token stops working at once.
#[utoipa::path(
    delete, path = "/v1/session", tag = "session", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::problem::Problem))
)]
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(&headers)?;
    state.hub.authenticate(token).await?;
    state.hub.sign_out(token).await?;
    Ok(StatusCode::NO_CONTENT)
}
