//! What the store keeps for sharing with consuming applications: organisations, applications
//! (their registration, onboarding state, agreements and client secrets, as one versioned
//! document), daily usage, decoy residents, and residents that applications ask the hub to
//! enrol. Who saw which record, and every onboarding step, are in the audit log
//! ([`crate::AuditFilter`] finds them).

use chrono::{DateTime, NaiveDate, Utc};

/// A registered organisation (department, PSU or private agency). The registration form's
/// fields are the hub's business: the store keeps them as a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrganisation {
    pub id: String,
    pub name: String,
    /// JSON text.
    pub doc: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A consuming application with everything about it that changes together: its registration,
/// connectivity request, onboarding status, agreements and client secrets (hashes only).
/// Updates are optimistic: each one must carry the next version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApplication {
    pub id: String,
    pub organisation: String,
    /// Set once credentials are first issued.
    pub client_id: Option<String>,
    pub status: String,
    pub version: i64,
    /// JSON text.
    pub doc: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A resident an application asked the hub to enrol, waiting for verification. The details
/// may hold an ID number: they are sealed by the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentRequest {
    pub id: String,
    pub application_id: String,
    pub status: String,
    pub key_version: u32,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Requests of one application on one day (India Standard Time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    pub application_id: String,
    pub day: NaiveDate,
    pub requests: u64,
}
