//! The OAuth2 token endpoint (client-credentials grant, RFC 6749 section 4.4) and the public
//! keys that verify its tokens.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sangam_hub::sharing::credentials::TokenResponse;
use sangam_hub::sharing::gate::Denial;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::ConsumerCall;
use crate::problem::ApiError;
use crate::state::AppState;

/// The token request, form-encoded. The client authenticates with HTTP Basic or with
/// `client_id` and `client_secret` in the form.
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Space-separated scopes; the agreement's by default.
    #[serde(default)]
    pub scope: Option<String>,
    /// A purpose the agreement approved, bound into the token (else send `X-Purpose` on
    /// each call).
    #[serde(default)]
    pub purpose: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .finish_non_exhaustive()
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Issues a short-lived access token (an EdDSA-signed JWT) to a consuming application.
#[utoipa::path(
    post, path = "/oauth2/token", tag = "sharing",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = crate::problem::Problem, description = "unsupported grant type or scope not in the agreement"),
        (status = 401, body = crate::problem::Problem, description = "invalid_client"),
        (status = 403, body = crate::problem::Problem, description = "the application may not get tokens now (suspended, not live, IP not allowed, agreement ended)")
    )
)]
pub async fn token(
    State(state): State<AppState>,
    call: ConsumerCall,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    if form.grant_type != "client_credentials" {
        return Err(sangam_hub::HubError::from(Denial::bad_request(
            "unsupported_grant_type",
            "only the client_credentials grant is offered",
        ))
        .into());
    }
    let (client_id, client_secret) = match (
        basic_credentials(&headers),
        form.client_id,
        form.client_secret,
    ) {
        (Some(basic), _, _) => basic,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(sangam_hub::HubError::from(Denial::unauthenticated(
                "invalid_client",
                "authenticate with HTTP Basic, or send client_id and client_secret",
            ))
            .into());
        }
    };
    let response = state
        .hub
        .client_credentials_grant(
            &client_id,
            &client_secret,
            form.scope.as_deref(),
            form.purpose.as_deref(),
            call.client_ip(),
        )
        .await?;
    Ok(Json(response))
}

/// The public keys that verify access tokens (RFC 7517).
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "sharing",
    responses((status = 200, description = "JSON Web Key Set", body = Object))
)]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.hub.jwks().await?))
}
