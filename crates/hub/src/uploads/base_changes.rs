//! Incremental uploads of the base registry's members: the month's changes, each row saying
//! what to do with one member (in a file of one row per member, or in a members file).
//!
//! - `add`: a new member. Its card is created if the registry does not have it (the row then
//!   carries the card's columns, as in a full load); an existing card is joined, and card
//!   columns that contradict it (type or village) refuse the row. An ID number registered to
//!   a resident already, or a member of the same name and date of birth on the card, refuse
//!   it too.
//! - `modify`: the member is found on its card by the row's ID number (through its blind
//!   index: nothing is stored to look it up), else by its reference key, else by name and
//!   date of birth. The row describes the member as they are now: what differs is written,
//!   and goes to the registry history with the uploader as actor and `upload <id>` as reason.
//!   An optional cell left empty keeps what the registry holds. Card columns that differ
//!   change the household, with its history. A row that changes nothing is `unchanged`.
//! - ID-number seeding: a `modify` row whose ID number no resident holds names a member who
//!   has none yet (by reference key or by name and date of birth, as above). The number goes
//!   to the vault and the member holds its reference key from then on; the history records
//!   it masked. A member who holds another number is refused (`id_number.mismatch`): an ID
//!   number is corrected by the hub's administrators, not overwritten by a department's file.
//! - Moving between cards (a marriage, a household split): a `modify` row whose ID number is a
//!   member's of another card moves that member to the row's card, which must exist. The
//!   resident stays who they are (id, reference key, enrolments); the history records the
//!   card number's change, and the card they leave loses them as its head if they were. Only
//!   the ID number moves a member, and only if the row's sex and date of birth agree with
//!   theirs (the name may change): a reference key or a name on another card is refused.
//! - `delete`: the member leaves the registry's active list. The resident is kept (enrolments
//!   and reference keys point at it); its life status becomes the row's if that is
//!   `deceased` or `migrated`, else `migrated`.
//!
//! A member is changed by one row of a file at most; a second is refused as a duplicate. Each
//! chunk reads the households and members of its cards inside the load, works on copies in
//! file order (so a card created by one row is joined by the next), and writes them back at
//! its end. Across chunks only a 64-bit hash of each changed resident is kept.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sangam_domain::{
    ConsentRef, DateOfBirth, IdNumber, LifeStatus, PersonName, RationCardNumber, RefKey,
    Relationship,
};
use sangam_ingest::Fields;
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{BaseForm, Operation, ValidRow, Validator};
use sangam_store::{
    ChangeContext, FieldChange, Household, MappingEntry, RegistryUpdate, Resident, UploadCounts,
};

use super::base_rows::{self, card_mismatch, unreadable};
use super::pipeline::{Chunk, ChunkReader, LoadTarget};
use super::{RejectionSink, problem};
use crate::registry::{
    HouseholdDetails, MemberDetails, apply_household_details, household_record, resident_changes,
};
use crate::{Hub, HubError, HubResult};

/// One row of an incremental members file, in domain types.
struct ChangeRow {
    line: u64,
    fields: Fields,
    operation: Operation,
    card: RationCardNumber,
    /// What the row says of the card, when it carries the card's columns.
    household: Option<HouseholdDetails>,
    /// The member as the row describes it (always on add and modify rows).
    member: Option<MemberDetails>,
    /// The name and date of birth, which a delete row may give without the rest.
    name: Option<PersonName>,
    dob: Option<DateOfBirth>,
    /// The life status as given (the member's details default an empty one to alive).
    life_status: Option<LifeStatus>,
    id_number: Option<IdNumber>,
    consent: Option<ConsentRef>,
    ref_key: Option<RefKey>,
    /// The blind index of the ID number, set when the chunk is prepared.
    id_blind: Option<[u8; 32]>,
}

fn change_row(row: ValidRow, fields: Fields) -> Result<ChangeRow, RejectedRow> {
    let refuse = |fields: Fields, column: &str, code: &str, message: &str| RejectedRow {
        line: row.line,
        fields: fields.into(),
        errors: vec![problem(Some(column), code, message)],
    };
    let Some(operation) = row.operation() else {
        return Err(refuse(
            fields,
            "operation",
            "operation.missing",
            "an incremental upload says on each row what to do: add, modify or delete",
        ));
    };
    // A delete row needs little else, but always the card: a member is only ever looked for
    // on the card the row names.
    let Some(card) = base_rows::card_number(&row) else {
        return Err(refuse(
            fields,
            "ration_card_no",
            "field.missing",
            "column `ration_card_no` is required but the cell is empty",
        ));
    };
    let member = base_rows::member_details(&row);
    if operation != Operation::Delete && member.is_none() {
        return Err(unreadable(row.line, fields));
    }
    Ok(ChangeRow {
        line: row.line,
        operation,
        household: base_rows::household_details(&row),
        name: base_rows::member_name(&row),
        dob: base_rows::dob(&row),
        life_status: base_rows::life_status(&row),
        id_number: base_rows::id_number(&row),
        consent: base_rows::consent(&row),
        ref_key: base_rows::ref_key(&row),
        id_blind: None,
        member,
        card,
        fields,
    })
}

/// Whether two dates of birth can be the same person's: their possible birth dates overlap
/// (a year holds its dates, a declared age the year it spans).
fn dob_overlaps(a: &DateOfBirth, b: &DateOfBirth) -> bool {
    let (a_first, a_last) = a.earliest_and_latest_birth_date();
    let (b_first, b_last) = b.earliest_and_latest_birth_date();
    a_first <= b_last && b_first <= a_last
}

/// Whether a row's date of birth says nothing new: the same, or the same age declared again
/// (a declared age is stored with the day it was declared, which moves every month).
fn same_dob(stored: &DateOfBirth, given: &DateOfBirth, today: NaiveDate) -> bool {
    let declared = |d: &DateOfBirth| matches!(d, DateOfBirth::DeclaredAge { .. });
    stored == given
        || (declared(stored) && declared(given) && stored.age_on(today) == given.age_on(today))
}

fn same_person(r: &Resident, name: &PersonName, dob: &DateOfBirth) -> bool {
    r.name.as_str().to_lowercase() == name.as_str().to_lowercase() && dob_overlaps(&r.dob, dob)
}

/// Per-upload state that spans chunks.
struct ChangeState {
    form: BaseForm,
    counts: UploadCounts,
    mapping_seq: u64,
    /// Hash of each resident a row has added or changed → that row's line.
    touched: HashMap<u64, u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl ChangeState {
    /// The hash under which `resident_id` is marked touched, refused if a row of this file
    /// already changed that member.
    fn untouched(&self, resident_id: &str) -> Result<u64, Refusal> {
        let hash = self.hasher.hash_one(resident_id);
        match self.touched.get(&hash) {
            Some(first) => Err((
                None,
                "row.duplicate_in_file",
                format!("the same member is on line {first} of this file"),
            )),
            None => Ok(hash),
        }
    }
}

/// A card of the chunk as its rows leave it.
struct CardWork {
    household: Household,
    /// Created by a row of this chunk (inserted at its end) rather than read.
    new: bool,
    /// The household's changed fields, for its history.
    changes: Vec<FieldChange>,
    /// Its members, those added by this chunk included.
    members: Vec<Resident>,
}

impl CardWork {
    /// Makes `resident_id` the head of a card that has none.
    fn take_head(&mut self, resident_id: &str) {
        if self.household.head_resident_id.is_none() {
            self.household.head_resident_id = Some(resident_id.to_owned());
            if !self.new {
                self.changes.push(FieldChange {
                    field: "head_resident_id",
                    old_value: None,
                    new_value: Some(resident_id.to_owned()),
                });
            }
        }
    }
}

/// What one chunk has read and is changing.
struct ChunkWork {
    cards: HashMap<String, CardWork>,
    /// Residents holding the chunk's ID numbers, by blind index, as read.
    by_blind: HashMap<[u8; 32], Resident>,
    /// Residents holding the chunk's reference keys, as read.
    by_ref_key: HashMap<RefKey, String>,
    /// ID numbers of members this chunk adds → the line that adds them, and the resident.
    added_blinds: HashMap<[u8; 32], (u64, String)>,
    /// Residents this chunk adds, those it gives their first ID number, and those it changes
    /// with their changes.
    added: HashSet<String>,
    seeded: HashSet<String>,
    member_changes: HashMap<String, Vec<FieldChange>>,
    /// ID numbers of the added and seeded members, to seal at the end of the chunk.
    to_seal: Vec<(String, IdNumber, Option<ConsentRef>)>,
}

/// How a row found its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// By the ID number, the reference key, or the name and date of birth, as the row gave.
    Member,
    /// A `modify` row's ID number is no resident's; the member was found otherwise, and gets
    /// it if they hold none (see the module's comment).
    ToSeed,
    /// A `modify` row's ID number is a member's of another card (the card and index found):
    /// the member moves to the row's card.
    Moving,
}

/// Why a row is refused: the column at fault, a code and a message.
type Refusal = (Option<&'static str>, &'static str, String);

/// What an accepted row did to its member.
enum Done {
    Added,
    Modified,
    Unchanged,
    Deleted,
}

impl Done {
    fn outcome(&self) -> &'static str {
        match self {
            Done::Added => "added",
            Done::Modified => "modified",
            Done::Unchanged => "unchanged",
            Done::Deleted => "deleted",
        }
    }
}

fn not_on_registry(form: BaseForm) -> String {
    match form {
        BaseForm::Members => "this ration card is not in the registry: upload it in a cards file \
                              first"
            .into(),
        _ => "this ration card is not in the registry".into(),
    }
}

impl ChunkWork {
    /// The member of the row's card the row is about, as (card, index in its members), and
    /// how it was found.
    fn find(&self, row: &ChangeRow, form: BaseForm) -> Result<(String, usize, Found), Refusal> {
        let card = row.card.as_str();
        let work = self.card_work(row, form)?;
        let on_card = |resident_id: &str| {
            work.members
                .iter()
                .position(|r| r.resident_id == resident_id)
        };
        let elsewhere = |how: &str| {
            (
                None,
                "member.other_card",
                format!(
                    "the member with this {how} is on another ration card, not {card}: check the \
                     card number (a member moves to another card by a modify row that gives \
                     their ID number)"
                ),
            )
        };
        if let Some(blind) = &row.id_blind {
            // A member an earlier row of this chunk added is found too (and then refused as
            // the same member twice, naming that row's line).
            let holder = self
                .added_blinds
                .get(blind)
                .map(|(_, id)| id.as_str())
                .or_else(|| self.by_blind.get(blind).map(|r| r.resident_id.as_str()));
            return match holder {
                Some(id) => match on_card(id) {
                    Some(i) => Ok((card.to_owned(), i, Found::Member)),
                    // A modify row that names another card moves its member there.
                    None if row.operation == Operation::Modify => self
                        .card_holding(id)
                        .map(|(from, i)| (from, i, Found::Moving))
                        .ok_or_else(|| elsewhere("ID number")),
                    None => Err(elsewhere("ID number")),
                },
                // A number no one holds may be a member's first: found otherwise, seeded.
                None if row.operation == Operation::Modify => self
                    .find_without_id(row, form, &on_card, &elsewhere)
                    .map(|(card, i)| (card, i, Found::ToSeed))
                    .map_err(|refusal| match refusal {
                        (_, "member.not_found", _) => (
                            Some("aadhaar"),
                            "member.not_found",
                            format!(
                                "no member of ration card {card} has this ID number, nor this \
                                 name and date of birth"
                            ),
                        ),
                        other => other,
                    }),
                None => Err((
                    Some("aadhaar"),
                    "member.not_found",
                    format!("no member of ration card {card} has this ID number"),
                )),
            };
        }
        self.find_without_id(row, form, &on_card, &elsewhere)
            .map(|(card, i)| (card, i, Found::Member))
    }

    /// The chunk's copy of the row's card, or the refusal of a card not in the registry.
    fn card_work(&self, row: &ChangeRow, form: BaseForm) -> Result<&CardWork, Refusal> {
        self.cards.get(row.card.as_str()).ok_or_else(|| {
            (
                Some("ration_card_no"),
                "card.unknown",
                not_on_registry(form),
            )
        })
    }

    /// The card of the chunk's copies that has `resident_id` among its members, and where.
    fn card_holding(&self, resident_id: &str) -> Option<(String, usize)> {
        self.cards.iter().find_map(|(card, work)| {
            work.members
                .iter()
                .position(|r| r.resident_id == resident_id)
                .map(|i| (card.clone(), i))
        })
    }

    /// The row's member found by its reference key, else by name and date of birth.
    fn find_without_id(
        &self,
        row: &ChangeRow,
        form: BaseForm,
        on_card: &dyn Fn(&str) -> Option<usize>,
        elsewhere: &dyn Fn(&str) -> Refusal,
    ) -> Result<(String, usize), Refusal> {
        let card = row.card.as_str();
        let work = self.card_work(row, form)?;
        if let Some(key) = &row.ref_key {
            return match self.by_ref_key.get(key) {
                Some(id) => on_card(id)
                    .map(|i| (card.to_owned(), i))
                    .ok_or_else(|| elsewhere("reference key")),
                None => Err((
                    Some("ref_key"),
                    "member.not_found",
                    format!("no member of ration card {card} holds reference key {key}"),
                )),
            };
        }
        let (Some(name), Some(dob)) = (&row.name, &row.dob) else {
            return Err((
                None,
                "member.unidentified",
                "the row does not say which member it is about: give the ID number, the \
                 reference key, or the name and date of birth"
                    .into(),
            ));
        };
        let found: Vec<usize> = work
            .members
            .iter()
            .enumerate()
            .filter(|(_, r)| same_person(r, name, dob))
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [i] => Ok((card.to_owned(), *i)),
            [] => Err((
                Some("member_name"),
                "member.not_found",
                format!("no member of ration card {card} has this name and date of birth"),
            )),
            many => Err((
                Some("member_name"),
                "member.ambiguous",
                format!(
                    "{} members of ration card {card} have this name and date of birth: give \
                     the ID number or the reference key",
                    many.len()
                ),
            )),
        }
    }
}

impl Hub {
    /// Reads, validates and applies an incremental file of the base registry's members,
    /// chunk by chunk, inside `load`.
    pub(super) async fn load_base_changes(
        &self,
        target: &mut LoadTarget<'_, '_>,
        form: BaseForm,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
    ) -> HubResult<UploadCounts> {
        let mut state = ChangeState {
            form,
            counts: UploadCounts::default(),
            mapping_seq: 0,
            touched: HashMap::new(),
            hasher: Default::default(),
        };
        let vault = self.vault.clone();
        let prepare = move |mut chunk: Chunk<ChangeRow>| {
            let vault = vault.clone();
            async move {
                for row in &mut chunk.rows {
                    row.id_blind = row.id_number.as_ref().map(|id| vault.blind_index(id));
                }
                Ok(chunk)
            }
        };
        let mut reader = ChunkReader::start(source, validator, change_row, prepare);
        while let Some(rows) = reader.next_rows(&mut state.counts, target).await? {
            self.apply_member_changes(target, rows, &mut state).await?;
            target.chunk_done(&state.counts).await?;
        }
        Ok(state.counts)
    }

    #[allow(clippy::too_many_lines, reason = "one pass over a chunk, step by step")]
    async fn apply_member_changes(
        &self,
        target: &mut LoadTarget<'_, '_>,
        rows: Vec<ChangeRow>,
        state: &mut ChangeState,
    ) -> HubResult<()> {
        let (upload, load, sink) = (target.upload, &mut *target.load, &mut *target.sink);
        // What the registry holds of the chunk's cards and people, read inside the load: the
        // rows' cards, and those of the people their ID numbers name (who may be moving).
        let blinds: Vec<[u8; 32]> = rows.iter().filter_map(|r| r.id_blind).collect();
        let by_blind: HashMap<[u8; 32], Resident> = if blinds.is_empty() {
            HashMap::new()
        } else {
            load.residents_by_blind_indexes(blinds)
                .await?
                .into_iter()
                .collect()
        };
        let mut cards: Vec<String> = rows
            .iter()
            .map(|r| r.card.as_str().to_owned())
            .chain(by_blind.values().map(|r| r.card_number.as_str().to_owned()))
            .collect();
        cards.sort_unstable();
        cards.dedup();
        let mut work = ChunkWork {
            cards: HashMap::with_capacity(cards.len()),
            by_blind,
            by_ref_key: HashMap::new(),
            added_blinds: HashMap::new(),
            added: HashSet::new(),
            seeded: HashSet::new(),
            member_changes: HashMap::new(),
            to_seal: Vec::new(),
        };
        for household in load.households_of(cards.clone()).await? {
            work.cards.insert(
                household.card_number.as_str().to_owned(),
                CardWork {
                    household,
                    new: false,
                    changes: Vec::new(),
                    members: Vec::new(),
                },
            );
        }
        for resident in load.residents_of_cards(cards).await? {
            if let Some(card) = work.cards.get_mut(resident.card_number.as_str()) {
                card.members.push(resident);
            }
        }
        // Rows with an ID number too: one that no resident holds finds its member otherwise.
        let keys: Vec<RefKey> = rows.iter().filter_map(|r| r.ref_key.clone()).collect();
        if !keys.is_empty() {
            work.by_ref_key = load
                .residents_by_ref_keys(keys)
                .await?
                .into_iter()
                .collect();
        }

        // Each row in file order, on the chunk's copies.
        let now = self.now();
        let today = self.today();
        let mut mapping = Vec::new();
        for row in rows {
            let applied = match row.operation {
                Operation::Add => self.add_member(&row, &mut work, state, now),
                Operation::Modify | Operation::Delete => {
                    self.change_member(&row, &mut work, state, today)
                }
            };
            match applied {
                Ok((resident, done)) => {
                    match done {
                        Done::Added => state.counts.added += 1,
                        Done::Modified => state.counts.modified += 1,
                        Done::Unchanged => state.counts.unchanged += 1,
                        Done::Deleted => state.counts.deleted += 1,
                    }
                    state.counts.accepted += 1;
                    state.mapping_seq += 1;
                    mapping.push(MappingEntry {
                        seq: state.mapping_seq,
                        record_key: row.card.as_str().to_owned(),
                        // Added members get theirs once their numbers are in the vault.
                        ref_key: resident.id_ref_key.clone(),
                        id_masked: row.id_number.as_ref().map(IdNumber::masked),
                        resident_id: Some(resident.resident_id.clone()),
                        outcome: done.outcome().into(),
                    });
                }
                Err((column, code, message)) => {
                    state.counts.rejected += 1;
                    sink.reject(RejectedRow {
                        line: row.line,
                        fields: row.fields.into(),
                        errors: vec![problem(column, code, message)],
                    })?;
                }
            }
        }

        // The added members' ID numbers into the vault, then everything back to the store.
        let default_consent = ConsentRef::parse(&format!("UPLOAD-{}", upload.id))
            .map_err(|e| HubError::Internal(e.message))?;
        let (owners, numbers): (Vec<String>, Vec<(IdNumber, ConsentRef)>) =
            std::mem::take(&mut work.to_seal)
                .into_iter()
                .map(|(resident_id, id, consent)| {
                    (
                        resident_id,
                        (id, consent.unwrap_or_else(|| default_consent.clone())),
                    )
                })
                .unzip();
        let entries = self
            .vault
            .seal_entries(target.ring.clone(), numbers)
            .await?;
        let sealed_keys = load.put_vault(entries).await?;
        if sealed_keys.len() != owners.len() {
            return Err(HubError::Internal("the vault returned too few keys".into()));
        }
        let ref_keys: HashMap<String, RefKey> = owners.into_iter().zip(sealed_keys).collect();
        for entry in &mut mapping {
            if let Some(key) = entry.resident_id.as_ref().and_then(|id| ref_keys.get(id))
                && entry.ref_key.is_none()
            {
                entry.ref_key = Some(key.clone());
            }
        }

        let mut new_households = Vec::new();
        let mut new_residents = Vec::new();
        let mut household_updates = Vec::new();
        let mut resident_updates = Vec::new();
        for (_, card) in work.cards {
            for mut resident in card.members {
                if work.added.contains(&resident.resident_id) {
                    resident.id_ref_key = ref_keys.get(&resident.resident_id).cloned();
                    new_residents.push(resident);
                } else if let Some(changes) = work.member_changes.remove(&resident.resident_id) {
                    if work.seeded.contains(&resident.resident_id) {
                        resident.id_ref_key = ref_keys.get(&resident.resident_id).cloned();
                    }
                    resident.version += 1;
                    resident.updated_at = now;
                    resident_updates.push(RegistryUpdate {
                        record: resident,
                        changes,
                    });
                }
            }
            if card.new {
                new_households.push(card.household);
            } else if !card.changes.is_empty() {
                let mut household = card.household;
                household.version += 1;
                household.updated_at = now;
                household_updates.push(RegistryUpdate {
                    record: household,
                    changes: card.changes,
                });
            }
        }
        // Inserted before the updates: a card's new head may be a member added now.
        load.insert(new_households, new_residents).await?;
        if !household_updates.is_empty() || !resident_updates.is_empty() {
            let ctx = ChangeContext {
                actor: upload.uploaded_by.clone(),
                reason: Some(format!("upload {}", upload.id)),
                at: now,
            };
            load.update_registry(household_updates, resident_updates, ctx)
                .await?;
        }
        load.put_mapping(mapping).await?;
        Ok(())
    }

    /// An `add` row: the new member on its card (created if the row brings a new one).
    fn add_member(
        &self,
        row: &ChangeRow,
        work: &mut ChunkWork,
        state: &mut ChangeState,
        now: DateTime<Utc>,
    ) -> Result<(Resident, Done), Refusal> {
        let Some(member) = row.member.clone() else {
            return Err((None, "row.internal", "the row has no member".into()));
        };
        let card = row.card.as_str();
        match (work.cards.get(card), &row.household) {
            (None, None) => {
                return Err((
                    Some("ration_card_no"),
                    "card.unknown",
                    not_on_registry(state.form),
                ));
            }
            (Some(existing), Some(given)) => {
                if let Some(message) = card_mismatch(&existing.household, given) {
                    return Err((Some("card_type"), "card.mismatch", message));
                }
            }
            _ => {}
        }
        if let Some(blind) = &row.id_blind {
            if let Some((first, _)) = work.added_blinds.get(blind) {
                return Err((
                    Some("aadhaar"),
                    "row.duplicate_in_file",
                    format!("the same ID number is on line {first} of this file"),
                ));
            }
            if work.by_blind.contains_key(blind) {
                return Err((
                    Some("aadhaar"),
                    "id_number.already_registered",
                    "this ID number is already registered to a resident of the hub (to move a \
                     member to this card, send a modify row with their ID number)"
                        .into(),
                ));
            }
        }
        if let Some(existing) = work.cards.get(card)
            && existing
                .members
                .iter()
                .any(|r| same_person(r, &member.name, &member.dob))
        {
            return Err((
                Some("member_name"),
                "member.already_on_card",
                "a member with this name and date of birth is already on this ration card: \
                 send changes to them as a modify row (life_status alive brings back a member \
                 who left)"
                    .into(),
            ));
        }

        let resident_id = crate::ids::new_id();
        let is_head = member.relationship == Relationship::Head;
        let resident =
            self.resident_record(resident_id.clone(), row.card.clone(), member, None, now);
        let work_card = match work.cards.entry(card.to_owned()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let Some(details) = row.household.clone() else {
                    return Err((
                        Some("ration_card_no"),
                        "card.unknown",
                        not_on_registry(state.form),
                    ));
                };
                e.insert(CardWork {
                    household: household_record(details, None, now),
                    new: true,
                    changes: Vec::new(),
                    members: Vec::new(),
                })
            }
        };
        if is_head {
            work_card.take_head(&resident_id);
        }
        work_card.members.push(resident.clone());
        if let (Some(blind), Some(id)) = (row.id_blind, &row.id_number) {
            work.added_blinds
                .insert(blind, (row.line, resident_id.clone()));
            work.to_seal
                .push((resident_id.clone(), id.clone(), row.consent.clone()));
        }
        work.added.insert(resident_id.clone());
        state
            .touched
            .insert(state.hasher.hash_one(&resident_id), row.line);
        Ok((resident, Done::Added))
    }

    /// Writes into `member` what a row says of them: an empty optional cell (relative's name,
    /// mobile) keeps what is held, and a date of birth that says nothing new (the same, or the
    /// same declared age again) keeps the stored one.
    fn describe_member(&self, member: &mut Resident, given: MemberDetails, today: NaiveDate) {
        member.name = given.name;
        if given.relative_name.is_some() {
            member.relative_name = given.relative_name;
        }
        member.gender = given.gender;
        if !same_dob(&member.dob, &given.dob, today) {
            member.dob = given.dob;
        }
        member.relationship = given.relationship;
        if let Some(mobile) = &given.mobile {
            member.mobile_masked = Some(mobile.masked());
            member.mobile_blind_index = Some(self.vault.mobile_blind_index(mobile));
        }
    }

    /// A `modify` row whose ID number names a member of another card: the member moves to
    /// the row's card, keeping who they are (resident id, reference key, enrolments), with
    /// what else the row changes. The card they leave loses them as its head if they were.
    fn move_member(
        &self,
        row: &ChangeRow,
        work: &mut ChunkWork,
        state: &mut ChangeState,
        today: NaiveDate,
        from: &str,
        index: usize,
    ) -> Result<(Resident, Done), Refusal> {
        let internal = |what: &str| (None, "row.internal", format!("the hub lost {what}"));
        let to = row.card.as_str().to_owned();
        let old = work
            .cards
            .get(from)
            .and_then(|c| c.members.get(index))
            .cloned()
            .ok_or_else(|| internal("the row's member"))?;
        let hash = state.untouched(&old.resident_id)?;
        let m = row
            .member
            .clone()
            .ok_or_else(|| internal("the row's member"))?;
        // A move is the number's word against the row's: a wrong number on someone else's row
        // must not carry another person across. The name may change (a marriage); the sex and
        // the date of birth must agree.
        if m.gender != old.gender || !dob_overlaps(&old.dob, &m.dob) {
            return Err((
                Some("aadhaar"),
                "member.other_card",
                format!(
                    "this ID number is of a member of ration card {from} whose sex or date of \
                     birth differs from this row's: check the number (a member moves to this \
                     card only when they agree)"
                ),
            ));
        }
        let mut new = old.clone();
        new.card_number = row.card.clone();
        self.describe_member(&mut new, m, today);
        // On the card they join they are there, whatever they were on the one they left.
        new.life_status = row.life_status.unwrap_or(LifeStatus::Alive);

        let leaving = work
            .cards
            .get_mut(from)
            .ok_or_else(|| internal("the card left"))?;
        leaving.members.remove(index);
        if leaving.household.head_resident_id.as_deref() == Some(old.resident_id.as_str()) {
            leaving.household.head_resident_id = None;
            leaving.changes.push(FieldChange {
                field: "head_resident_id",
                old_value: Some(old.resident_id.clone()),
                new_value: None,
            });
        }
        let joining = work
            .cards
            .get_mut(&to)
            .ok_or_else(|| internal("the card joined"))?;
        if let Some(given) = &row.household {
            let changes = apply_household_details(&mut joining.household, given);
            joining.changes.extend(changes);
        }
        if new.relationship == Relationship::Head {
            joining.take_head(&new.resident_id);
        }
        joining.members.push(new.clone());

        let mut changes = vec![FieldChange {
            field: "card_number",
            old_value: Some(from.to_owned()),
            new_value: Some(to),
        }];
        changes.extend(resident_changes(&old, &new));
        state.touched.insert(hash, row.line);
        work.member_changes
            .entry(new.resident_id.clone())
            .or_default()
            .extend(changes);
        Ok((new, Done::Modified))
    }

    /// A `modify` or `delete` row: the member found, changed on the chunk's copy.
    fn change_member(
        &self,
        row: &ChangeRow,
        work: &mut ChunkWork,
        state: &mut ChangeState,
        today: NaiveDate,
    ) -> Result<(Resident, Done), Refusal> {
        let (card, index, found) = work.find(row, state.form)?;
        if found == Found::Moving {
            return self.move_member(row, work, state, today, &card, index);
        }
        let internal = |what: &str| (None, "row.internal", format!("the hub lost {what}"));
        let card_work = work
            .cards
            .get_mut(&card)
            .ok_or_else(|| internal("the row's card"))?;
        let old = card_work
            .members
            .get(index)
            .cloned()
            .ok_or_else(|| internal("the row's member"))?;
        let hash = state.untouched(&old.resident_id)?;
        if found == Found::ToSeed && old.id_ref_key.is_some() {
            return Err((
                Some("aadhaar"),
                "id_number.mismatch",
                "this member holds another ID number: an ID number is corrected by the hub's \
                 administrators, not by an upload"
                    .into(),
            ));
        }
        let mut new = old.clone();
        let mut card_changed = false;
        if row.operation == Operation::Delete {
            new.life_status = match row.life_status {
                Some(status @ (LifeStatus::Deceased | LifeStatus::Migrated)) => status,
                _ => LifeStatus::Migrated,
            };
        } else {
            let m = row
                .member
                .clone()
                .ok_or_else(|| internal("the row's member"))?;
            self.describe_member(&mut new, m, today);
            if let Some(status) = row.life_status {
                new.life_status = status;
            }
            let before = card_work.changes.len();
            if let Some(given) = &row.household {
                let changes = apply_household_details(&mut card_work.household, given);
                card_work.changes.extend(changes);
            }
            if new.relationship == Relationship::Head {
                card_work.take_head(&new.resident_id);
            }
            card_changed = card_work.changes.len() > before;
        }
        let mut changes = resident_changes(&old, &new);
        if found == Found::ToSeed
            && let (Some(blind), Some(id)) = (row.id_blind, &row.id_number)
        {
            // Its reference key is known once the chunk's numbers are sealed.
            changes.push(FieldChange {
                field: "id_number",
                old_value: None,
                new_value: Some(id.masked()),
            });
            work.added_blinds
                .insert(blind, (row.line, old.resident_id.clone()));
            work.to_seal
                .push((old.resident_id.clone(), id.clone(), row.consent.clone()));
            work.seeded.insert(old.resident_id.clone());
        }
        let done = match (row.operation, changes.is_empty() && !card_changed) {
            (_, true) => Done::Unchanged,
            (Operation::Delete, false) => Done::Deleted,
            (_, false) => Done::Modified,
        };
        state.touched.insert(hash, row.line);
        if !changes.is_empty() {
            if let Some(slot) = card_work.members.get_mut(index) {
                *slot = new.clone();
            }
            work.member_changes
                .entry(new.resident_id.clone())
                .or_default()
                .extend(changes);
        }
        Ok((new, done))
    }
}
