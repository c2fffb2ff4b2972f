//! Onboarding: an organisation registers, submits an application with its connectivity
//! request, the hub team checks and evaluates it (comments, meetings, clarifications, in as
//! many rounds as it takes), approves it with an agreed plan that becomes the agreement, and
//! moves it through sandbox to live. Suspension, renewal and termination follow. Each step is
//! taken by a role allowed to take it and recorded in the audit log, the application's
//! timeline.

use std::sync::Arc;

use chrono::{Duration, Months};
use sangam_access::network::AllowList;
use sangam_domain::MobileNumber;
use sangam_store::{AuditEntry, AuditFilter, Role, StoredApplication, StoredOrganisation, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fields::{self, scopes};
use super::model::*;
use super::{ActiveApplication, new_id};
use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// A kind of note on an application's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The evaluator's comment.
    Comment,
    /// Minutes of a meeting with the applicant.
    MeetingNotes,
    /// The hub asks the applicant something.
    ClarificationAsked,
    /// The applicant answers.
    ClarificationGiven,
}

impl NoteKind {
    pub fn code(self) -> &'static str {
        match self {
            NoteKind::Comment => "comment",
            NoteKind::MeetingNotes => "meeting_notes",
            NoteKind::ClarificationAsked => "clarification_asked",
            NoteKind::ClarificationGiven => "clarification_given",
        }
    }
}

/// An organisation as shown: the mobile number masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganisationView {
    #[serde(flatten)]
    pub form: OrganisationForm,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An application as shown to administrators and its own organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub organisation: String,
    pub client_id: Option<String>,
    pub status: ApplicationStatus,
    /// The status in effect today: `expired` once a live application's agreement ended.
    pub effective_status: ApplicationStatus,
    pub status_reason: Option<String>,
    pub form: ApplicationForm,
    pub request: ConnectivityRequest,
    pub agreement: Option<Agreement>,
    /// Secrets by id and dates; never the secret or its hash.
    pub secrets: Vec<SecretView>,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretView {
    pub id: String,
    pub environment: Environment,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> HubError {
    HubError::Invalid {
        field: field.into(),
        code,
        message: message.into(),
    }
}

fn required(field: &str, value: &str) -> HubResult<()> {
    if value.trim().is_empty() {
        return Err(invalid(field, "field.required", "must not be empty"));
    }
    Ok(())
}

fn check_organisation(form: &OrganisationForm) -> HubResult<()> {
    let id_ok = !form.id.is_empty()
        && form.id.len() <= 40
        && form
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(invalid(
            "id",
            "organisation.id",
            "use 1 to 40 lower-case letters, digits and hyphens",
        ));
    }
    for (field, value) in [
        ("name", &form.name),
        ("address", &form.address),
        ("contact_person", &form.contact_person),
        ("designation", &form.designation),
        ("city", &form.city),
        ("state", &form.state),
    ] {
        required(field, value)?;
    }
    check_email("email", &form.email)?;
    MobileNumber::parse(&form.mobile).map_err(|e| HubError::invalid("mobile", e))?;
    if form.pin_code.len() != 6
        || !form.pin_code.chars().all(|c| c.is_ascii_digit())
        || form.pin_code.starts_with('0')
    {
        return Err(invalid(
            "pin_code",
            "pin_code.format",
            "a PIN code is six digits, not starting with 0",
        ));
    }
    Ok(())
}

fn check_email(field: &str, email: &str) -> HubResult<()> {
    let ok = email.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
    });
    if !ok {
        return Err(invalid(field, "email.format", "not an e-mail address"));
    }
    Ok(())
}

fn check_application(form: &ApplicationForm, request: &ConnectivityRequest) -> HubResult<()> {
    for (field, value) in [
        ("form.name", &form.name),
        ("form.description", &form.description),
        ("form.contact_person", &form.contact_person),
        ("form.access_required_for", &form.access_required_for),
        ("request.head_of_department", &request.head_of_department),
        ("request.head_employee_id", &request.head_employee_id),
        ("request.nodal_officer", &request.nodal_officer),
        (
            "request.nodal_officer_contact",
            &request.nodal_officer_contact,
        ),
        ("request.project_name", &request.project_name),
        ("request.project_scope", &request.project_scope),
        ("request.software_frameworks", &request.software_frameworks),
        ("request.database_used", &request.database_used),
    ] {
        required(field, value)?;
    }
    check_email("form.email", &form.email)?;
    AllowList::parse(&form.public_ips)
        .map_err(|e| invalid("form.public_ips", e.code(), e.to_string()))?;
    AllowList::parse(&request.client_public_ips)
        .map_err(|e| invalid("request.client_public_ips", e.code(), e.to_string()))?;
    AllowList::parse(&request.client_private_ips)
        .map_err(|e| invalid("request.client_private_ips", e.code(), e.to_string()))?;
    if form.public_ips.is_empty() {
        return Err(invalid(
            "form.public_ips",
            "field.required",
            "name at least one public IP address or block the application calls from",
        ));
    }
    if request.requested.is_empty() {
        return Err(invalid(
            "request.requested",
            "field.required",
            "name each service or data field wanted, with its purpose",
        ));
    }
    for (i, item) in request.requested.iter().enumerate() {
        required(&format!("request.requested[{i}].item"), &item.item)?;
        required(&format!("request.requested[{i}].purpose"), &item.purpose)?;
    }
    Ok(())
}

fn check_terms(terms: &AgreementTerms) -> HubResult<()> {
    if terms.scopes.is_empty() {
        return Err(invalid(
            "scopes",
            "field.required",
            "approve at least one scope",
        ));
    }
    if let Some(bad) = fields::unknown(&terms.scopes, scopes::ALL) {
        return Err(invalid(
            "scopes",
            "scope.unknown",
            format!("unknown scope {bad:?}; known: {}", scopes::ALL.join(", ")),
        ));
    }
    if terms.purposes.is_empty() {
        return Err(invalid(
            "purposes",
            "field.required",
            "approve at least one purpose",
        ));
    }
    for (i, p) in terms.purposes.iter().enumerate() {
        let code_ok = !p.code.is_empty()
            && p.code.len() <= 64
            && p.code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !code_ok {
            return Err(invalid(
                &format!("purposes[{i}].code"),
                "purpose.code",
                "use 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        if let Some(bad) = fields::unknown(&p.fields, fields::ALL) {
            return Err(invalid(
                &format!("purposes[{i}].fields"),
                "field.unknown",
                format!("unknown field {bad:?}; known: {}", fields::ALL.join(", ")),
            ));
        }
    }
    terms
        .limits
        .check_valid()
        .map_err(|m| invalid("limits", "limits.invalid", m))?;
    if let (Some(start), Some(end)) = (terms.starts_on, terms.ends_on)
        && end < start
    {
        return Err(invalid(
            "ends_on",
            "agreement.dates",
            "the agreement ends before it starts",
        ));
    }
    Ok(())
}

fn actor_of(user: &User) -> String {
    user.username.clone()
}

fn is_admin(user: &User) -> bool {
    user.role == Role::Admin
}

fn require_admin(user: &User) -> HubResult<()> {
    if !is_admin(user) {
        return Err(HubError::Forbidden(
            "this step of onboarding is for hub administrators".into(),
        ));
    }
    Ok(())
}

impl Hub {
    /// Registers (or updates) an organisation. Administrators only.
    pub async fn register_organisation(
        &self,
        form: OrganisationForm,
        user: &User,
    ) -> HubResult<OrganisationView> {
        require_admin(user)?;
        check_organisation(&form)?;
        let now = self.now();
        let existing = self.store().organisation(&form.id).await?;
        let doc = serde_json::to_string(&form).map_err(|e| HubError::Internal(e.to_string()))?;
        let created_at = existing.as_ref().map_or(now, |o| o.created_at);
        self.store()
            .put_organisation(&StoredOrganisation {
                id: form.id.clone(),
                name: form.name.clone(),
                doc,
                created_at,
                updated_at: now,
            })
            .await?;
        self.audit(
            &actor_of(user),
            AuditEvent::OrganisationRegistered {
                organisation: form.id.clone(),
                name: form.name.clone(),
            },
        )
        .await?;
        Ok(organisation_view(form, created_at))
    }

    pub async fn organisations(&self, user: &User) -> HubResult<Vec<OrganisationView>> {
        let all = self.store().organisations().await?;
        let mut out = Vec::new();
        for o in all {
            if !is_admin(user) && user.organisation.as_deref() != Some(o.id.as_str()) {
                continue;
            }
            let form: OrganisationForm = serde_json::from_str(&o.doc)
                .map_err(|e| HubError::Internal(format!("organisation {}: {e}", o.id)))?;
            out.push(organisation_view(form, o.created_at));
        }
        Ok(out)
    }

    /// Submits an application with its connectivity request, for the user's organisation (an
    /// administrator names the organisation).
    pub async fn submit_application(
        &self,
        organisation: Option<&str>,
        form: ApplicationForm,
        request: ConnectivityRequest,
        user: &User,
    ) -> HubResult<ApplicationView> {
        let organisation = match (is_admin(user), organisation, user.organisation.as_deref()) {
            (true, Some(o), _) => o.to_owned(),
            (true, None, _) => {
                return Err(invalid(
                    "organisation",
                    "field.required",
                    "name the organisation applying",
                ));
            }
            (false, Some(o), Some(own)) if o != own => {
                return Err(HubError::Forbidden(
                    "you can apply only for your own organisation".into(),
                ));
            }
            (false, _, Some(own)) => own.to_owned(),
            (false, _, None) => {
                return Err(HubError::Forbidden(
                    "your account belongs to no organisation".into(),
                ));
            }
        };
        if self.store().organisation(&organisation).await?.is_none() {
            return Err(invalid(
                "organisation",
                "organisation.unknown",
                format!("organisation {organisation:?} is not registered"),
            ));
        }
        check_application(&form, &request)?;
        let now = self.now();
        let id = new_id("app-");
        let doc = ApplicationDoc {
            form,
            request,
            status_reason: None,
            agreements: Vec::new(),
            secrets: Vec::new(),
            submitted_by: user.username.clone(),
        };
        let stored = StoredApplication {
            id: id.clone(),
            organisation: organisation.clone(),
            client_id: None,
            status: ApplicationStatus::Submitted.code().into(),
            version: 1,
            doc: serde_json::to_string(&doc).map_err(|e| HubError::Internal(e.to_string()))?,
            created_at: now,
            updated_at: now,
        };
        self.store().insert_application(&stored).await?;
        self.audit(
            &actor_of(user),
            AuditEvent::ApplicationSubmitted {
                application_id: id.clone(),
                organisation,
                name: doc.form.name.clone(),
            },
        )
        .await?;
        let app = self.remember(&stored)?;
        Ok(self.application_view(&app))
    }

    /// Applies `change` to the latest version of an application and stores it; retried when
    /// another change came first.
    pub(crate) async fn change_application(
        &self,
        id: &str,
        mut change: impl FnMut(&ActiveApplication, &mut StoredApplication) -> HubResult<ApplicationDoc>,
    ) -> HubResult<Arc<ActiveApplication>> {
        for _ in 0..5 {
            let mut stored = self
                .store()
                .application(id)
                .await?
                .ok_or_else(|| HubError::NotFound(format!("application {id}")))?;
            let current = ActiveApplication::from_stored(&stored)?;
            let doc = change(&current, &mut stored)?;
            stored.doc =
                serde_json::to_string(&doc).map_err(|e| HubError::Internal(e.to_string()))?;
            stored.version += 1;
            stored.updated_at = self.now();
            match self.store().update_application(&stored).await {
                Ok(()) => return self.remember(&stored),
                Err(sangam_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(HubError::Conflict(format!(
            "application {id} is being changed by others; try again"
        )))
    }

    /// Moves an application to `to` (administrators), with a reason. A refusal must give one;
    /// a request duplicating what the hub already offers is refused with that reason.
    pub async fn move_application(
        &self,
        id: &str,
        to: ApplicationStatus,
        reason: Option<String>,
        user: &User,
    ) -> HubResult<ApplicationView> {
        require_admin(user)?;
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if matches!(
            to,
            ApplicationStatus::Refused | ApplicationStatus::Suspended
        ) && reason.is_none()
        {
            return Err(invalid(
                "reason",
                "field.required",
                format!("say why the application is {}", to.code()),
            ));
        }
        let mut from = to;
        let app = self
            .change_application(id, |app, stored| {
                from = app.status;
                if !app.status.may_move_to(to) {
                    return Err(HubError::Conflict(format!(
                        "an application cannot move from {} to {}",
                        app.status.code(),
                        to.code()
                    )));
                }
                if to == ApplicationStatus::Live
                    && !app.doc.secrets.iter().any(|s| s.environment == Environment::Sandbox)
                {
                    return Err(HubError::Conflict(
                        "issue sandbox credentials and let the application test before it goes live".into(),
                    ));
                }
                stored.status = to.code().into();
                let mut doc = app.doc.clone();
                doc.status_reason = reason.clone();
                Ok(doc)
            })
            .await?;
        if to == ApplicationStatus::Live {
            self.sharing().detector.forget(id);
        }
        self.audit(
            &actor_of(user),
            AuditEvent::ApplicationStatusChanged {
                application_id: id.into(),
                from: from.code().into(),
                to: to.code().into(),
                reason,
            },
        )
        .await?;
        Ok(self.application_view(&app))
    }

    /// Suspends an application without a user: scraping detection.
    pub(crate) async fn suspend_automatically(&self, id: &str, reason: String) -> HubResult<()> {
        let mut from = ApplicationStatus::Suspended;
        let result = self
            .change_application(id, |app, stored| {
                from = app.status;
                if !matches!(
                    app.status,
                    ApplicationStatus::Live | ApplicationStatus::Sandbox
                ) {
                    return Err(HubError::Conflict("not active".into()));
                }
                stored.status = ApplicationStatus::Suspended.code().into();
                let mut doc = app.doc.clone();
                doc.status_reason = Some(reason.clone());
                Ok(doc)
            })
            .await;
        match result {
            Ok(_) => {
                self.audit(
                    "system",
                    AuditEvent::ApplicationStatusChanged {
                        application_id: id.into(),
                        from: from.code().into(),
                        to: ApplicationStatus::Suspended.code().into(),
                        reason: Some(reason),
                    },
                )
                .await?;
                Ok(())
            }
            // Suspended already (by a concurrent request): nothing more to do.
            Err(HubError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Adds a note to the application's timeline. The applicant's organisation may answer a
    /// clarification; everything else is the hub team's.
    pub async fn add_application_note(
        &self,
        id: &str,
        kind: NoteKind,
        text: &str,
        user: &User,
    ) -> HubResult<()> {
        let app = self.visible_application(id, user).await?;
        if kind != NoteKind::ClarificationGiven {
            require_admin(user)?;
        }
        required("text", text)?;
        if text.len() > 10_000 {
            return Err(invalid(
                "text",
                "field.too_long",
                "keep a note under 10,000 characters",
            ));
        }
        if matches!(
            app.status,
            ApplicationStatus::Terminated | ApplicationStatus::Refused
        ) {
            return Err(HubError::Conflict(format!(
                "the application is {}; its timeline is closed",
                app.status.code()
            )));
        }
        self.audit(
            &actor_of(user),
            AuditEvent::ApplicationNoteAdded {
                application_id: id.into(),
                kind: kind.code().into(),
                text: text.trim().into(),
            },
        )
        .await?;
        Ok(())
    }

    /// Approves an application under technical evaluation with the agreed plan, which becomes
    /// its agreement.
    pub async fn approve_application(
        &self,
        id: &str,
        terms: AgreementTerms,
        user: &User,
    ) -> HubResult<ApplicationView> {
        require_admin(user)?;
        check_terms(&terms)?;
        let today = ist_day(self.now());
        let starts_on = terms.starts_on.unwrap_or(today);
        let ends_on = terms
            .ends_on
            .unwrap_or_else(|| starts_on + Months::new(36) - chrono::Days::new(1));
        let agreement = Agreement {
            id: new_id("mou-"),
            starts_on,
            ends_on,
            notice_days: terms.notice_days.unwrap_or(30),
            scopes: terms.scopes,
            purposes: terms.purposes,
            limits: terms.limits,
            approved_daily_records: terms.approved_daily_records,
            approved_by: user.username.clone(),
            approved_at: self.now(),
            terminated_at: None,
            termination_reason: None,
            destruction_confirmed: None,
        };
        let app = self
            .change_application(id, |app, stored| {
                if app.status != ApplicationStatus::TechnicalEvaluation {
                    return Err(HubError::Conflict(format!(
                        "only an application under technical evaluation can be approved; this one is {}",
                        app.status.code()
                    )));
                }
                stored.status = ApplicationStatus::Approved.code().into();
                let mut doc = app.doc.clone();
                doc.status_reason = None;
                doc.agreements.push(agreement.clone());
                Ok(doc)
            })
            .await?;
        self.audit(
            &actor_of(user),
            AuditEvent::AgreementApproved {
                application_id: id.into(),
                agreement_id: agreement.id.clone(),
                starts_on: agreement.starts_on.to_string(),
                ends_on: agreement.ends_on.to_string(),
                purposes: agreement.purposes.iter().map(|p| p.code.clone()).collect(),
            },
        )
        .await?;
        Ok(self.application_view(&app))
    }

    /// Renews the current agreement on the same terms until `ends_on` (three years from the
    /// day after the current end by default). Access resumes at once if it had expired.
    pub async fn renew_agreement(
        &self,
        id: &str,
        ends_on: Option<chrono::NaiveDate>,
        user: &User,
    ) -> HubResult<ApplicationView> {
        require_admin(user)?;
        let today = ist_day(self.now());
        let mut renewed_id = String::new();
        let mut renewed_end = today;
        let app = self
            .change_application(id, |app, _| {
                let current = app.doc.agreement().ok_or_else(|| {
                    HubError::Conflict("the application has no agreement to renew".into())
                })?;
                if current.terminated_at.is_some() {
                    return Err(HubError::Conflict(
                        "a terminated agreement is not renewed: apply again".into(),
                    ));
                }
                let starts_on = (current.ends_on + chrono::Days::new(1)).min(today);
                let end =
                    ends_on.unwrap_or_else(|| starts_on + Months::new(36) - chrono::Days::new(1));
                if end <= current.ends_on || end < today {
                    return Err(invalid(
                        "ends_on",
                        "agreement.dates",
                        "a renewal must end after the current agreement and after today",
                    ));
                }
                let mut renewed = current.clone();
                renewed.id = new_id("mou-");
                renewed.starts_on = starts_on;
                renewed.ends_on = end;
                renewed.approved_by = user.username.clone();
                renewed.approved_at = self.now();
                renewed_id = renewed.id.clone();
                renewed_end = end;
                let mut doc = app.doc.clone();
                doc.agreements.push(renewed);
                Ok(doc)
            })
            .await?;
        self.audit(
            &actor_of(user),
            AuditEvent::AgreementRenewed {
                application_id: id.into(),
                agreement_id: renewed_id,
                ends_on: renewed_end.to_string(),
            },
        )
        .await?;
        Ok(self.application_view(&app))
    }

    /// Terminates the agreement: access stops at once, and the application waits for the
    /// consumer's confirmation that it destroyed the data.
    pub async fn terminate_application(
        &self,
        id: &str,
        reason: &str,
        user: &User,
    ) -> HubResult<ApplicationView> {
        require_admin(user)?;
        required("reason", reason)?;
        let now = self.now();
        let mut agreement_id = String::new();
        let app = self
            .change_application(id, |app, stored| {
                if matches!(
                    app.status,
                    ApplicationStatus::Terminated | ApplicationStatus::Refused
                ) {
                    return Err(HubError::Conflict(format!(
                        "the application is {} already",
                        app.status.code()
                    )));
                }
                let mut doc = app.doc.clone();
                if let Some(agreement) = doc.agreements.last_mut() {
                    agreement.terminated_at = Some(now);
                    agreement.termination_reason = Some(reason.trim().into());
                    agreement_id = agreement.id.clone();
                }
                doc.status_reason = Some(reason.trim().into());
                stored.status = ApplicationStatus::Terminated.code().into();
                Ok(doc)
            })
            .await?;
        self.audit(
            &actor_of(user),
            AuditEvent::AgreementTerminated {
                application_id: id.into(),
                agreement_id,
                reason: reason.trim().into(),
            },
        )
        .await?;
        Ok(self.application_view(&app))
    }

    /// Records the consumer's confirmation that it destroyed the data it held (its own
    /// organisation, or an administrator on its behalf), after termination.
    pub async fn confirm_data_destroyed(
        &self,
        id: &str,
        reference: &str,
        user: &User,
    ) -> HubResult<ApplicationView> {
        self.visible_application(id, user).await?;
        required("reference", reference)?;
        let now = self.now();
        let mut agreement_id = String::new();
        let app = self
            .change_application(id, |app, _| {
                if app.status != ApplicationStatus::Terminated {
                    return Err(HubError::Conflict(
                        "data destruction is confirmed after termination".into(),
                    ));
                }
                let mut doc = app.doc.clone();
                let agreement = doc
                    .agreements
                    .last_mut()
                    .ok_or_else(|| HubError::Conflict("the application has no agreement".into()))?;
                if agreement.destruction_confirmed.is_some() {
                    return Err(HubError::Conflict(
                        "destruction was confirmed already".into(),
                    ));
                }
                agreement.destruction_confirmed = Some(DestructionConfirmation {
                    confirmed_by: user.username.clone(),
                    confirmed_at: now,
                    reference: reference.trim().into(),
                });
                agreement_id = agreement.id.clone();
                Ok(doc)
            })
            .await?;
        self.audit(
            &actor_of(user),
            AuditEvent::DataDestructionConfirmed {
                application_id: id.into(),
                agreement_id,
                reference: reference.trim().into(),
            },
        )
        .await?;
        Ok(self.application_view(&app))
    }

    /// An application, if the user may see it: administrators, and its own organisation.
    /// Another organisation gets "not found", so an application's existence is not confirmed.
    pub async fn visible_application(
        &self,
        id: &str,
        user: &User,
    ) -> HubResult<Arc<ActiveApplication>> {
        let stored = self
            .store()
            .application(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("application {id}")))?;
        if !is_admin(user) && user.organisation.as_deref() != Some(stored.organisation.as_str()) {
            return Err(HubError::NotFound(format!("application {id}")));
        }
        self.remember(&stored)
    }

    pub async fn application(&self, id: &str, user: &User) -> HubResult<ApplicationView> {
        self.visible_application(id, user).await?;
        let stored = self
            .store()
            .application(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("application {id}")))?;
        let app = self.remember(&stored)?;
        Ok(self.application_view(&app))
    }

    pub async fn applications(&self, user: &User) -> HubResult<Vec<ApplicationView>> {
        let filter = if is_admin(user) {
            None
        } else {
            Some(user.organisation.clone().ok_or_else(|| {
                HubError::Forbidden("your account belongs to no organisation".into())
            })?)
        };
        let mut out = Vec::new();
        for stored in self.store().applications(filter.as_deref()).await? {
            let app = self.remember(&stored)?;
            out.push(self.application_view(&app));
        }
        Ok(out)
    }

    /// The application's timeline: every onboarding step, note, credential and alert, newest
    /// first.
    pub async fn application_timeline(
        &self,
        id: &str,
        before: i64,
        limit: u32,
        user: &User,
    ) -> HubResult<Vec<AuditEntry>> {
        self.visible_application(id, user).await?;
        Ok(self
            .store()
            .search_audit(
                &AuditFilter {
                    target: Some(format!("application:{id}")),
                    ..AuditFilter::default()
                },
                before,
                limit.clamp(1, 500),
            )
            .await?)
    }

    fn application_view(&self, app: &ActiveApplication) -> ApplicationView {
        let today = ist_day(self.now());
        let effective_status = match (app.status, app.doc.agreement()) {
            (ApplicationStatus::Live | ApplicationStatus::Sandbox, Some(a))
                if today > a.ends_on =>
            {
                ApplicationStatus::Expired
            }
            (status, _) => status,
        };
        ApplicationView {
            id: app.id.clone(),
            organisation: app.organisation.clone(),
            client_id: app.client_id.clone(),
            status: app.status,
            effective_status,
            status_reason: app.doc.status_reason.clone(),
            form: app.doc.form.clone(),
            request: app.doc.request.clone(),
            agreement: app.doc.agreement().cloned(),
            secrets: app
                .doc
                .secrets
                .iter()
                .map(|s| SecretView {
                    id: s.id.clone(),
                    environment: s.environment,
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                    revoked_at: s.revoked_at,
                })
                .collect(),
            version: app.version,
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

fn organisation_view(
    mut form: OrganisationForm,
    created_at: chrono::DateTime<chrono::Utc>,
) -> OrganisationView {
    if let Ok(mobile) = MobileNumber::parse(&form.mobile) {
        form.mobile = mobile.masked();
    }
    OrganisationView { form, created_at }
}

/// The overlap of a rotated secret, from hours given by the caller.
pub fn overlap_hours(hours: Option<i64>) -> HubResult<Duration> {
    let hours = hours.unwrap_or(super::credentials::DEFAULT_OVERLAP_HOURS);
    if !(0..=24 * 30).contains(&hours) {
        return Err(invalid(
            "overlap_hours",
            "overlap.range",
            "between 0 and 720 hours",
        ));
    }
    Ok(Duration::hours(hours))
}
