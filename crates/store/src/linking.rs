//! Records of linking: how each enrolment came to its resident (or did not), the clerical
//! review queue of uncertain pairs, and what the matching engine reads of the registry.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::records::Resident;

/// Where an enrolment stands in being linked to a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Written without an exact link; the link job has not looked at it yet.
    Pending,
    Linked,
    /// The model found candidates it is unsure of; a reviewer decides.
    Review,
    /// No resident is likely enough: "not found in base data".
    NotFound,
}

impl LinkStatus {
    pub const ALL: [LinkStatus; 4] = [
        LinkStatus::Pending,
        LinkStatus::Linked,
        LinkStatus::Review,
        LinkStatus::NotFound,
    ];

    pub fn code(self) -> &'static str {
        match self {
            LinkStatus::Pending => "pending",
            LinkStatus::Linked => "linked",
            LinkStatus::Review => "review",
            LinkStatus::NotFound => "not_found",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// How a linked enrolment was linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    /// Its ID number's reference key is the resident's.
    IdNumber,
    /// The matching model was sure enough.
    Model,
    /// A reviewer accepted the model's candidate.
    Review,
}

impl LinkMethod {
    pub fn code(self) -> &'static str {
        match self {
            LinkMethod::IdNumber => "id_number",
            LinkMethod::Model => "model",
            LinkMethod::Review => "review",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [LinkMethod::IdNumber, LinkMethod::Model, LinkMethod::Review]
            .into_iter()
            .find(|m| m.code() == code)
    }
}

/// An enrolment's link, as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnrolmentLink {
    pub dataset: String,
    pub record_key: String,
    pub resident_id: Option<String>,
    pub status: LinkStatus,
    pub method: Option<LinkMethod>,
    /// The model's match probability for the linked (or best) resident.
    pub probability: Option<f64>,
    /// The upload that last wrote the enrolment.
    pub upload_id: String,
}

/// What the link job decided for one enrolment. Applied only if the enrolment is still at
/// `version` and still waiting (a newer upload may have changed it meanwhile).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDecision {
    pub dataset: String,
    pub record_key: String,
    pub version: i64,
    /// Linked (with the resident), review (with the candidates) or not found.
    pub status: LinkStatus,
    pub resident_id: Option<String>,
    pub probability: Option<f64>,
    /// For `Review`: the candidates to put in the queue.
    pub reviews: Vec<NewReview>,
}

/// A candidate pair for clerical review.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    pub id: String,
    pub resident_id: String,
    pub probability: f64,
    /// The model's explanation of the pair, as JSON (sensitive values already masked).
    pub explanation: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A reviewer's verdict on a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    /// The same person: the enrolment is linked to the resident.
    Accepted,
    /// Not the same person.
    Rejected,
    /// Closed without a verdict: another candidate of the record was accepted, or the record
    /// changed.
    Superseded,
}

impl ReviewStatus {
    pub fn code(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Accepted => "accepted",
            ReviewStatus::Rejected => "rejected",
            ReviewStatus::Superseded => "superseded",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            ReviewStatus::Pending,
            ReviewStatus::Accepted,
            ReviewStatus::Rejected,
            ReviewStatus::Superseded,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// One candidate pair in the review queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchReview {
    pub id: String,
    pub dataset: String,
    pub record_key: String,
    pub resident_id: String,
    pub probability: f64,
    pub explanation: serde_json::Value,
    /// The enrolment's version the pair was scored at.
    pub enrolment_version: i64,
    pub status: ReviewStatus,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// A resident as the matching engine reads it: the registry row and its household's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchableResident {
    pub resident: Resident,
    pub village_code: String,
}

/// Changes whenever the registry's residents do, so a cached index knows it is stale.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryStamp {
    pub residents: u64,
    pub last_change: Option<DateTime<Utc>>,
}
