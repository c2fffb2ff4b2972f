//! Uploads of department data: the batch itself (idempotency, status, counts, the one load
//! transaction), and the rows of the base registry (ration cards and their members). The
//! rows of a scheme's dataset are in `scheme_upload.rs`.
//!
//! A file is read as a stream and handled in chunks, all inside one load transaction of the
//! store: a crash at any moment leaves nothing of the upload behind, and the upload is then
//! reported as interrupted and can be run again. Every row is validated; a rejected row goes to
//! the caller's sink with its line, its original values and its reasons, is kept sealed for
//! the rejection report, and the rest loads. ID numbers go to the vault inside the same
//! transaction; the registry keeps reference keys, and the uploader gets the mapping.
//!
//! Memory stays bounded by the chunk, not the file, with one exception kept small on purpose:
//! the 64-bit hashes of the ration cards this upload has created, so that a card whose members
//! are spread over several chunks is recognised (8 bytes a household).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::NaiveDate;
use sangam_domain::{ConsentRef, IdNumber, RefKey, Relationship};
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::{RejectedRow, RowProblem};
use sangam_ingest::spec::{self, FieldProblem, ValidRow, Validator, Value};
use sangam_ingest::{RawRecord, RecordError};
use sangam_store::{
    Address, Household, MappingEntry, NewVaultEntry, RegistryLoad, UploadCounts, UploadRecord,
    UploadStatus,
};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::registry::{HouseholdDetails, MemberDetails, household_record};
use crate::upload_reports::StoringSink;
use crate::vault::Vault;
use crate::{Hub, HubError, HubResult};

/// Rows read, validated and loaded per step.
pub const CHUNK_ROWS: usize = 10_000;
/// The dataset name of the base registry.
pub const BASE_DATASET: &str = "base";

/// Whether a file is the dataset's whole content or a set of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// The whole dataset: for a scheme, records the hub holds that the file lacks are removed.
    #[default]
    Full,
    /// Rows carry an operation (add, modify, delete) keyed by the record key.
    Incremental,
}

impl UploadMode {
    pub fn code(self) -> &'static str {
        match self {
            UploadMode::Full => "full",
            UploadMode::Incremental => "incremental",
        }
    }

    pub fn parse(text: &str) -> HubResult<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(UploadMode::Full),
            "incremental" => Ok(UploadMode::Incremental),
            _ => Err(HubError::Invalid {
                field: "mode".into(),
                code: "mode.unknown",
                message: "the mode is `full` or `incremental`".into(),
            }),
        }
    }
}

/// What the uploader says about an upload.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub dataset: String,
    pub mode: UploadMode,
    pub organisation: String,
    pub uploaded_by: String,
    pub file_name: String,
    /// SHA-256 of the file's bytes, hex: with the idempotency key, the file never loads twice.
    pub file_sha256: String,
    pub idempotency_key: String,
    /// The upload whose rejected rows this one corrects.
    pub corrects: Option<String>,
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UploadOutcome {
    /// Loaded now.
    Loaded {
        upload: UploadRecord,
        unknown_columns: Vec<String>,
    },
    /// The same file with the same idempotency key was loaded before: nothing was done.
    AlreadyLoaded { upload: UploadRecord },
}

impl UploadOutcome {
    pub fn upload(&self) -> &UploadRecord {
        match self {
            UploadOutcome::Loaded { upload, .. } | UploadOutcome::AlreadyLoaded { upload } => {
                upload
            }
        }
    }
}

/// Where rejected rows go (a report file, a stored report).
pub trait RejectionSink: Send {
    fn reject(&mut self, row: RejectedRow) -> HubResult<()>;
}

pub(crate) fn problem(column: Option<&str>, code: &str, message: impl Into<String>) -> RowProblem {
    RowProblem {
        column: column.map(str::to_owned),
        code: code.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn rejected_from_problems(
    record: RawRecord,
    problems: Vec<FieldProblem>,
) -> RejectedRow {
    RejectedRow {
        line: record.line,
        fields: record.fields,
        errors: problems
            .into_iter()
            .map(|p| RowProblem {
                column: Some(p.column),
                code: p.code,
                message: p.message,
            })
            .collect(),
    }
}

pub(crate) fn rejected_from_read_error(e: &RecordError) -> RejectedRow {
    RejectedRow {
        line: e.line(),
        fields: Vec::new(),
        errors: vec![problem(None, e.code(), e.to_string())],
    }
}

/// One valid member row of the base registry, in domain types.
struct MemberRow {
    line: u64,
    fields: Vec<String>,
    household: HouseholdDetails,
    member: MemberDetails,
    /// The resident id the row gets if it is accepted, drawn as it is read.
    resident_id: String,
    /// Taken, with the consent, when the chunk is sealed.
    id_number: Option<IdNumber>,
    consent: Option<ConsentRef>,
    /// The ID number sealed for the vault.
    sealed: Option<NewVaultEntry>,
    /// The ID number masked, for the uploader's mapping (set when it is sealed).
    id_masked: Option<String>,
}

fn text(row: &ValidRow, column: &str) -> Option<String> {
    match row.get(column) {
        Some(Value::Text(t)) if !t.is_empty() => Some(t.clone()),
        Some(Value::Pincode(p)) => Some(p.clone()),
        _ => None,
    }
}

/// Picks the base registry's columns out of a validated row. The spec guarantees the types;
/// a mismatch here is a bug in the spec, reported as an internal error for that row.
fn member_row(row: ValidRow, fields: Vec<String>) -> Result<MemberRow, (Vec<String>, u64)> {
    macro_rules! required {
        ($column:literal, $variant:ident) => {
            match row.get($column) {
                Some(Value::$variant(v)) => v.clone(),
                _ => return Err((fields, row.line)),
            }
        };
    }
    macro_rules! optional {
        ($column:literal, $variant:ident) => {
            match row.get($column) {
                Some(Value::$variant(v)) => Some(v.clone()),
                _ => None,
            }
        };
    }
    Ok(MemberRow {
        line: row.line,
        household: HouseholdDetails {
            card_number: required!("ration_card_no", RationCard),
            card_type: required!("card_type", CardType),
            address: Address {
                house_no: text(&row, "house_no"),
                street: text(&row, "street"),
                locality: text(&row, "locality"),
                pincode: text(&row, "pincode"),
            },
            village_code: required!("village_code", VillageCode),
        },
        member: MemberDetails {
            name: required!("member_name", Name),
            relative_name: optional!("relative_name", Name),
            gender: required!("gender", Gender),
            dob: required!("dob", Dob),
            relationship: required!("relationship", Relationship),
            mobile: optional!("mobile", Mobile),
            life_status: optional!("life_status", LifeStatus).unwrap_or_default(),
        },
        resident_id: uuid::Uuid::now_v7().to_string(),
        id_number: optional!("aadhaar", IdNumber),
        consent: optional!("consent_ref", ConsentRef),
        sealed: None,
        id_masked: None,
        fields,
    })
}

/// What one blocking read of the source produced.
struct ReadChunk {
    members: Vec<MemberRow>,
    rejected: Vec<RejectedRow>,
    rows: u64,
    exhausted: bool,
}

fn read_chunk(source: &mut dyn RecordSource, validator: &Validator) -> ReadChunk {
    let mut chunk = ReadChunk {
        members: Vec::new(),
        rejected: Vec::new(),
        rows: 0,
        exhausted: false,
    };
    while chunk.rows < CHUNK_ROWS as u64 {
        let Some(next) = source.next() else {
            chunk.exhausted = true;
            break;
        };
        chunk.rows += 1;
        match next {
            Err(e) => chunk.rejected.push(rejected_from_read_error(&e)),
            Ok(record) => match validator.validate(&record) {
                Err(problems) => chunk
                    .rejected
                    .push(rejected_from_problems(record, problems)),
                Ok(valid) => match member_row(valid, record.fields) {
                    Ok(member) => chunk.members.push(member),
                    Err((fields, line)) => chunk.rejected.push(RejectedRow {
                        line,
                        fields,
                        errors: vec![problem(
                            None,
                            "row.internal",
                            "the hub could not read this row's values; report it to the hub team",
                        )],
                    }),
                },
            },
        }
    }
    chunk
}

/// Seals the chunk's ID numbers into vault entries kept with their rows. It runs with the
/// reading of the chunk, while the store writes the one before.
async fn seal_chunk(
    vault: &Vault,
    chunk: &mut ReadChunk,
    default_consent: &ConsentRef,
) -> HubResult<()> {
    let mut owners = Vec::new();
    let mut to_seal = Vec::new();
    for (i, m) in chunk.members.iter_mut().enumerate() {
        if let Some(id) = m.id_number.take() {
            m.id_masked = Some(id.masked());
            let consent = m.consent.take().unwrap_or_else(|| default_consent.clone());
            owners.push(i);
            to_seal.push((id, consent));
        }
    }
    let sealed = vault.seal_entries(to_seal).await?;
    if sealed.len() != owners.len() {
        return Err(HubError::Internal(
            "sealing returned too few entries".into(),
        ));
    }
    for (i, entry) in owners.into_iter().zip(sealed) {
        if let Some(m) = chunk.members.get_mut(i) {
            m.sealed = Some(entry);
        }
    }
    Ok(())
}

/// Per-upload state that spans chunks.
struct LoadState {
    upload_id: String,
    counts: UploadCounts,
    /// The last sequence number given to a mapping entry.
    mapping_seq: u64,
    /// Hashes of the cards this upload created (see the module comment).
    cards_created: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl LoadState {
    fn card_hash(&self, card: &str) -> u64 {
        self.hasher.hash_one(card)
    }
}

impl Hub {
    /// Loads a file of a dataset as one upload: the base registry (one row per member) or a
    /// scheme's beneficiaries. Rejected rows go to `sink` as well as to the stored report.
    pub async fn run_upload(
        &self,
        request: UploadRequest,
        source: Box<dyn RecordSource>,
        sink: &mut dyn RejectionSink,
        progress: &(dyn Fn(u64) + Sync),
    ) -> HubResult<UploadOutcome> {
        let target = self.dataset(&request.dataset).await?;
        if request.organisation != target.dataset.organisation {
            return Err(HubError::Forbidden(format!(
                "dataset {} is uploaded by {}, not {}",
                target.dataset.name, target.dataset.organisation, request.organisation
            )));
        }
        let is_base = target.dataset.name == BASE_DATASET;
        if is_base && request.mode == UploadMode::Incremental {
            return Err(HubError::Invalid {
                field: "mode".into(),
                code: "mode.unsupported",
                message: "the base registry is loaded in full (first-time migration); changes to \
                          households and members go through the registry API"
                    .into(),
            });
        }
        if let Some(corrected) = &request.corrects {
            let earlier = self
                .upload(corrected)
                .await
                .map_err(|_| HubError::Invalid {
                    field: "corrects".into(),
                    code: "corrects.unknown",
                    message: format!("there is no upload {corrected} to correct"),
                })?;
            if earlier.dataset != request.dataset || earlier.organisation != request.organisation {
                return Err(HubError::Invalid {
                    field: "corrects".into(),
                    code: "corrects.other_dataset",
                    message: format!(
                        "upload {corrected} is of another dataset or organisation; a correction \
                         goes to the same dataset"
                    ),
                });
            }
        }
        self.store.reap_interrupted_uploads(self.now()).await?;
        let upload = match self
            .store
            .find_upload(
                &request.dataset,
                &request.organisation,
                &request.file_sha256,
                &request.idempotency_key,
            )
            .await?
        {
            Some(existing) if existing.status == UploadStatus::Committed => {
                return Ok(UploadOutcome::AlreadyLoaded { upload: existing });
            }
            Some(existing) if existing.status == UploadStatus::Validating => {
                return Err(HubError::Conflict(format!(
                    "this file is being loaded now as upload {} (if the process loading it has \
                     stopped, run the upload again in a minute)",
                    existing.id
                )));
            }
            // A failed or interrupted upload of the same file is run again under its own id.
            Some(mut retry) => {
                retry.status = UploadStatus::Received;
                retry.counts = UploadCounts::default();
                retry.error = None;
                retry.finished_at = None;
                self.store.update_upload(&retry).await?;
                retry
            }
            None => {
                let upload = UploadRecord {
                    id: uuid::Uuid::now_v7().to_string(),
                    dataset: request.dataset.clone(),
                    organisation: request.organisation.clone(),
                    uploaded_by: request.uploaded_by.clone(),
                    file_name: request.file_name.clone(),
                    file_sha256: request.file_sha256.clone(),
                    idempotency_key: request.idempotency_key.clone(),
                    mode: request.mode.code().into(),
                    status: UploadStatus::Received,
                    counts: UploadCounts::default(),
                    corrects: request.corrects.clone(),
                    error: None,
                    received_at: self.now(),
                    finished_at: None,
                };
                self.store.insert_upload(&upload).await?;
                upload
            }
        };

        let spec = target.spec;
        if !is_base
            && request.mode == UploadMode::Incremental
            && !spec
                .columns
                .iter()
                .any(|c| c.kind == spec::ColumnKind::Operation)
        {
            let reason = format!(
                "the spec of {} has no operation column, so it cannot take incremental uploads",
                request.dataset
            );
            return Err(self.fail_upload(upload, &reason).await);
        }
        let header_map = match spec::match_header(&spec, source.header()) {
            Ok(map) => map,
            Err(e) => return Err(self.fail_upload(upload, &e.to_string()).await),
        };
        let unknown_columns = header_map
            .unknown
            .iter()
            .map(|u| u.header.clone())
            .collect();
        if !is_base && request.mode == UploadMode::Incremental {
            let has_operation = spec
                .columns
                .iter()
                .enumerate()
                .any(|(i, c)| c.kind == spec::ColumnKind::Operation && header_map.has(i));
            if !has_operation {
                let reason = "an incremental upload needs the operation column (add, modify or \
                              delete on each row)";
                return Err(self.fail_upload(upload, reason).await);
            }
        }
        let header = source.header().to_vec();
        let validator =
            Validator::new(spec, header_map, self.today(), None, None).map_err(|e| {
                HubError::Internal(format!("the spec of {} is invalid: {e}", request.dataset))
            })?;
        let validator = Arc::new(validator);

        let mut validating = upload.clone();
        validating.status = UploadStatus::Validating;
        self.store.update_upload(&validating).await?;
        let mut load = self.store.begin_registry_load(&upload.id).await?;
        load.put_header(header).await?;
        let ring = self.vault.sealing_ring().await?;
        let mut sink = StoringSink::new(sink, ring, &upload.id);
        let loaded = if is_base {
            let mut state = LoadState {
                upload_id: upload.id.clone(),
                counts: UploadCounts::default(),
                mapping_seq: 0,
                cards_created: HashSet::new(),
                hasher: Default::default(),
            };
            self.load_chunks(
                source, validator, &mut *load, &mut state, &mut sink, progress,
            )
            .await
            .map(|()| state.counts)
        } else {
            self.load_scheme_chunks(
                &validating,
                request.mode,
                source,
                validator,
                &mut *load,
                &mut sink,
                progress,
            )
            .await
        };
        let counts = match loaded {
            Ok(counts) => counts,
            Err(e) => {
                drop(load);
                return Err(self.fail_upload(validating, &e.to_string()).await);
            }
        };
        let mut done = validating;
        done.status = UploadStatus::Committed;
        done.counts = counts;
        done.finished_at = Some(self.now());
        load.commit(done.clone()).await?;
        self.audit(
            &done.uploaded_by,
            AuditEvent::UploadCommitted {
                upload_id: done.id.clone(),
                dataset: done.dataset.clone(),
                organisation: done.organisation.clone(),
                rows: done.counts.rows,
                accepted: done.counts.accepted,
                rejected: done.counts.rejected,
            },
        )
        .await?;
        Ok(UploadOutcome::Loaded {
            upload: done,
            unknown_columns,
        })
    }

    /// Uploads, newest first; of one organisation when given.
    pub async fn uploads(
        &self,
        organisation: Option<&str>,
        limit: u32,
    ) -> HubResult<Vec<UploadRecord>> {
        if !(1..=500).contains(&limit) {
            return Err(HubError::Invalid {
                field: "limit".into(),
                code: "limit.range",
                message: "must be between 1 and 500".into(),
            });
        }
        // Listing is also when an upload whose process died is seen to be interrupted.
        self.store.reap_interrupted_uploads(self.now()).await?;
        Ok(self.store.uploads(organisation, limit).await?)
    }

    pub async fn upload(&self, id: &str) -> HubResult<UploadRecord> {
        self.store
            .upload(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("upload {id}")))
    }

    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Records an upload as failed (nothing of it kept) and returns the error to report.
    async fn fail_upload(&self, mut upload: UploadRecord, reason: &str) -> HubError {
        upload.status = UploadStatus::Failed;
        upload.error = Some(reason.to_owned());
        upload.finished_at = Some(self.now());
        let event = AuditEvent::UploadFailed {
            upload_id: upload.id.clone(),
            dataset: upload.dataset.clone(),
            organisation: upload.organisation.clone(),
        };
        if let Err(e) = self.store.update_upload(&upload).await {
            return e.into();
        }
        if let Err(e) = self.audit(&upload.uploaded_by, event).await {
            return e;
        }
        HubError::Invalid {
            field: "file".into(),
            code: "upload.failed",
            message: reason.to_owned(),
        }
    }

    async fn load_chunks(
        &self,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
        load: &mut dyn RegistryLoad,
        state: &mut LoadState,
        sink: &mut StoringSink<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> HubResult<()> {
        // The next chunk is read, validated (on the blocking pool) and sealed while this one
        // is written, so the file, the cores and the database work at the same time.
        let default_consent = ConsentRef::parse(&format!("UPLOAD-{}", state.upload_id))
            .map_err(|e| HubError::Internal(e.message))?;
        let read = |mut source: Box<dyn RecordSource>, v: Arc<Validator>| {
            let vault = self.vault.clone();
            let consent = default_consent.clone();
            tokio::spawn(async move {
                let (source, mut chunk) = tokio::task::spawn_blocking(move || {
                    let chunk = read_chunk(source.as_mut(), &v);
                    (source, chunk)
                })
                .await
                .map_err(|e| HubError::Internal(format!("reading the file failed: {e}")))?;
                seal_chunk(&vault, &mut chunk, &consent).await?;
                Ok::<_, HubError>((source, chunk))
            })
        };
        let mut pending = Some(read(source, validator.clone()));
        while let Some(reading) = pending.take() {
            let (source, chunk) = reading
                .await
                .map_err(|e| HubError::Internal(format!("reading the file failed: {e}")))??;
            let exhausted = chunk.exhausted;
            let stopped = if exhausted {
                source.stopped().map(ToString::to_string)
            } else {
                None
            };
            if !exhausted {
                pending = Some(read(source, validator.clone()));
            }
            state.counts.rows += chunk.rows;
            state.counts.rejected += chunk.rejected.len() as u64;
            for row in chunk.rejected {
                sink.reject(row)?;
            }
            self.load_members(chunk.members, load, state, sink).await?;
            sink.flush(load).await?;
            progress(state.counts.rows);
            if exhausted {
                // A reader that broke off (an I/O error, an unclosed quote) ends early: the
                // upload fails whole rather than committing half a file.
                if let Some(stopped) = stopped {
                    return Err(HubError::Invalid {
                        field: "file".into(),
                        code: "file.unreadable",
                        message: format!("the file could not be read to its end: {stopped}"),
                    });
                }
                return Ok(());
            }
        }
        Ok(())
    }

    async fn load_members(
        &self,
        members: Vec<MemberRow>,
        load: &mut dyn RegistryLoad,
        state: &mut LoadState,
        sink: &mut dyn RejectionSink,
    ) -> HubResult<()> {
        // Duplicates inside the chunk: the same ID number (found by the blind index it was
        // sealed with, without hashing anything again), or the same member of a card.
        let mut seen_ids: HashMap<[u8; 32], u64> = HashMap::with_capacity(members.len());
        let mut seen_members: HashMap<(String, String, String), u64> =
            HashMap::with_capacity(members.len());
        let mut kept: Vec<(MemberRow, bool)> = Vec::with_capacity(members.len());
        let mut entries: Vec<NewVaultEntry> = Vec::with_capacity(members.len());
        for mut m in members {
            let entry = m.sealed.take();
            let member_key = (
                m.household.card_number.as_str().to_owned(),
                m.member.name.as_str().to_lowercase(),
                m.member.dob.to_storage(),
            );
            let duplicate_of = entry
                .as_ref()
                .and_then(|e| seen_ids.get(&e.blind_index).copied())
                .or_else(|| seen_members.get(&member_key).copied());
            if let Some(first) = duplicate_of {
                state.counts.rejected += 1;
                sink.reject(RejectedRow {
                    line: m.line,
                    fields: m.fields,
                    errors: vec![problem(
                        None,
                        "row.duplicate_in_file",
                        format!("the same person is on line {first} of this file"),
                    )],
                })?;
                continue;
            }
            if let Some(e) = &entry {
                seen_ids.insert(e.blind_index, m.line);
            }
            seen_members.insert(member_key, m.line);
            kept.push((m, entry.is_some()));
            entries.extend(entry);
        }

        // Into the vault, inside the load.
        let mut ref_keys = load.put_vault(entries).await?.into_iter();
        let mut with_keys: Vec<(MemberRow, Option<RefKey>)> = Vec::with_capacity(kept.len());
        for (m, sealed) in kept {
            let key =
                if sealed {
                    Some(ref_keys.next().ok_or_else(|| {
                        HubError::Internal("the vault returned too few keys".into())
                    })?)
                } else {
                    None
                };
            with_keys.push((m, key));
        }

        // An ID number already held by a resident (earlier in this file or before) is not
        // registered twice.
        let keys: Vec<RefKey> = with_keys.iter().filter_map(|(_, k)| k.clone()).collect();
        let in_use: HashSet<RefKey> = load.ref_keys_in_use(keys).await?.into_iter().collect();
        let mut accepted = Vec::with_capacity(with_keys.len());
        for (m, key) in with_keys {
            if key.as_ref().is_some_and(|k| in_use.contains(k)) {
                state.counts.rejected += 1;
                sink.reject(RejectedRow {
                    line: m.line,
                    fields: m.fields,
                    errors: vec![problem(
                        Some("aadhaar"),
                        "id_number.already_registered",
                        "this ID number is already registered to a resident of the hub",
                    )],
                })?;
            } else {
                accepted.push((m, key));
            }
        }

        // Households: a card loaded by an earlier upload is not loaded again; a card this
        // upload created in an earlier chunk gets its further members.
        let mut cards: Vec<String> = accepted
            .iter()
            .map(|(m, _)| m.household.card_number.as_str().to_owned())
            .collect();
        cards.sort_unstable();
        cards.dedup();
        let existing: HashSet<String> = load.existing_cards(cards).await?.into_iter().collect();
        let now = self.now();
        let mut new_households: HashMap<String, Household> = HashMap::new();
        let mut residents = Vec::with_capacity(accepted.len());
        let mut mapping = Vec::with_capacity(accepted.len());
        for (m, key) in accepted {
            let card = m.household.card_number.as_str().to_owned();
            let ours = state.cards_created.contains(&state.card_hash(&card));
            if existing.contains(&card) && !ours {
                state.counts.rejected += 1;
                sink.reject(RejectedRow {
                    line: m.line,
                    fields: m.fields,
                    errors: vec![problem(
                        Some("ration_card_no"),
                        "card.already_loaded",
                        "this ration card was loaded by an earlier upload; send changes as an incremental upload",
                    )],
                })?;
                continue;
            }
            let resident_id = m.resident_id;
            let card_number = m.household.card_number.clone();
            if !existing.contains(&card) {
                let household = new_households
                    .entry(card)
                    .or_insert_with(|| household_record(m.household, None, now));
                if m.member.relationship == Relationship::Head
                    && household.head_resident_id.is_none()
                {
                    household.head_resident_id = Some(resident_id.clone());
                }
            }
            state.mapping_seq += 1;
            mapping.push(MappingEntry {
                seq: state.mapping_seq,
                record_key: card_number.as_str().to_owned(),
                ref_key: key.clone(),
                id_masked: m.id_masked.clone(),
                resident_id: Some(resident_id.clone()),
                outcome: "added".into(),
            });
            residents.push(self.resident_record(resident_id, card_number, m.member, key, now));
        }
        for card in new_households.keys() {
            let hash = state.card_hash(card);
            state.cards_created.insert(hash);
        }
        state.counts.accepted += residents.len() as u64;
        state.counts.added += residents.len() as u64;
        load.insert(new_households.into_values().collect(), residents)
            .await?;
        load.put_mapping(mapping).await?;
        Ok(())
    }
}
