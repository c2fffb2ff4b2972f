//! The rows of a scheme's dataset: each becomes an enrolment keyed by the department's record
//! key. A full upload is the dataset's whole content: the hub works out what was added,
//! changed, left as it was and removed. An incremental upload says per row what to do (add,
//! modify, delete). ID numbers go to the vault and each row is linked to its resident through
//! the number's reference key; a row without one is kept and marked unlinked, for matching.
//!
//! Across chunks only 64-bit hashes of the record keys and ID numbers seen are kept (to find
//! the same record twice in one file), so memory grows by a few bytes a row, not by the row.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use sangam_domain::{ConsentRef, IdNumber, RefKey};
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{Operation, ValidRow, Validator, Value};
use sangam_store::{
    Enrolment, EnrolmentState, EnrolmentStatus, MappingEntry, RegistryLoad, UploadCounts,
    UploadRecord,
};
use sangam_vault::KeyRing;

use super::pipeline::{Chunk, ChunkReader, LoadTarget};
use super::{RejectionSink, UploadMode, problem};
use crate::{Hub, HubError, HubResult};

/// The kind of sealed record an enrolment's sensitive fields are (part of the associated data).
const ENROLMENT_KIND: &str = "enrolment";
/// Records removed per step at the end of a full upload.
const REMOVE_STEP: u32 = 10_000;

/// A row read and validated, with the cells it came with (for the report if it is refused
/// later, for example as a duplicate).
struct Row {
    valid: ValidRow,
    fields: Vec<String>,
}

/// What a row asks for, once the upload's mode is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// Full upload: add it, or change it, or leave it if it is the same.
    Upsert,
    Add,
    Modify,
    Delete,
}

/// A row's values as stored: plain fields as JSON, and the sensitive ones apart.
fn split_values(
    row: &ValidRow,
) -> (
    serde_json::Map<String, serde_json::Value>,
    Vec<(String, String)>,
) {
    let mut plain = serde_json::Map::new();
    let mut sensitive = Vec::new();
    for (name, value) in row.column_names().iter().zip(&row.values) {
        let json = match value {
            Value::Empty | Value::IdNumber(_) | Value::Operation(_) => continue,
            Value::Mobile(m) => {
                sensitive.push((name.clone(), m.expose_digits().to_owned()));
                continue;
            }
            Value::BankAccount(b) => {
                sensitive.push((name.clone(), b.expose_digits().to_owned()));
                continue;
            }
            Value::Dob(d) => serde_json::Value::String(d.to_storage()),
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Decimal(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::Date(d) => serde_json::Value::String(d.format("%Y-%m-%d").to_string()),
            Value::VillageCode(c) => serde_json::Value::String(c.to_string()),
            Value::DistrictCode(c) => serde_json::Value::String(c.to_string()),
            Value::SubDistrictCode(c) => serde_json::Value::String(c.to_string()),
            Value::StateCode(c) => serde_json::Value::String(c.to_string()),
            other => match other.as_str() {
                Some(text) => serde_json::Value::String(text.to_owned()),
                None => continue,
            },
        };
        plain.insert(name.clone(), json);
    }
    (plain, sensitive)
}

/// Per-upload state that spans chunks.
struct SchemeState {
    counts: UploadCounts,
    mapping_seq: u64,
    /// Hash of each record key seen → its line.
    keys_seen: HashMap<u64, u64>,
    /// Hash of each ID number's blind index seen → its line.
    ids_seen: HashMap<u64, u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl SchemeState {
    fn next_seq(&mut self) -> u64 {
        self.mapping_seq += 1;
        self.mapping_seq
    }
}

/// One accepted row on its way into the store.
struct Accepted {
    line: u64,
    fields: Vec<String>,
    record_key: String,
    intent: Intent,
    row: ValidRow,
    id_number: Option<IdNumber>,
    ref_key: Option<RefKey>,
}

impl Hub {
    /// Reads, validates and applies a scheme dataset's file, chunk by chunk, inside `load`.
    pub(super) async fn load_scheme_chunks(
        &self,
        target: &mut LoadTarget<'_, '_>,
        mode: UploadMode,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
    ) -> HubResult<UploadCounts> {
        let spec_version = validator.spec().version;
        let mut state = SchemeState {
            counts: UploadCounts::default(),
            mapping_seq: 0,
            keys_seen: HashMap::new(),
            ids_seen: HashMap::new(),
            hasher: Default::default(),
        };
        let keep = |valid, fields| Ok(Row { valid, fields });
        let as_read = |chunk: Chunk<Row>| async move { Ok(chunk) };
        let mut reader = ChunkReader::start(source, validator, keep, as_read);
        while let Some(rows) = reader.next_rows(&mut state.counts, target).await? {
            self.apply_scheme_rows(target, mode, spec_version, rows, &mut state)
                .await?;
            target.chunk_done(&state.counts).await?;
        }
        if mode == UploadMode::Full {
            self.remove_absent(target.upload, target.load, &mut state)
                .await?;
        }
        Ok(state.counts)
    }

    /// The end of a full upload: what the hub holds and the file no longer has is removed.
    async fn remove_absent(
        &self,
        upload: &UploadRecord,
        load: &mut dyn RegistryLoad,
        state: &mut SchemeState,
    ) -> HubResult<()> {
        let now = self.now();
        loop {
            let removed = load
                .remove_enrolments_not_seen(&upload.dataset, &upload.id, now, REMOVE_STEP)
                .await?;
            let done = removed.len() < REMOVE_STEP as usize;
            state.counts.deleted += removed.len() as u64;
            let mapping = removed
                .into_iter()
                .map(|record_key| MappingEntry {
                    seq: state.next_seq(),
                    record_key,
                    ref_key: None,
                    id_masked: None,
                    resident_id: None,
                    outcome: "deleted".into(),
                })
                .collect();
            load.put_mapping(mapping).await?;
            if done {
                return Ok(());
            }
        }
    }

    #[allow(clippy::too_many_lines, reason = "one pass over a chunk, step by step")]
    async fn apply_scheme_rows(
        &self,
        target: &mut LoadTarget<'_, '_>,
        mode: UploadMode,
        spec_version: u32,
        rows: Vec<Row>,
        state: &mut SchemeState,
    ) -> HubResult<()> {
        let (upload, load, sink) = (target.upload, &mut *target.load, &mut *target.sink);
        let mut reject = |state: &mut SchemeState,
                          line,
                          fields,
                          column: Option<&str>,
                          code: &str,
                          message: String| {
            state.counts.rejected += 1;
            sink.reject(RejectedRow {
                line,
                fields,
                errors: vec![problem(column, code, message)],
            })
        };

        // The operation each row asks for, and the same record twice in the file.
        let mut accepted: Vec<Accepted> = Vec::with_capacity(rows.len());
        for Row { valid, fields } in rows {
            let line = valid.line;
            let Some(record_key) = valid.record_key().map(str::to_owned) else {
                reject(
                    state,
                    line,
                    fields,
                    None,
                    "record_key.missing",
                    "the row has no record key".into(),
                )?;
                continue;
            };
            let intent = match (mode, valid.operation()) {
                (UploadMode::Full, Some(Operation::Delete)) => {
                    reject(
                        state,
                        line,
                        fields,
                        Some("operation"),
                        "operation.not_in_full_upload",
                        "a full upload is the whole dataset: leave a record out to remove it, or \
                         send deletions as an incremental upload"
                            .into(),
                    )?;
                    continue;
                }
                (UploadMode::Full, _) => Intent::Upsert,
                (UploadMode::Incremental, Some(Operation::Add)) => Intent::Add,
                (UploadMode::Incremental, Some(Operation::Modify)) => Intent::Modify,
                (UploadMode::Incremental, Some(Operation::Delete)) => Intent::Delete,
                (UploadMode::Incremental, None) => {
                    reject(
                        state,
                        line,
                        fields,
                        Some("operation"),
                        "operation.missing",
                        "an incremental upload says on each row what to do: add, modify or delete"
                            .into(),
                    )?;
                    continue;
                }
            };
            let key_hash = state.hasher.hash_one(&record_key);
            if let Some(first) = state.keys_seen.get(&key_hash) {
                let message =
                    format!("record key {record_key} is also on line {first} of this file");
                reject(state, line, fields, None, "row.duplicate_in_file", message)?;
                continue;
            }
            state.keys_seen.insert(key_hash, line);
            let id_number = if intent == Intent::Delete {
                None
            } else {
                valid.id_number().cloned()
            };
            accepted.push(Accepted {
                line,
                fields,
                record_key,
                intent,
                row: valid,
                id_number,
                ref_key: None,
            });
        }

        // ID numbers into the vault; the same number twice in the file is one person twice.
        let default_consent = ConsentRef::parse(&format!("UPLOAD-{}", upload.id))
            .map_err(|e| HubError::Internal(e.message))?;
        let to_seal: Vec<(IdNumber, ConsentRef)> = accepted
            .iter()
            .filter_map(|a| {
                a.id_number.clone().map(|id| {
                    let consent = a.row.consent_ref().cloned();
                    (id, consent.unwrap_or_else(|| default_consent.clone()))
                })
            })
            .collect();
        let mut sealed = self.vault.seal_entries(to_seal).await?.into_iter();
        let mut entries = Vec::new();
        let mut kept: Vec<Accepted> = Vec::with_capacity(accepted.len());
        for a in accepted {
            if a.id_number.is_none() {
                kept.push(a);
                continue;
            }
            let entry = sealed
                .next()
                .ok_or_else(|| HubError::Internal("sealing returned too few entries".into()))?;
            let id_hash = state.hasher.hash_one(entry.blind_index);
            if let Some(first) = state.ids_seen.get(&id_hash) {
                let message = format!("the same ID number is on line {first} of this file");
                reject(
                    state,
                    a.line,
                    a.fields,
                    None,
                    "row.duplicate_in_file",
                    message,
                )?;
                continue;
            }
            state.ids_seen.insert(id_hash, a.line);
            entries.push(entry);
            kept.push(a);
        }
        let mut ref_keys = load.put_vault(entries).await?.into_iter();
        for a in kept.iter_mut().filter(|a| a.id_number.is_some()) {
            a.ref_key = Some(
                ref_keys
                    .next()
                    .ok_or_else(|| HubError::Internal("the vault returned too few keys".into()))?,
            );
        }

        // Who each number belongs to, and what the hub holds of each record.
        let keys: Vec<RefKey> = kept.iter().filter_map(|a| a.ref_key.clone()).collect();
        let residents: HashMap<RefKey, String> = load
            .residents_by_ref_keys(keys)
            .await?
            .into_iter()
            .collect();
        let record_keys: Vec<String> = kept.iter().map(|a| a.record_key.clone()).collect();
        let held: HashMap<String, EnrolmentState> = load
            .enrolment_states(&upload.dataset, record_keys)
            .await?
            .into_iter()
            .map(|s| (s.record_key.clone(), s))
            .collect();

        let ring = self.vault.ring();
        let now = self.now();
        let mut writes = Vec::new();
        let mut unchanged = Vec::new();
        let mut deletes = Vec::new();
        let mut mapping = Vec::new();
        for a in kept {
            let current = held
                .get(&a.record_key)
                .filter(|s| s.status == EnrolmentStatus::Active);
            let next_version = held.get(&a.record_key).map_or(1, |s| s.version + 1);
            let refusal = match (a.intent, current) {
                (Intent::Add, Some(_)) => Some((
                    "record.exists",
                    format!(
                        "record {} is already enrolled; send changes to it as `modify`",
                        a.record_key
                    ),
                )),
                (Intent::Modify | Intent::Delete, None) => Some((
                    "record.not_found",
                    format!("the hub holds no record {} in this dataset", a.record_key),
                )),
                _ => None,
            };
            if let Some((code, message)) = refusal {
                reject(state, a.line, a.fields, None, code, message)?;
                continue;
            }
            let resident_id = a.ref_key.as_ref().and_then(|k| residents.get(k).cloned());
            let outcome = if a.intent == Intent::Delete {
                deletes.push(a.record_key.clone());
                state.counts.deleted += 1;
                "deleted"
            } else {
                let enrolment = self.enrolment_record(
                    &ring,
                    upload,
                    spec_version,
                    &a,
                    resident_id.clone(),
                    next_version,
                    now,
                )?;
                match current {
                    Some(held) if held.digest == enrolment.digest => {
                        unchanged.push(a.record_key.clone());
                        state.counts.unchanged += 1;
                        "unchanged"
                    }
                    Some(_) => {
                        writes.push(enrolment);
                        state.counts.modified += 1;
                        "modified"
                    }
                    None => {
                        writes.push(enrolment);
                        state.counts.added += 1;
                        "added"
                    }
                }
            };
            state.counts.accepted += 1;
            mapping.push(MappingEntry {
                seq: state.next_seq(),
                record_key: a.record_key,
                // A deleted record's row carries only its key; the mapping still names the
                // reference key the record had.
                ref_key: a
                    .ref_key
                    .or_else(|| current.and_then(|held| held.ref_key.clone())),
                id_masked: a.id_number.as_ref().map(IdNumber::masked),
                resident_id,
                outcome: outcome.into(),
            });
        }
        load.upsert_enrolments(writes).await?;
        if !unchanged.is_empty() {
            load.touch_enrolments(&upload.dataset, unchanged, &upload.id)
                .await?;
        }
        if !deletes.is_empty() {
            load.remove_enrolments(&upload.dataset, deletes, &upload.id, now)
                .await?;
        }
        load.put_mapping(mapping).await?;
        Ok(())
    }

    /// The enrolment an accepted row becomes: plain fields in clear, mobile and bank numbers
    /// sealed, and a keyed digest of everything to recognise an unchanged record next time.
    #[allow(clippy::too_many_arguments, reason = "the record's parts")]
    fn enrolment_record(
        &self,
        ring: &KeyRing,
        upload: &UploadRecord,
        spec_version: u32,
        a: &Accepted,
        resident_id: Option<String>,
        version: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> HubResult<Enrolment> {
        let (plain, sensitive) = split_values(&a.row);
        let sensitive_json = zeroize::Zeroizing::new(
            serde_json::to_vec(
                &sensitive
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .map_err(|e| HubError::Internal(format!("cannot encode a record: {e}")))?,
        );
        let fields = serde_json::Value::Object(plain);
        let mut digest_input = zeroize::Zeroizing::new(fields.to_string().into_bytes());
        digest_input.push(0);
        digest_input.extend_from_slice(&sensitive_json);
        digest_input.push(0);
        digest_input.extend_from_slice(a.ref_key.as_ref().map_or("", |k| k.as_str()).as_bytes());
        let digest = ring
            .blind_index_key()
            .record_digest(&upload.dataset, &digest_input);
        let sealed = ring.seal_record(
            ENROLMENT_KIND,
            &format!("{}/{}", upload.dataset, a.record_key),
            &sensitive_json,
        );
        Ok(Enrolment {
            dataset: upload.dataset.clone(),
            record_key: a.record_key.clone(),
            ref_key: a.ref_key.clone(),
            resident_id,
            fields,
            key_version: sealed.key_version,
            sealed: sealed.blob,
            digest,
            status: EnrolmentStatus::Active,
            spec_version,
            upload_id: upload.id.clone(),
            created_at: now,
            updated_at: now,
            version,
        })
    }
}
