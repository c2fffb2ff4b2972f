//! What the hub knows about consuming organisations and applications: the fields of their
//! registration forms and connectivity requests, the onboarding states and who may move an
//! application between them, and the agreement (MoU) that bounds what it may see.

use chrono::{DateTime, NaiveDate, Utc};
use sangam_access::limits::Limits;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Government, public-sector undertaking, or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationCategory {
    Government,
    Psu,
    Private,
}

/// The organisation registration form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrganisationForm {
    /// A short code, e.g. `health`; nodal officers' accounts name it.
    pub id: String,
    pub name: String,
    pub address: String,
    pub contact_person: String,
    pub designation: String,
    pub email: String,
    /// Ten digits; shown masked.
    pub mobile: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub city: String,
    pub state: String,
    pub pin_code: String,
    pub category: OrganisationCategory,
}

/// The application registration form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationForm {
    pub name: String,
    pub description: String,
    pub contact_person: String,
    pub email: String,
    /// What the application needs API access for.
    pub access_required_for: String,
    /// Public IP addresses or CIDR blocks the application calls from.
    pub public_ips: Vec<String>,
}

/// One service or data field the applicant asks for, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestedItem {
    /// A data field (e.g. `name`) or a service (e.g. `residents.search`).
    pub item: String,
    pub purpose: String,
}

/// The connectivity request (the SPARK / API-gateway form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectivityRequest {
    pub head_of_department: String,
    pub head_employee_id: String,
    pub nodal_officer: String,
    pub nodal_officer_contact: String,
    pub project_name: String,
    pub project_scope: String,
    pub software_frameworks: String,
    pub database_used: String,
    pub launch_date: NaiveDate,
    pub last_security_audit: NaiveDate,
    pub requested: Vec<RequestedItem>,
    /// The applicant's own API, if it will receive data (push).
    #[serde(default)]
    pub receiving_api: Option<String>,
    pub client_public_ips: Vec<String>,
    #[serde(default)]
    pub client_private_ips: Vec<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// Where an application is in onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Submitted,
    PreliminaryCheck,
    TechnicalEvaluation,
    Approved,
    Sandbox,
    Live,
    Suspended,
    Expired,
    Terminated,
    Refused,
}

impl ApplicationStatus {
    pub fn code(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::PreliminaryCheck => "preliminary_check",
            ApplicationStatus::TechnicalEvaluation => "technical_evaluation",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Sandbox => "sandbox",
            ApplicationStatus::Live => "live",
            ApplicationStatus::Suspended => "suspended",
            ApplicationStatus::Expired => "expired",
            ApplicationStatus::Terminated => "terminated",
            ApplicationStatus::Refused => "refused",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        use ApplicationStatus::*;
        [
            Submitted,
            PreliminaryCheck,
            TechnicalEvaluation,
            Approved,
            Sandbox,
            Live,
            Suspended,
            Expired,
            Terminated,
            Refused,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The steps an administrator may take from here. Approval has its own operation (it
    /// needs the agreed plan), and so do termination and renewal.
    pub fn may_move_to(self, to: ApplicationStatus) -> bool {
        use ApplicationStatus::*;
        matches!(
            (self, to),
            (Submitted, PreliminaryCheck)
                | (PreliminaryCheck, TechnicalEvaluation)
                | (Submitted | PreliminaryCheck | TechnicalEvaluation, Refused)
                | (Approved, Sandbox)
                | (Sandbox, Live)
                | (Sandbox | Live, Suspended)
                | (Suspended, Live)
        )
    }
}

/// A purpose the agreement approves, with the fields it may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovedPurpose {
    /// A short code sent with every request (`X-Purpose` or the token's `purpose`).
    pub code: String,
    pub description: String,
    /// Resident fields served for this purpose; see [`crate::sharing::fields::ALL`].
    pub fields: Vec<String>,
    /// Whether sensitive fields may be shown in full for this purpose (with the reveal scope).
    #[serde(default)]
    pub reveal: bool,
}

/// The agreed plan of an approval, and the agreement (MoU) it becomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgreementTerms {
    /// Operation scopes, e.g. `residents.read`; see [`crate::sharing::scopes::ALL`].
    pub scopes: Vec<String>,
    pub purposes: Vec<ApprovedPurpose>,
    #[schema(value_type = Object)]
    pub limits: Limits,
    /// Records a day the application expects to need: scraping thresholds derive from it.
    pub approved_daily_records: u64,
    /// Defaults to the approval day.
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    /// Defaults to three years after the start.
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    /// Days of notice either side gives to terminate; 30 by default.
    #[serde(default)]
    pub notice_days: Option<u32>,
}

/// An agreement in force or past.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agreement {
    pub id: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub notice_days: u32,
    pub scopes: Vec<String>,
    pub purposes: Vec<ApprovedPurpose>,
    #[schema(value_type = Object)]
    pub limits: Limits,
    pub approved_daily_records: u64,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
    #[serde(default)]
    pub terminated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub termination_reason: Option<String>,
    /// The consumer's confirmation that it destroyed the data it held, once terminated.
    #[serde(default)]
    pub destruction_confirmed: Option<DestructionConfirmation>,
}

impl Agreement {
    /// Whether the agreement allows access on `day` (India Standard Time).
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.terminated_at.is_none() && self.starts_on <= day && day <= self.ends_on
    }

    pub fn purpose(&self, code: &str) -> Option<&ApprovedPurpose> {
        self.purposes.iter().find(|p| p.code == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DestructionConfirmation {
    pub confirmed_by: String,
    pub confirmed_at: DateTime<Utc>,
    /// The consumer's certificate or letter number.
    pub reference: String,
}

/// Live or sandbox: sandbox credentials see only the demonstration registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Sandbox,
    Live,
}

impl Environment {
    pub fn code(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Live => "live",
        }
    }
}

/// A client secret, by its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretRecord {
    pub id: String,
    /// Hex of the keyed hash; never the secret.
    #[serde(rename = "hash")]
    pub hash_hex: String,
    pub environment: Environment,
    pub created_at: DateTime<Utc>,
    /// Set when a newer secret replaced this one: it works until then (the overlap window).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SecretRecord {
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Everything about an application that changes together, stored as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationDoc {
    pub form: ApplicationForm,
    pub request: ConnectivityRequest,
    #[serde(default)]
    pub status_reason: Option<String>,
    /// Oldest first; the last is the current one.
    #[serde(default)]
    pub agreements: Vec<Agreement>,
    #[serde(default)]
    pub secrets: Vec<SecretRecord>,
    pub submitted_by: String,
}

impl ApplicationDoc {
    pub fn agreement(&self) -> Option<&Agreement> {
        self.agreements.last()
    }
}

/// Agreements' days are India Standard Time days, like quotas'.
pub use sangam_access::limits::ist_day;
