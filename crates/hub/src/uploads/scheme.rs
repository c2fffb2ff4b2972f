//! The rows of a scheme's dataset: each becomes an enrolment keyed by the department's record
//! key. A full upload is the dataset's whole content: the hub works out what was added,
//! changed, left as it was and removed. An incremental upload says per row what to do (add,
//! modify, delete). ID numbers go to the vault and each row is linked to its resident through
//! the number's reference key; a row without one is kept and marked unlinked, for matching.
//!
//! An incremental `modify` or `delete` row may name its record by a reference key (the
//! optional `ref_key` column every scheme takes, see `DataSpec::with_implicit_columns`)
//! instead of the record key: the record is the dataset's one active enrolment holding that
//! key. What is refused, each with the key(s) named:
//!
//! - a ref key that no active record of the dataset holds: `record.not_found`;
//! - a ref key that two or more active records hold (one person enrolled twice):
//!   `record.ambiguous`, listing them; the row must give the record key;
//! - a record key and a ref key that name different records: `ref_key.mismatch`;
//! - an ID number whose reference key is not the row's ref key: `ref_key.id_mismatch`;
//! - a new record (an `add`, or a row of a full upload the hub does not hold) with a ref key
//!   but no ID number: `ref_key.on_add` (a ref key names a record already enrolled), and
//!   without its record key: `record_key.missing`, as a full upload's rows always are.
//!
//! A malformed ref key is refused by the row's validation (`ref_key.format`). A delete row's
//! ID number is ignored, as before. Rows named by ref key are found duplicates like the others,
//! once their record key is known.
//!
//! Across chunks only 64-bit hashes of the record keys and ID numbers seen are kept (to find
//! the same record twice in one file), so memory grows by a few bytes a row, not by the row.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use sangam_domain::{ConsentRef, IdNumber, RefKey};
use sangam_ingest::Fields;
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{ColumnKind, Operation, ValidRow, Validator, Value};
use sangam_store::{
    Enrolment, EnrolmentState, EnrolmentStatus, MappingEntry, RegistryLoad, UploadCounts,
    UploadRecord,
};
use sangam_vault::KeyRing;

use super::pipeline::{Chunk, ChunkReader, LoadTarget};
use super::{RejectionSink, UploadMode, problem};
use crate::{Hub, HubError, HubResult};

/// The kind of sealed record an enrolment's sensitive fields are (part of the associated data).
pub(crate) const ENROLMENT_KIND: &str = "enrolment";
/// Records removed per step at the end of a full upload.
const REMOVE_STEP: u32 = 10_000;

/// The share of the records it held that a full upload of a scheme may remove without the
/// uploader's confirmation. A full file that has lost its second half (a truncated export, the
/// wrong month's file, one district's file sent as the state's) would otherwise end the
/// benefits of everyone it leaves out; the upload stops instead, keeps nothing, and says how
/// to confirm.
pub const MASS_REMOVAL_SHARE: f64 = 0.2;
/// Removals up to this many records are never held back, whatever their share (a small
/// scheme's month of changes).
pub const MASS_REMOVAL_MIN: u64 = 20;
/// The error code of a full upload stopped for its removals.
pub const REMOVALS_UNCONFIRMED: &str = "upload.removals_unconfirmed";

/// What a full upload may remove: the active records the hub held before it, and whether the
/// uploader confirmed a large removal.
#[derive(Debug, Clone, Copy)]
pub(super) struct RemovalGuard {
    pub(super) held: u64,
    pub(super) confirmed: bool,
}

impl RemovalGuard {
    /// The refusal of removing `removed` records, if they are too many unconfirmed.
    fn check(&self, dataset: &str, removed: u64) -> HubResult<()> {
        #[allow(
            clippy::cast_precision_loss,
            reason = "a share of record counts; exact to 2^53"
        )]
        let share = removed as f64 / self.held.max(1) as f64;
        if self.confirmed || removed <= MASS_REMOVAL_MIN || share <= MASS_REMOVAL_SHARE {
            return Ok(());
        }
        Err(HubError::Invalid {
            field: "confirm_removals".into(),
            code: REMOVALS_UNCONFIRMED,
            message: format!(
                "this full upload would remove {removed} of the {held} records the hub holds \
                 for {dataset} ({percent:.0}%), more than the {limit:.0}% a full upload may \
                 remove unconfirmed; nothing of it was kept. If the file is whole and those \
                 records have left the scheme, upload it again with confirm_removals=true \
                 (sangam upload --confirm-removals)",
                held = self.held,
                percent = share * 100.0,
                limit = MASS_REMOVAL_SHARE * 100.0,
            ),
        })
    }
}

/// A row read and validated, with the cells it came with (for the report if it is refused
/// later, for example as a duplicate).
struct Row {
    valid: ValidRow,
    fields: Fields,
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
            // A reference key names the record (it is the enrolment's own `ref_key`), so it
            // is not one of its fields: a row naming its record by one changes nothing by it.
            Value::Empty | Value::IdNumber(_) | Value::Operation(_) | Value::RefKey(_) => continue,
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
    /// The spec's reference-key column, which refusals about the key point at.
    ref_key_column: Option<String>,
}

impl SchemeState {
    fn next_seq(&mut self) -> u64 {
        self.mapping_seq += 1;
        self.mapping_seq
    }
}

/// A row whose operation is known, and what it names its record by: the record key, or
/// (`record_key` still `None`) only the reference key, to be looked up.
struct Named {
    line: u64,
    fields: Fields,
    valid: ValidRow,
    intent: Intent,
    record_key: Option<String>,
    given_ref_key: Option<RefKey>,
}

/// One accepted row on its way into the store.
struct Accepted {
    line: u64,
    fields: Fields,
    record_key: String,
    intent: Intent,
    row: ValidRow,
    id_number: Option<IdNumber>,
    /// The reference key the record holds once written: its ID number's, else the row's.
    ref_key: Option<RefKey>,
    /// The reference key the row gave, if any.
    given_ref_key: Option<RefKey>,
}

/// Why a row is refused: the column at fault, a code and a message.
type Refusal = (Option<String>, &'static str, String);

/// The record a row named only by `key` is about: the one active record holding it.
fn record_of_ref_key(
    key: &RefKey,
    holders: Option<&Vec<String>>,
    column: Option<&str>,
) -> Result<String, Refusal> {
    let column = column.map(str::to_owned);
    match holders.map(Vec::as_slice) {
        Some([one]) => Ok(one.clone()),
        None | Some([]) => Err((
            column,
            "record.not_found",
            format!("no active record of this dataset holds reference key {key}"),
        )),
        Some(many) => Err((
            column,
            "record.ambiguous",
            format!(
                "{} records of this dataset hold reference key {key} ({}): name the record by its \
                 record key",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

/// What a row's reference key says against the record it is about (`current`, the active
/// record the hub holds, if any): nothing wrong, or why the row is refused.
fn ref_key_refusal(
    a: &Accepted,
    current: Option<&EnrolmentState>,
    column: Option<&str>,
) -> Option<Refusal> {
    let given = a.given_ref_key.as_ref()?;
    let column = column.map(str::to_owned);
    if let (Some(_), Some(of_id)) = (&a.id_number, &a.ref_key)
        && of_id != given
    {
        return Some((
            column,
            "ref_key.id_mismatch",
            format!(
                "reference key {given} does not stand for the row's ID number: give one of them, \
                 or both of the same person"
            ),
        ));
    }
    match current {
        Some(held) if held.ref_key.as_ref() != Some(given) => Some((
            column,
            "ref_key.mismatch",
            format!(
                "record key {} and reference key {given} name different records: record {} {}",
                a.record_key,
                a.record_key,
                held.ref_key
                    .as_ref()
                    .map_or("holds no reference key".to_owned(), |k| format!(
                        "holds reference key {k}"
                    )),
            ),
        )),
        None if a.id_number.is_none() => Some((
            column,
            "ref_key.on_add",
            format!(
                "record {} is new: a new record names its person by the ID number (the hub hands \
                 back its reference key); reference key {given} can only find a record already \
                 enrolled, on modify and delete rows",
                a.record_key
            ),
        )),
        _ => None,
    }
}

impl Hub {
    /// Reads, validates and applies a scheme dataset's file, chunk by chunk, inside `load`.
    pub(super) async fn load_scheme_chunks(
        &self,
        target: &mut LoadTarget<'_, '_>,
        mode: UploadMode,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
        removals: Option<RemovalGuard>,
    ) -> HubResult<UploadCounts> {
        let spec_version = validator.spec().version;
        let mut state = SchemeState {
            counts: UploadCounts::default(),
            mapping_seq: 0,
            keys_seen: HashMap::new(),
            ids_seen: HashMap::new(),
            hasher: Default::default(),
            ref_key_column: validator
                .spec()
                .columns
                .iter()
                .find(|c| c.kind == ColumnKind::RefKey)
                .map(|c| c.name.clone()),
        };
        let keep = |valid, fields| Ok(Row { valid, fields });
        let as_read = |chunk: Chunk<Row>| async move { Ok(chunk) };
        let mut reader = ChunkReader::start(source, validator, keep, as_read);
        while let Some((rows, refused_keys)) = reader
            .next_rows_and_refused_keys(&mut state.counts, target)
            .await?
        {
            self.apply_scheme_rows(target, mode, spec_version, rows, refused_keys, &mut state)
                .await?;
            target.chunk_done(&state.counts).await?;
        }
        if let Some(guard) = removals {
            self.remove_absent(target.upload, target.load, &mut state, guard)
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
        guard: RemovalGuard,
    ) -> HubResult<()> {
        let now = self.now();
        let mut removed_total = 0;
        loop {
            let removed = load
                .remove_enrolments_not_seen(&upload.dataset, &upload.id, now, REMOVE_STEP)
                .await?;
            let done = removed.len() < REMOVE_STEP as usize;
            state.counts.deleted += removed.len() as u64;
            removed_total += removed.len() as u64;
            // Checked as the removals add up, so that a file with almost nothing in it stops
            // after one step rather than after removing everything.
            guard.check(&upload.dataset, removed_total)?;
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
        refused_keys: Vec<String>,
        state: &mut SchemeState,
    ) -> HubResult<()> {
        let (upload, load, sink) = (target.upload, &mut *target.load, &mut *target.sink);
        // A full upload removes what the file leaves out, and a record whose row the file has
        // but the hub refused is not left out: it stays as held, for the corrected row. These
        // are the records the chunk names; those its accepted rows do not write are kept.
        let mut named_by_chunk: Vec<String> = Vec::new();
        if mode == UploadMode::Full {
            named_by_chunk = refused_keys;
            named_by_chunk.extend(
                rows.iter()
                    .filter_map(|r| r.valid.record_key().map(str::to_owned)),
            );
        }
        let mut reject = |state: &mut SchemeState,
                          line,
                          fields: Fields,
                          column: Option<&str>,
                          code: &str,
                          message: String| {
            state.counts.rejected += 1;
            sink.reject(RejectedRow {
                line,
                fields: fields.into(),
                errors: vec![problem(column, code, message)],
            })
        };

        let ref_column = state.ref_key_column.clone();
        // The operation each row asks for, and what it names its record by.
        let mut named: Vec<Named> = Vec::with_capacity(rows.len());
        for Row { valid, fields } in rows {
            let line = valid.line;
            let record_key = valid.record_key().map(str::to_owned);
            let given_ref_key = valid.ref_key().cloned();
            if record_key.is_none() && given_ref_key.is_none() {
                reject(
                    state,
                    line,
                    fields,
                    None,
                    "record_key.missing",
                    "the row has no record key".into(),
                )?;
                continue;
            }
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
            let needs_record_key = match intent {
                _ if record_key.is_some() => None,
                Intent::Upsert => Some(
                    "a full upload names every record by its record key; a reference key alone \
                     is not enough",
                ),
                Intent::Add => Some(
                    "an `add` row brings a new record and needs its record key; a reference key \
                     can only find a record already enrolled, on modify and delete rows",
                ),
                Intent::Modify | Intent::Delete => None,
            };
            if let Some(message) = needs_record_key {
                reject(
                    state,
                    line,
                    fields,
                    None,
                    "record_key.missing",
                    message.into(),
                )?;
                continue;
            }
            named.push(Named {
                line,
                fields,
                valid,
                intent,
                record_key,
                given_ref_key,
            });
        }

        // The records of the rows named only by reference key.
        // Each key once: two rows naming one record are duplicates, not an ambiguity.
        let wanted: Vec<RefKey> = named
            .iter()
            .filter(|n| n.record_key.is_none())
            .filter_map(|n| n.given_ref_key.clone())
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let mut holders: HashMap<RefKey, Vec<String>> = HashMap::new();
        if !wanted.is_empty() {
            for held in load
                .active_enrolments_by_ref_keys(&upload.dataset, wanted)
                .await?
            {
                if let Some(key) = held.ref_key {
                    holders.entry(key).or_default().push(held.record_key);
                }
            }
        }

        // The same record twice in the file, however each row names it.
        let mut accepted: Vec<Accepted> = Vec::with_capacity(named.len());
        for n in named {
            let mut valid = n.valid;
            let record_key = match (n.record_key, &n.given_ref_key) {
                (Some(key), _) => key,
                (None, Some(given)) => {
                    match record_of_ref_key(given, holders.get(given), ref_column.as_deref()) {
                        Ok(key) => {
                            valid = valid.with_record_key(&key);
                            key
                        }
                        Err((column, code, message)) => {
                            reject(state, n.line, n.fields, column.as_deref(), code, message)?;
                            continue;
                        }
                    }
                }
                (None, None) => {
                    return Err(HubError::Internal("a row lost its record key".into()));
                }
            };
            let key_hash = state.hasher.hash_one(&record_key);
            if let Some(first) = state.keys_seen.get(&key_hash) {
                let message =
                    format!("record key {record_key} is also on line {first} of this file");
                reject(
                    state,
                    n.line,
                    n.fields,
                    None,
                    "row.duplicate_in_file",
                    message,
                )?;
                continue;
            }
            state.keys_seen.insert(key_hash, n.line);
            let id_number = if n.intent == Intent::Delete {
                None
            } else {
                valid.id_number().cloned()
            };
            accepted.push(Accepted {
                line: n.line,
                fields: n.fields,
                record_key,
                intent: n.intent,
                row: valid,
                id_number,
                ref_key: None,
                given_ref_key: n.given_ref_key,
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
        let mut sealed = self
            .vault
            .seal_entries(target.ring.clone(), to_seal)
            .await?
            .into_iter();
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
        for a in &mut kept {
            a.ref_key =
                if a.id_number.is_some() {
                    Some(ref_keys.next().ok_or_else(|| {
                        HubError::Internal("the vault returned too few keys".into())
                    })?)
                } else {
                    // A row without an ID number that names its record by reference key keeps
                    // the record's link to its person.
                    a.given_ref_key.clone()
                };
        }

        // What the hub holds of each record, and who each number belongs to.
        let record_keys: Vec<String> = kept.iter().map(|a| a.record_key.clone()).collect();
        let held: HashMap<String, EnrolmentState> = load
            .enrolment_states(&upload.dataset, record_keys)
            .await?
            .into_iter()
            .map(|s| (s.record_key.clone(), s))
            .collect();
        for a in &mut kept {
            // A row that gives neither the ID number nor the reference key (the department
            // changed the amount, say, and sent only its own key) leaves the record's person
            // as the hub holds it: an empty cell is not a number taken away.
            if a.ref_key.is_none() && a.intent != Intent::Delete {
                a.ref_key = held
                    .get(&a.record_key)
                    .filter(|s| s.status == EnrolmentStatus::Active)
                    .and_then(|s| s.ref_key.clone());
            }
        }
        let keys: Vec<RefKey> = kept.iter().filter_map(|a| a.ref_key.clone()).collect();
        let residents: HashMap<RefKey, String> = load
            .residents_by_ref_keys(keys)
            .await?
            .into_iter()
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
            if let Some((column, code, message)) =
                ref_key_refusal(&a, current, ref_column.as_deref())
            {
                reject(state, a.line, a.fields, column.as_deref(), code, message)?;
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
        // Marked seen: the unchanged records, and in a full upload every record the chunk
        // names that is not written (the unchanged among them).
        let seen: Vec<String> = if mode == UploadMode::Full {
            let written: std::collections::HashSet<&str> =
                writes.iter().map(|e| e.record_key.as_str()).collect();
            named_by_chunk
                .into_iter()
                .filter(|k| !written.contains(k.as_str()))
                .collect()
        } else {
            unchanged
        };
        load.upsert_enrolments(writes).await?;
        if !seen.is_empty() {
            load.touch_enrolments(&upload.dataset, seen, &upload.id)
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
