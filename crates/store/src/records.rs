//! The records the store keeps. Values that came from outside are held as domain types, so a
//! backend that reads back something that does not parse reports it as corrupt rather than
//! passing it on.

use chrono::{DateTime, Utc};
use sangam_domain::{
    CardType, DateOfBirth, EkycStatus, Gender, LifeStatus, PersonName, RationCardNumber, RefKey,
    Relationship, VillageCode,
};
use serde::Serialize;

/// Keys of the `hub_meta` table.
pub mod meta_keys {
    /// The fingerprint of the master key the hub was created with.
    pub const MASTER_KEY_FINGERPRINT: &str = "master_key_fingerprint";
    /// When the hub's store was first initialised.
    pub const CREATED_AT: &str = "created_at";
}

// ---------------------------------------------------------------- vault

/// Whether a data key may still be used to encrypt or decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Retired,
}

impl KeyStatus {
    pub fn code(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "active" => Some(KeyStatus::Active),
            "retired" => Some(KeyStatus::Retired),
            _ => None,
        }
    }
}

/// A data key as stored: wrapped by the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDataKey {
    pub version: u32,
    /// `encryption` or `blind_index` (see `sangam_vault::KeyPurpose`).
    pub purpose: String,
    pub wrapped: Vec<u8>,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
}

/// A vault entry to store: one ID number, sealed and indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVaultEntry {
    /// The reference key to give the number if it is not in the vault yet.
    pub ref_key: RefKey,
    pub blind_index: [u8; 32],
    pub key_version: u32,
    pub sealed: Vec<u8>,
    pub consent_ref: String,
    pub created_at: DateTime<Utc>,
}

/// A vault entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultEntry {
    pub ref_key: RefKey,
    pub blind_index: [u8; 32],
    pub key_version: u32,
    pub sealed: Vec<u8>,
    pub consent_ref: String,
    pub created_at: DateTime<Utc>,
}

/// A vault entry re-encrypted under a newer key, to be written only if it is still at
/// `expected_version` (so two re-encryption workers never overwrite each other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseal {
    pub ref_key: RefKey,
    pub expected_version: u32,
    pub new_version: u32,
    pub sealed: Vec<u8>,
}

// ---------------------------------------------------------------- registry

/// A household's postal address as the ration card records it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Address {
    pub house_no: Option<String>,
    pub street: Option<String>,
    pub locality: Option<String>,
    pub pincode: Option<String>,
}

/// A household: one ration card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    pub card_number: RationCardNumber,
    pub card_type: CardType,
    pub address: Address,
    pub village_code: VillageCode,
    /// The resident id of the head of household, once known.
    pub head_resident_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change; updates state the version they read.
    pub version: i64,
}

/// A member of a household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// The hub's own identifier of the person.
    pub resident_id: String,
    pub card_number: RationCardNumber,
    pub name: PersonName,
    /// Father's or husband's name as the card records it.
    pub relative_name: Option<PersonName>,
    pub gender: Gender,
    pub dob: DateOfBirth,
    pub relationship: Relationship,
    /// Only the masked form (`XXXXXX1234`) is kept in the registry.
    pub mobile_masked: Option<String>,
    /// Keyed blind index of the full mobile number, for exact matching without storing it.
    pub mobile_blind_index: Option<[u8; 32]>,
    /// Reference key of the person's ID number in the vault, if one was given.
    pub id_ref_key: Option<RefKey>,
    pub ekyc_status: EkycStatus,
    pub life_status: LifeStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// One changed field of a registry record, with sensitive values already masked or keyed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// Which kind of registry record a history entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Household,
    Resident,
}

impl EntityKind {
    pub fn code(self) -> &'static str {
        match self {
            EntityKind::Household => "household",
            EntityKind::Resident => "resident",
        }
    }
}

/// One field change as kept in the registry history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// A registry record as a load changed it, with its changed fields for the history. The
/// record carries its new version; the stored one must still be the version before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryUpdate<T> {
    pub record: T,
    pub changes: Vec<FieldChange>,
}

/// Who made a change, when and why: stamped on every registry write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeContext {
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Counts for the dashboard and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RegistryCounts {
    pub households: u64,
    pub residents: u64,
    pub residents_with_id_number: u64,
    pub vault_entries: u64,
}

// ---------------------------------------------------------------- audit

/// An audit entry before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// Canonical JSON text; kept as text so that the hashed bytes are the stored bytes.
    pub details: String,
}

/// Which audit entries to list: each given filter must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
}

/// An entry of the append-only, hash-chained audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

// ---------------------------------------------------------------- jobs

/// Where a background job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobStatus {
    pub fn code(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "queued" => Some(JobStatus::Queued),
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// A background job kept in the store, so that a restart loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- accounts

/// What a hub user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Hub administrator: everything.
    Admin,
    /// A department's nodal officer (uploads and reports of their organisation).
    NodalOfficer,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::NodalOfficer => "nodal_officer",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "admin" => Some(Role::Admin),
            "nodal_officer" => Some(Role::NodalOfficer),
            _ => None,
        }
    }
}

/// A person who signs in to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub role: Role,
    /// The organisation a nodal officer acts for (administrators have none).
    pub organisation: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A signed-in session. Only the SHA-256 of the bearer token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: [u8; 32],
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- uploads

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Recorded, not started.
    Received,
    /// Being read, validated and loaded in one transaction.
    Validating,
    /// Loaded whole.
    Committed,
    /// Stopped by an error; nothing of it was kept.
    Failed,
    /// Its process died mid-load; nothing of it was kept, and it can be retried.
    Interrupted,
}

impl UploadStatus {
    pub fn code(self) -> &'static str {
        match self {
            UploadStatus::Received => "received",
            UploadStatus::Validating => "validating",
            UploadStatus::Committed => "committed",
            UploadStatus::Failed => "failed",
            UploadStatus::Interrupted => "interrupted",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "received" => Some(UploadStatus::Received),
            "validating" => Some(UploadStatus::Validating),
            "committed" => Some(UploadStatus::Committed),
            "failed" => Some(UploadStatus::Failed),
            "interrupted" => Some(UploadStatus::Interrupted),
            _ => None,
        }
    }
}

/// What an upload did, row by row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UploadCounts {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

/// One upload (batch) of a dataset by an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadRecord {
    pub id: String,
    pub dataset: String,
    pub organisation: String,
    pub uploaded_by: String,
    pub file_name: String,
    /// SHA-256 of the file's bytes, hex.
    pub file_sha256: String,
    /// The uploader's key for "the same upload": with the checksum, it never loads twice.
    pub idempotency_key: String,
    /// `full` or `incremental`.
    pub mode: String,
    pub status: UploadStatus,
    pub counts: UploadCounts,
    /// The upload whose rejected rows this one corrects.
    pub corrects: Option<String>,
    /// Why it failed, in words without personal data.
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When its rejected rows (and the file's header, which only their report uses) were
    /// removed under the hub's retention policy. The counts stay.
    pub rejections_purged_at: Option<DateTime<Utc>>,
}

/// A rejected row as stored: sealed, because it holds what the officer typed, ID and bank
/// numbers included. Opened only to hand the report to the uploading organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRejection {
    /// The row's line in the uploaded file (unique within an upload).
    pub line: u64,
    pub key_version: u32,
    pub sealed: Vec<u8>,
}

/// A stored rejected row with the upload it belongs to: what key rotation walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionEntry {
    pub upload_id: String,
    pub line: u64,
    pub key_version: u32,
    pub sealed: Vec<u8>,
}

/// A rejected row re-encrypted under a newer key, to be written only if it is still at
/// `expected_version` (as [`Reseal`] is for vault entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionReseal {
    pub upload_id: String,
    pub line: u64,
    pub expected_version: u32,
    pub new_version: u32,
    pub sealed: Vec<u8>,
}

/// A scheme record's sealed fields, as key rotation re-seals them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEnrolment {
    pub dataset: String,
    pub record_key: String,
    pub key_version: u32,
    pub sealed: Vec<u8>,
}

/// A scheme record's fields re-sealed under `new_version`, written only if the record is
/// still at `expected_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentReseal {
    pub dataset: String,
    pub record_key: String,
    pub expected_version: u32,
    pub new_version: u32,
    pub sealed: Vec<u8>,
}

/// What one batch of the retention purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RejectionPurge {
    /// Uploads whose rejected rows are now all gone (and marked so).
    pub uploads: u64,
    /// Rejected rows deleted.
    pub rows: u64,
    /// Whether the batch stopped at its limit, so that more may be left to purge.
    pub more: bool,
}

/// One accepted row's entry in the reference-key mapping handed back to the uploader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingEntry {
    /// Order within the upload.
    pub seq: u64,
    /// The department's record key (for the base registry, the ration card number).
    pub record_key: String,
    /// The reference key of the row's ID number, if it had one.
    pub ref_key: Option<RefKey>,
    /// The ID number masked (`XXXX XXXX 1234`).
    pub id_masked: Option<String>,
    /// The resident the row is linked to, if any.
    pub resident_id: Option<String>,
    /// `added`, `modified`, `unchanged` or `deleted`.
    pub outcome: String,
}

// ---------------------------------------------------------------- datasets

/// A dataset the hub accepts uploads of: a welfare scheme's beneficiary list, owned by an
/// organisation, with versioned data specs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    /// `[a-z0-9_]{2,64}`, the spec's `dataset`.
    pub name: String,
    pub title: String,
    /// The organisation whose nodal officers upload it.
    pub organisation: String,
    /// The spec version uploads are validated against now.
    pub current_version: u32,
    /// Expected days between uploads, for the overdue list.
    pub update_frequency_days: Option<u32>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One version of a dataset's data spec, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetSpecVersion {
    pub dataset: String,
    pub version: u32,
    pub spec_json: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// When a dataset last had an upload committed, per organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUpload {
    pub dataset: String,
    pub organisation: String,
    pub upload_id: String,
    pub finished_at: DateTime<Utc>,
}

/// Whether an enrolment is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentStatus {
    Active,
    /// Deleted by an incremental upload, or absent from a later full upload. Kept, so the
    /// record's history and its reference key stay answerable.
    Removed,
}

impl EnrolmentStatus {
    pub fn code(self) -> &'static str {
        match self {
            EnrolmentStatus::Active => "active",
            EnrolmentStatus::Removed => "removed",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "active" => Some(EnrolmentStatus::Active),
            "removed" => Some(EnrolmentStatus::Removed),
            _ => None,
        }
    }
}

/// One scheme's record of one person (a beneficiary), keyed by the department's record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub dataset: String,
    pub record_key: String,
    /// The reference key of the record's ID number, if it had one.
    pub ref_key: Option<RefKey>,
    /// The resident the record is linked to; `None` is "unlinked" (no resolvable ID number;
    /// the matching engine links those).
    pub resident_id: Option<String>,
    /// The record's non-sensitive fields, by spec column name, as JSON.
    pub fields: serde_json::Value,
    /// The sensitive fields (mobile, bank account), sealed as one JSON object.
    pub key_version: u32,
    pub sealed: Vec<u8>,
    /// Keyed digest of the whole record, to tell changed from unchanged without opening it.
    pub digest: [u8; 32],
    pub status: EnrolmentStatus,
    /// The spec version the record was validated against.
    pub spec_version: u32,
    /// The upload that last wrote it.
    pub upload_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// What an upload needs to know of an enrolment it may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentState {
    pub record_key: String,
    pub digest: [u8; 32],
    pub status: EnrolmentStatus,
    pub ref_key: Option<RefKey>,
    pub version: i64,
}

// ---------------------------------------------------------------- conflicts

/// An active enrolment linked to a resident, with the resident as the registry holds them
/// now: what the conflict checks read (the enrolment's fields are not needed, so not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedEnrolment {
    pub dataset: String,
    pub record_key: String,
    /// The reference key of the record's own ID number, if it had one.
    pub ref_key: Option<RefKey>,
    pub resident: Resident,
}

/// A code list as loaded: the CSV it came from (already checked whole) and who loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCodeList {
    /// `villages`, `schemes` or `ifsc`.
    pub name: String,
    pub body: String,
    pub entries: u64,
    /// SHA-256 of the body, hex.
    pub sha256: String,
    pub loaded_by: String,
    pub loaded_at: DateTime<Utc>,
}
