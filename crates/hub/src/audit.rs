//! The typed audit events and the verification of the chain.
//!
//! Every administrative action and every reveal of a sensitive value is one [`AuditEvent`];
//! the enum is the list of what the hub records, so a new kind of action cannot be logged
//! without being named here. Details never hold a sensitive value, only reference keys.

use sangam_store::audit::{BrokenLink, ChainVerifier};
use sangam_store::{AuditDraft, AuditEntry};
use serde::Serialize;

use crate::{Hub, HubError, HubResult};

/// The action of a record served to an application: the access log's entries.
pub const RECORD_SERVED: &str = "record.served";

/// What the hub records in its audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The store was initialised with a master key (its fingerprint only).
    HubInitialised {
        backend: String,
        master_key_fingerprint: String,
    },
    /// A user signed in.
    SignedIn { username: String },
    /// A sign-in was refused.
    SignInRefused { username: String },
    /// A user account was created or its password changed.
    UserSaved { username: String, role: String },
    /// An ID number was decrypted and shown, for a stated purpose.
    IdNumberRevealed { ref_key: String, purpose: String },
    /// A new data-key version became active (key rotation began).
    DataKeyAdded { version: u32 },
    /// Every vault entry is sealed with the given version.
    ReencryptionCompleted { version: u32, resealed: u64 },
    /// Every stored rejected row of an upload is sealed with the given version.
    RejectionsReencrypted { version: u32, resealed: u64 },
    /// Scheme records' sealed fields were re-encrypted under data-key `version`.
    EnrolmentsReencrypted { version: u32, resealed: u64 },
    /// A data-key version was retired and can no longer decrypt.
    DataKeyRetired { version: u32 },
    /// A resident's record changed (field names only; values are in the registry history).
    ResidentUpdated {
        resident_id: String,
        fields: Vec<String>,
    },
    /// Households and residents were loaded into the registry.
    RegistryLoaded {
        source: String,
        households: u64,
        residents: u64,
    },
    /// An upload was loaded whole.
    UploadCommitted {
        upload_id: String,
        dataset: String,
        organisation: String,
        rows: u64,
        accepted: u64,
        rejected: u64,
    },
    /// An upload stopped; nothing of it was kept.
    UploadFailed {
        upload_id: String,
        dataset: String,
        organisation: String,
    },
    /// A dataset (a scheme's beneficiary list) was declared with its first spec.
    DatasetCreated {
        dataset: String,
        organisation: String,
        version: u32,
    },
    /// A new version of a dataset's spec became current.
    DatasetSpecChanged { dataset: String, version: u32 },
    /// An upload's rejected rows were handed out (to its own organisation).
    RejectionsDownloaded { upload_id: String, rows: u64 },
    /// The rejected rows of uploads that finished more than `retention_days` ago were
    /// deleted (by the system, under the hub's retention policy): how many uploads and rows.
    RejectionsPurged {
        uploads: u64,
        rows: u64,
        retention_days: u32,
    },
    /// An upload's reference-key mapping was handed out (to its own organisation).
    MappingDownloaded { upload_id: String, rows: u64 },
    /// A resident's details were verified yes or no (the claimed values are not kept).
    ResidentVerified { ref_key: String, agreed: bool },
    /// A reviewer decided whether a scheme record and a resident are the same person.
    MatchReviewDecided {
        review_id: String,
        dataset: String,
        record_key: String,
        accepted: bool,
    },
    /// A code list (villages, schemes) was loaded, replacing the one before.
    CodeListLoaded {
        name: String,
        entries: u64,
        sha256: String,
    },
    /// The model's explanation of a scheme record and a resident was shown.
    PairExplained {
        dataset: String,
        record_key: String,
        resident_id: String,
    },
    /// A dataset's not-found report was downloaded.
    NotFoundReportDownloaded { dataset: String, rows: u64 },
    /// A dataset's records not found in the base data were sent to be linked again.
    RelinkRequested { dataset: String, records: u64 },
    /// A base upload added or changed residents, so the hub sent a scheme's records not found
    /// back to be linked (by the system, for the upload named).
    RelinkAfterRegistryChange {
        dataset: String,
        records: u64,
        upload_id: String,
    },
    /// A candidate beneficiary was validated against the base data (the outcome only).
    CandidateValidated {
        dataset: String,
        found: bool,
        conflicts: usize,
    },
    /// A scheme's conflict report was read (from its start, or resumed from a cursor).
    DatasetConflictsRead { dataset: String, resumed: bool },
    /// A resident's conflicts across schemes were read.
    ResidentConflictsRead { resident_id: String, conflicts: u64 },
    /// An organisation registered (or its registration changed).
    OrganisationRegistered { organisation: String, name: String },
    /// A consuming application was submitted with its connectivity request.
    ApplicationSubmitted {
        application_id: String,
        organisation: String,
        name: String,
    },
    /// An application moved from one onboarding state to another.
    ApplicationStatusChanged {
        application_id: String,
        from: String,
        to: String,
        reason: Option<String>,
    },
    /// A comment, meeting notes, or a clarification asked or given.
    ApplicationNoteAdded {
        application_id: String,
        kind: String,
        text: String,
    },
    /// An application was approved; its agreed plan became an agreement.
    AgreementApproved {
        application_id: String,
        agreement_id: String,
        starts_on: String,
        ends_on: String,
        purposes: Vec<String>,
    },
    AgreementRenewed {
        application_id: String,
        agreement_id: String,
        ends_on: String,
    },
    AgreementTerminated {
        application_id: String,
        agreement_id: String,
        reason: String,
    },
    /// The consumer confirmed it destroyed the data it held.
    DataDestructionConfirmed {
        application_id: String,
        agreement_id: String,
        reference: String,
    },
    ClientSecretIssued {
        application_id: String,
        secret_id: String,
        environment: String,
    },
    ClientSecretRevoked {
        application_id: String,
        secret_id: String,
    },
    /// An access token was issued by the client-credentials grant.
    AccessTokenIssued {
        application_id: String,
        secret_id: String,
        scopes: Vec<String>,
    },
    /// A record was served to an application: the access log.
    RecordServed {
        application_id: String,
        resident_id: String,
        operation: String,
        fields: Vec<String>,
        purpose: String,
        request_id: String,
        client_ip: String,
    },
    /// The scraping detector raised an alert.
    ScrapingDetected {
        application_id: String,
        kind: String,
        detail: String,
        suspended: bool,
    },
    /// Residents were marked as decoys (how many only: which ones is the secret).
    HoneytokensPlanted { count: u64 },
    /// An application asked the hub to enrol a resident missing from it.
    ResidentRequested {
        application_id: String,
        request_id: String,
    },
}

impl AuditEvent {
    /// The dotted action code stored with the entry.
    pub fn action(&self) -> &'static str {
        match self {
            AuditEvent::HubInitialised { .. } => "hub.initialised",
            AuditEvent::SignedIn { .. } => "session.signed_in",
            AuditEvent::SignInRefused { .. } => "session.sign_in_refused",
            AuditEvent::UserSaved { .. } => "user.saved",
            AuditEvent::IdNumberRevealed { .. } => "vault.id_number_revealed",
            AuditEvent::DataKeyAdded { .. } => "vault.data_key_added",
            AuditEvent::ReencryptionCompleted { .. } => "vault.reencryption_completed",
            AuditEvent::RejectionsReencrypted { .. } => "vault.rejections_reencrypted",
            AuditEvent::EnrolmentsReencrypted { .. } => "vault.enrolments_reencrypted",
            AuditEvent::DataKeyRetired { .. } => "vault.data_key_retired",
            AuditEvent::ResidentUpdated { .. } => "registry.resident_updated",
            AuditEvent::RegistryLoaded { .. } => "registry.loaded",
            AuditEvent::UploadCommitted { .. } => "upload.committed",
            AuditEvent::UploadFailed { .. } => "upload.failed",
            AuditEvent::DatasetCreated { .. } => "dataset.created",
            AuditEvent::DatasetSpecChanged { .. } => "dataset.spec_changed",
            AuditEvent::RejectionsDownloaded { .. } => "upload.rejections_downloaded",
            AuditEvent::RejectionsPurged { .. } => "upload.rejections_purged",
            AuditEvent::MappingDownloaded { .. } => "upload.mapping_downloaded",
            AuditEvent::ResidentVerified { .. } => "resident.verified",
            AuditEvent::MatchReviewDecided { .. } => "match.review_decided",
            AuditEvent::PairExplained { .. } => "match.pair_explained",
            AuditEvent::CodeListLoaded { .. } => "code_list.loaded",
            AuditEvent::RelinkRequested { .. } => "match.relink_requested",
            AuditEvent::RelinkAfterRegistryChange { .. } => "match.relink_after_registry_change",
            AuditEvent::NotFoundReportDownloaded { .. } => "match.not_found_downloaded",
            AuditEvent::CandidateValidated { .. } => "resident.validated",
            AuditEvent::DatasetConflictsRead { .. } => "dataset.conflicts_read",
            AuditEvent::ResidentConflictsRead { .. } => "resident.conflicts_read",
            AuditEvent::OrganisationRegistered { .. } => "organisation.registered",
            AuditEvent::ApplicationSubmitted { .. } => "application.submitted",
            AuditEvent::ApplicationStatusChanged { .. } => "application.status_changed",
            AuditEvent::ApplicationNoteAdded { .. } => "application.note_added",
            AuditEvent::AgreementApproved { .. } => "agreement.approved",
            AuditEvent::AgreementRenewed { .. } => "agreement.renewed",
            AuditEvent::AgreementTerminated { .. } => "agreement.terminated",
            AuditEvent::DataDestructionConfirmed { .. } => "agreement.destruction_confirmed",
            AuditEvent::ClientSecretIssued { .. } => "client.secret_issued",
            AuditEvent::ClientSecretRevoked { .. } => "client.secret_revoked",
            AuditEvent::AccessTokenIssued { .. } => "client.token_issued",
            AuditEvent::RecordServed { .. } => RECORD_SERVED,
            AuditEvent::ScrapingDetected { .. } => "scraping.detected",
            AuditEvent::HoneytokensPlanted { .. } => "scraping.honeytokens_planted",
            AuditEvent::ResidentRequested { .. } => "resident.requested",
        }
    }

    /// The record the action is about, if one.
    pub fn target(&self) -> Option<String> {
        match self {
            AuditEvent::SignedIn { username }
            | AuditEvent::SignInRefused { username }
            | AuditEvent::UserSaved { username, .. } => Some(format!("user:{username}")),
            AuditEvent::IdNumberRevealed { ref_key, .. }
            | AuditEvent::ResidentVerified { ref_key, .. } => Some(format!("ref_key:{ref_key}")),
            AuditEvent::ResidentUpdated { resident_id, .. }
            | AuditEvent::RecordServed { resident_id, .. }
            | AuditEvent::ResidentConflictsRead { resident_id, .. } => {
                Some(format!("resident:{resident_id}"))
            }
            AuditEvent::DataKeyAdded { version }
            | AuditEvent::ReencryptionCompleted { version, .. }
            | AuditEvent::RejectionsReencrypted { version, .. }
            | AuditEvent::EnrolmentsReencrypted { version, .. }
            | AuditEvent::DataKeyRetired { version } => Some(format!("data_key:{version}")),
            AuditEvent::UploadCommitted { upload_id, .. }
            | AuditEvent::UploadFailed { upload_id, .. }
            | AuditEvent::RejectionsDownloaded { upload_id, .. }
            | AuditEvent::MappingDownloaded { upload_id, .. } => {
                Some(format!("upload:{upload_id}"))
            }
            AuditEvent::DatasetCreated { dataset, .. }
            | AuditEvent::DatasetSpecChanged { dataset, .. }
            | AuditEvent::RelinkRequested { dataset, .. }
            | AuditEvent::RelinkAfterRegistryChange { dataset, .. }
            | AuditEvent::PairExplained { dataset, .. }
            | AuditEvent::NotFoundReportDownloaded { dataset, .. }
            | AuditEvent::CandidateValidated { dataset, .. }
            | AuditEvent::DatasetConflictsRead { dataset, .. } => {
                Some(format!("dataset:{dataset}"))
            }
            AuditEvent::MatchReviewDecided { review_id, .. } => Some(format!("review:{review_id}")),
            AuditEvent::CodeListLoaded { name, .. } => Some(format!("code_list:{name}")),
            AuditEvent::ApplicationSubmitted { application_id, .. }
            | AuditEvent::ApplicationStatusChanged { application_id, .. }
            | AuditEvent::ApplicationNoteAdded { application_id, .. }
            | AuditEvent::AgreementApproved { application_id, .. }
            | AuditEvent::AgreementRenewed { application_id, .. }
            | AuditEvent::AgreementTerminated { application_id, .. }
            | AuditEvent::DataDestructionConfirmed { application_id, .. }
            | AuditEvent::ClientSecretIssued { application_id, .. }
            | AuditEvent::ClientSecretRevoked { application_id, .. }
            | AuditEvent::AccessTokenIssued { application_id, .. }
            | AuditEvent::ScrapingDetected { application_id, .. }
            | AuditEvent::ResidentRequested { application_id, .. } => {
                Some(format!("application:{application_id}"))
            }
            AuditEvent::OrganisationRegistered { organisation, .. } => {
                Some(format!("organisation:{organisation}"))
            }
            AuditEvent::HubInitialised { .. }
            | AuditEvent::RegistryLoaded { .. }
            | AuditEvent::RejectionsPurged { .. }
            | AuditEvent::HoneytokensPlanted { .. } => None,
        }
    }

    /// The event's fields as canonical JSON (keys sorted), without the action tag.
    pub(crate) fn details(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("action");
        }
        value.to_string()
    }
}

/// The outcome of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    /// The hash of the last entry: keep it outside the hub to notice a truncated log later.
    pub head: String,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

impl Hub {
    /// Appends an event to the audit log.
    pub async fn audit(&self, actor: &str, event: AuditEvent) -> HubResult<AuditEntry> {
        let draft = AuditDraft {
            at: self.now(),
            actor: actor.to_owned(),
            action: event.action().to_owned(),
            target: event.target(),
            details: event.details(),
        };
        Ok(self.store.append_audit(&draft).await?)
    }

    /// Walks the chain from the first entry and names the first broken link.
    pub async fn verify_audit(&self) -> HubResult<AuditReport> {
        let mut verifier = ChainVerifier::default();
        let mut after = 0;
        loop {
            let page = self.store.audit_entries(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in &page {
                if let Err(broken) = verifier.check(entry) {
                    return Ok(AuditReport {
                        entries: verifier.checked(),
                        head: verifier.head().to_owned(),
                        broken: Some(broken),
                    });
                }
            }
        }
        Ok(AuditReport {
            entries: verifier.checked(),
            head: verifier.head().to_owned(),
            broken: None,
        })
    }

    /// The most recent entries, newest last.
    pub async fn recent_audit(&self, after: i64, limit: u32) -> HubResult<Vec<AuditEntry>> {
        if limit == 0 || limit > 1000 {
            return Err(HubError::Invalid {
                field: "limit".into(),
                code: "limit.range",
                message: "must be between 1 and 1000".into(),
            });
        }
        Ok(self.store.audit_entries(after, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_hold_the_fields_but_not_the_tag() {
        let e = AuditEvent::IdNumberRevealed {
            ref_key: "abc".into(),
            purpose: "ekyc".into(),
        };
        assert_eq!(e.action(), "vault.id_number_revealed");
        assert_eq!(e.target().as_deref(), Some("ref_key:abc"));
        assert_eq!(e.details(), r#"{"purpose":"ekyc","ref_key":"abc"}"#);
    }
}
