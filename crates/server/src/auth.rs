//! Who is calling: the signed-in hub user behind a bearer session token. The access model of
//! consuming applications (OAuth2 client credentials, scopes, purposes) builds on this.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sangam_store::{Role, User};

use crate::problem::ApiError;
use crate::state::AppState;

/// The bearer token of a request.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthenticated("send `Authorization: Bearer <token>` from POST /v1/session")
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthenticated(
            "the Authorization header must use the Bearer scheme",
        )),
    }
}

/// A signed-in hub administrator.
#[derive(Debug)]
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?;
        let user = state.hub.authenticate(token).await?;
        if user.role != Role::Admin {
            return Err(ApiError::forbidden(
                "this operation is for hub administrators",
            ));
        }
        Ok(Admin(user))
    }
}

/// Any signed-in hub user: an administrator, or a nodal officer acting for their
/// organisation. What each may do is decided by the service layer.
#[derive(Debug)]
pub struct SignedIn(pub User);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?;
        Ok(SignedIn(state.hub.authenticate(token).await?))
    }
}
