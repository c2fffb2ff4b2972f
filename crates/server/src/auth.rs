//! Who is calling: a signed-in hub user behind a bearer session token ([`Admin`],
//! [`SignedIn`]), or a consuming application behind an OAuth2 access token ([`Consumer`],
//! which passes the sharing gate for its operation's scope before the body is read).

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

/// What a consuming application's call brings: its bearer token (if any), its address, the
/// stated purpose and the request id. The handler passes it through the gate with the scope
/// its operation needs ([`ConsumerCall::authorize`]).
#[derive(Debug)]
pub struct ConsumerCall {
    token: Option<String>,
    client_ip: std::net::IpAddr,
    purpose: Option<String>,
    request_id: String,
}

/// The header a consumer states its purpose in.
pub const PURPOSE_HEADER: &str = "x-purpose";

impl FromRequestParts<AppState> for ConsumerCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let token = header(AUTHORIZATION.as_str()).and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_owned())
        });
        // Without the connection's address (a router driven in-process), no address: nothing
        // but an open allow-list lets such a call through.
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client_ip = sangam_access::network::client_ip(peer, &forwarded, &state.trusted_proxies);
        Ok(ConsumerCall {
            token,
            client_ip,
            purpose: header(PURPOSE_HEADER),
            request_id: header("x-request-id").unwrap_or_default(),
        })
    }
}

impl ConsumerCall {
    /// Passes the gate for an operation needing `scope`, or names the rule that refuses.
    pub async fn authorize(
        &self,
        state: &AppState,
        scope: Option<&str>,
    ) -> Result<sangam_hub::sharing::gate::Caller, ApiError> {
        let ctx = sangam_hub::sharing::gate::CallContext {
            token: self.token.as_deref(),
            client_ip: self.client_ip,
            purpose: self.purpose.as_deref(),
            request_id: &self.request_id,
        };
        Ok(state.hub.authorize(&ctx, scope).await?)
    }

    pub fn client_ip(&self) -> std::net::IpAddr {
        self.client_ip
    }
}

/// The scope an operation needs, as a type, so that [`Consumer`] can check it before the
/// request's body is read: a call without credentials is refused as such, whatever its body.
pub trait Scope: Send + Sync {
    const NAME: Option<&'static str>;
}

macro_rules! scopes {
    ($($(#[$doc:meta])* $name:ident => $scope:expr;)*) => {
        $($(#[$doc])* #[derive(Debug)] pub struct $name; impl Scope for $name { const NAME: Option<&'static str> = $scope; })*
    };
}

/// Operation scopes as types.
pub mod scope {
    use super::Scope;
    use sangam_hub::sharing::fields::scopes;
    scopes! {
        ResidentsRead => Some(scopes::RESIDENTS_READ);
        HouseholdsRead => Some(scopes::HOUSEHOLDS_READ);
        ResidentsProfile => Some(scopes::RESIDENTS_PROFILE);
        ResidentsSearch => Some(scopes::RESIDENTS_SEARCH);
        EkycRead => Some(scopes::EKYC_READ);
        ResidentsEnrol => Some(scopes::RESIDENTS_ENROL);
        /// Any valid token: the application's own usage.
        AnyScope => None;
    }
}

/// A consuming application's call that passed the gate for scope `S`.
#[derive(Debug)]
pub struct Consumer<S: Scope>(
    pub sangam_hub::sharing::gate::Caller,
    pub std::marker::PhantomData<S>,
);

impl<S: Scope> FromRequestParts<AppState> for Consumer<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let call = ConsumerCall::from_request_parts(parts, state).await?;
        Ok(Consumer(
            call.authorize(state, S::NAME).await?,
            std::marker::PhantomData,
        ))
    }
}
