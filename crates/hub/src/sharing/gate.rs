//! The policy applied on every data call, in a fixed order so that the refusal names the
//! first rule broken: a valid token, a live secret, the application's standing (status, IP
//! allow-list, agreement in force), the operation's scope, an approved purpose, and the
//! rate limits and quotas.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use sangam_access::limits::Refusal;
use sangam_access::tokens::{AccessClaims, TokenError};

use super::ActiveApplication;
use super::model::{ApplicationStatus, ApprovedPurpose, Environment, ist_day};
use crate::{Hub, HubError, HubResult};

/// How a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// 401: no valid credentials.
    Unauthenticated,
    /// 403: valid credentials, but a rule forbids this.
    Forbidden,
    /// 400: a malformed grant request.
    BadRequest,
    /// 429: over a rate limit or quota; retry after this many seconds.
    TooManyRequests { retry_after_secs: u64 },
}

/// A refusal naming the rule that refused: `code` is stable (`token.expired`,
/// `purpose.not_approved`), `message` says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub kind: DenialKind,
    pub code: &'static str,
    pub message: String,
}

impl Denial {
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Denial {
            kind: DenialKind::Unauthenticated,
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Denial {
            kind: DenialKind::Forbidden,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Denial {
            kind: DenialKind::BadRequest,
            code,
            message: message.into(),
        }
    }

    fn limited(refusal: Refusal) -> Self {
        Denial {
            kind: DenialKind::TooManyRequests {
                retry_after_secs: refusal.retry_after_secs,
            },
            code: refusal.kind.code(),
            message: format!(
                "over the application's {} (limit {}); retry after {} s",
                match refusal.kind {
                    sangam_access::limits::LimitKind::Burst => "rate limit",
                    sangam_access::limits::LimitKind::Daily => "daily quota",
                    sangam_access::limits::LimitKind::Monthly => "monthly quota",
                },
                refusal.limit,
                refusal.retry_after_secs
            ),
        }
    }
}

impl From<Denial> for HubError {
    fn from(d: Denial) -> Self {
        HubError::Denied(d)
    }
}

/// What the HTTP edge knows of a data call.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The bearer token, if one was sent.
    pub token: Option<&'a str>,
    /// The client's address, after the trusted-proxy rule.
    pub client_ip: IpAddr,
    /// The `X-Purpose` header.
    pub purpose: Option<&'a str>,
    pub request_id: &'a str,
}

/// A call that passed the gate: who, for what, seeing which fields.
#[derive(Debug, Clone)]
pub struct Caller {
    pub application: Arc<ActiveApplication>,
    pub claims: AccessClaims,
    pub environment: Environment,
    pub purpose: ApprovedPurpose,
    /// Whether sensitive fields may be shown in full: the reveal scope and a purpose approved
    /// for it.
    pub reveal: bool,
    pub client_ip: String,
    pub request_id: String,
}

fn token_denial(e: &TokenError) -> Denial {
    Denial::unauthenticated(
        e.code(),
        format!("the access token is not valid ({e}); get a new one from POST /oauth2/token"),
    )
}

impl Hub {
    /// The application's standing at `now`: its status allows `environment`, the caller's
    /// address is allowed, and an agreement is in force.
    pub(crate) fn check_standing(
        &self,
        app: &ActiveApplication,
        environment: Environment,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), Denial> {
        use ApplicationStatus::*;
        match (app.status, environment) {
            (Suspended, _) => {
                return Err(Denial::forbidden(
                    "application.suspended",
                    format!(
                        "the application is suspended: {}",
                        app.doc
                            .status_reason
                            .as_deref()
                            .unwrap_or("no reason given")
                    ),
                ));
            }
            (Terminated, _) => {
                return Err(Denial::forbidden(
                    "application.terminated",
                    "the application's agreement was terminated",
                ));
            }
            (Live, _) | (Sandbox, Environment::Sandbox) => {}
            (status, _) => {
                return Err(Denial::forbidden(
                    "application.not_live",
                    format!(
                        "the application is {}: {} credentials do not work yet",
                        status.code(),
                        environment.code()
                    ),
                ));
            }
        }
        if !app.allow_list.allows(client_ip) {
            return Err(Denial::forbidden(
                "network.ip_not_allowed",
                format!("calls from {client_ip} are not on the application's IP allow-list"),
            ));
        }
        let today = ist_day(now);
        let agreement = app.doc.agreement().ok_or_else(|| {
            Denial::forbidden("agreement.missing", "the application has no agreement")
        })?;
        if agreement.terminated_at.is_some() {
            return Err(Denial::forbidden(
                "agreement.terminated",
                "the application's agreement was terminated",
            ));
        }
        if today > agreement.ends_on {
            return Err(Denial::forbidden(
                "agreement.expired",
                format!(
                    "the agreement ended on {}; access resumes when it is renewed",
                    agreement.ends_on
                ),
            ));
        }
        if today < agreement.starts_on {
            return Err(Denial::forbidden(
                "agreement.not_started",
                format!("the agreement starts on {}", agreement.starts_on),
            ));
        }
        Ok(())
    }

    /// Lets a data call through the gate, or names the rule that refuses it.
    pub async fn authorize(&self, ctx: &CallContext<'_>, scope: Option<&str>) -> HubResult<Caller> {
        let token = ctx.token.ok_or_else(|| {
            Denial::unauthenticated(
                "token.missing",
                "send `Authorization: Bearer <access token>` from POST /oauth2/token",
            )
        })?;
        let keys = self.sharing_keys().await?;
        let now = self.now();
        let claims = keys
            .tokens
            .verify(token, now)
            .map_err(|e| token_denial(&e))?;
        let app = match self.active_application(&claims.app).await {
            Ok(app) => app,
            Err(HubError::NotFound(_)) => {
                return Err(Denial::unauthenticated(
                    "token.unknown_application",
                    "the token's application does not exist",
                )
                .into());
            }
            Err(e) => return Err(e),
        };
        if !app
            .doc
            .secrets
            .iter()
            .any(|s| s.id == claims.sid && s.revoked_at.is_none())
        {
            return Err(Denial::unauthenticated(
                "secret.revoked",
                "the client secret that obtained this token was revoked",
            )
            .into());
        }
        let environment = match claims.env.as_str() {
            "sandbox" => Environment::Sandbox,
            _ => Environment::Live,
        };
        self.check_standing(&app, environment, ctx.client_ip, now)?;
        if let Some(scope) = scope
            && !claims.scope.iter().any(|s| s == scope)
        {
            return Err(Denial::forbidden(
                "scope.missing",
                format!("this operation needs the scope {scope:?}, which the token does not carry"),
            )
            .into());
        }
        let purpose_code = match (ctx.purpose, claims.purpose.as_deref()) {
            (Some(header), Some(claim)) if header != claim => {
                return Err(Denial::forbidden(
                    "purpose.mismatch",
                    "the X-Purpose header differs from the purpose the token was issued for",
                )
                .into());
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                return Err(Denial::forbidden(
                    "purpose.missing",
                    "state the purpose of the call in the X-Purpose header (or ask for a token \
                     with a purpose)",
                )
                .into());
            }
        };
        let agreement = app.doc.agreement().ok_or_else(|| {
            Denial::forbidden("agreement.missing", "the application has no agreement")
        })?;
        let purpose = agreement.purpose(purpose_code).cloned().ok_or_else(|| {
            Denial::forbidden(
                "purpose.not_approved",
                format!("purpose {purpose_code:?} is not one the agreement approved"),
            )
        })?;
        self.seed_usage(&app).await?;
        self.sharing()
            .limiter
            .check(&app.id, &agreement.limits, now)
            .map_err(Denial::limited)?;
        let reveal = purpose.reveal
            && claims
                .scope
                .iter()
                .any(|s| s == super::fields::scopes::REVEAL);
        Ok(Caller {
            application: app,
            claims,
            environment,
            purpose,
            reveal,
            client_ip: ctx.client_ip.to_string(),
            request_id: ctx.request_id.to_owned(),
        })
    }

    /// Loads the stored usage of an application into the limiter once per process, so quotas
    /// hold across restarts.
    async fn seed_usage(&self, app: &ActiveApplication) -> HubResult<()> {
        let sharing = self.sharing();
        let first = sharing
            .seeded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(app.id.clone());
        if !first {
            return Ok(());
        }
        let today = ist_day(self.now());
        let month_start = today.with_day(1).unwrap_or(today);
        let days = self.store().usage(&app.id, month_start, today).await?;
        let today_count = days
            .iter()
            .filter(|d| d.day == today)
            .map(|d| d.requests)
            .sum();
        let month_count = days.iter().map(|d| d.requests).sum();
        sharing
            .limiter
            .seed(&app.id, today, today_count, month_count);
        Ok(())
    }
}
