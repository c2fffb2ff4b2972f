//! Full loads of the base registry's members: a file of one row per member with the card's
//! columns repeated on each (the card is created with its first member), or a members file
//! whose members join cards an earlier cards upload loaded. A full load is the first-time
//! migration, so a card whose members an earlier upload loaded is refused (changes go in an
//! incremental upload, `base_changes.rs`); the members of a card this upload loads may be
//! spread over several chunks.
//!
//! Memory stays bounded by the chunk, not the file, with one exception kept small on purpose:
//! the 64-bit hashes of the ration cards this upload has loaded members into, so that a card
//! whose members are spread over several chunks is recognised (8 bytes a household).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use sangam_domain::{
    ConsentRef, DateOfBirth, EkycStatus, IdNumber, MobileNumber, RationCardNumber, RefKey,
    Relationship,
};
use sangam_ingest::Fields;
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{BaseForm, ValidRow, Validator};
use sangam_store::{
    ChangeContext, FieldChange, Household, MappingEntry, NewVaultEntry, RegistryLoad,
    RegistryUpdate, Resident, UploadCounts, UploadRecord,
};

use sangam_vault::KeyRing;

use super::base_rows::{self, Taking, card_mismatch, unreadable};
use super::pipeline::{Chunk, ChunkReader, LoadTarget};
use super::{RejectionSink, problem};
use crate::registry::{HouseholdDetails, MemberDetails, household_record};
use crate::vault::Vault;
use crate::{Hub, HubError, HubResult};

/// One valid member row of the base registry, in domain types.
struct MemberRow {
    line: u64,
    fields: Fields,
    card_number: RationCardNumber,
    /// What the row says of its card: in a file of one row per member, not in a members file.
    household: Option<HouseholdDetails>,
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
    /// The mobile number masked and its blind index, for the resident (set when the chunk
    /// is prepared).
    mobile_masked: Option<String>,
    mobile_blind_index: Option<[u8; 32]>,
    /// The line of an earlier row of the same chunk that holds the same person (set when
    /// the chunk is prepared): this row is then refused.
    duplicate_of: Option<u64>,
}

/// Picks the base registry's columns out of a validated row. The spec guarantees the types;
/// a mismatch here is a bug in the spec, reported as an internal error for that row.
fn member_row(mut row: ValidRow, fields: Fields, form: BaseForm) -> Result<MemberRow, RejectedRow> {
    let line = row.line;
    let mut cells = Taking(&mut row);
    let Some(card_number) = base_rows::card_number(&mut cells) else {
        return Err(unreadable(line, fields));
    };
    let household = base_rows::household_of(&mut cells, card_number.clone());
    let Some(member) = base_rows::member_details(&mut cells) else {
        return Err(unreadable(line, fields));
    };
    if form == BaseForm::PerMember && household.is_none() {
        return Err(unreadable(line, fields));
    }
    Ok(MemberRow {
        line,
        card_number,
        household,
        member,
        resident_id: crate::ids::new_id(),
        id_number: base_rows::id_number(&mut cells),
        consent: base_rows::consent(&mut cells),
        sealed: None,
        id_masked: None,
        mobile_masked: None,
        mobile_blind_index: None,
        duplicate_of: None,
        fields,
    })
}

/// Seals the members' ID numbers into vault entries kept with their rows. It runs with the
/// reading of the chunk, while the store writes the one before.
async fn seal_members(
    vault: &Vault,
    ring: Arc<KeyRing>,
    members: &mut [MemberRow],
    default_consent: &ConsentRef,
) -> HubResult<()> {
    let mut owners = Vec::new();
    let mut to_seal = Vec::new();
    for (i, m) in members.iter_mut().enumerate() {
        if let Some(id) = m.id_number.take() {
            m.id_masked = Some(id.masked());
            let consent = m.consent.take().unwrap_or_else(|| default_consent.clone());
            owners.push(i);
            to_seal.push((id, consent));
        }
    }
    let sealed = vault.seal_entries(ring, to_seal).await?;
    if sealed.len() != owners.len() {
        return Err(HubError::Internal(
            "sealing returned too few entries".into(),
        ));
    }
    for (i, entry) in owners.into_iter().zip(sealed) {
        if let Some(m) = members.get_mut(i) {
            m.sealed = Some(entry);
        }
    }
    Ok(())
}

/// What the rest of a chunk's preparation does, off the writer's path: the members' mobile
/// numbers masked and keyed, and duplicates inside the chunk found: the same ID number (by
/// the blind index it was sealed with, without hashing anything again), or the same member
/// of a card. Only the first of each is kept; the others point at its line.
fn finish_members(vault: &Vault, members: &mut [MemberRow]) {
    for m in members.iter_mut() {
        m.mobile_masked = m.member.mobile.as_ref().map(MobileNumber::masked);
        m.mobile_blind_index = m
            .member
            .mobile
            .as_ref()
            .map(|n| vault.mobile_blind_index(n));
    }
    // Members are keyed by what they borrow from the rows (only the name's lowercase is made),
    // so the rows are read here and marked after.
    let mut seen_ids: HashMap<[u8; 32], u64> = HashMap::with_capacity(members.len());
    let mut seen_members: HashMap<(&str, String, DateOfBirth), u64> =
        HashMap::with_capacity(members.len());
    let mut duplicates = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let member_key = (
            m.card_number.as_str(),
            m.member.name.as_str().to_lowercase(),
            m.member.dob,
        );
        let duplicate_of = m
            .sealed
            .as_ref()
            .and_then(|e| seen_ids.get(&e.blind_index).copied())
            .or_else(|| seen_members.get(&member_key).copied());
        if let Some(first) = duplicate_of {
            duplicates.push((i, first));
            continue;
        }
        if let Some(e) = &m.sealed {
            seen_ids.insert(e.blind_index, m.line);
        }
        seen_members.insert(member_key, m.line);
    }
    for (i, first) in duplicates {
        if let Some(m) = members.get_mut(i) {
            m.duplicate_of = Some(first);
        }
    }
}

/// Per-upload state that spans chunks.
struct LoadState {
    form: BaseForm,
    counts: UploadCounts,
    /// The last sequence number given to a mapping entry.
    mapping_seq: u64,
    /// Hashes of the cards this upload loads members into: cards it created, or in a members
    /// file cards it joined (see the module comment).
    cards_loaded: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl LoadState {
    fn card_hash(&self, card: &str) -> u64 {
        self.hasher.hash_one(card)
    }
}

impl Hub {
    /// Reads, validates and loads a base-registry file of members (one row per member, or a
    /// members file), chunk by chunk, inside `load`.
    pub(super) async fn load_base_chunks(
        &self,
        target: &mut LoadTarget<'_, '_>,
        form: BaseForm,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
    ) -> HubResult<UploadCounts> {
        let mut state = LoadState {
            form,
            counts: UploadCounts::default(),
            mapping_seq: 0,
            cards_loaded: HashSet::new(),
            hasher: Default::default(),
        };
        // ID numbers are sealed (on all cores) while the chunk before is written.
        let default_consent = ConsentRef::parse(&format!("UPLOAD-{}", target.upload.id))
            .map_err(|e| HubError::Internal(e.message))?;
        let vault = self.vault.clone();
        let ring = target.ring.clone();
        let prepare = move |mut chunk: Chunk<MemberRow>| {
            let (vault, ring, consent) = (vault.clone(), ring.clone(), default_consent.clone());
            async move {
                seal_members(&vault, ring, &mut chunk.rows, &consent).await?;
                tokio::task::spawn_blocking(move || {
                    finish_members(&vault, &mut chunk.rows);
                    chunk
                })
                .await
                .map_err(|e| HubError::Internal(format!("preparing a chunk failed: {e}")))
            }
        };
        let convert = move |row, fields| member_row(row, fields, form);
        let mut reader = ChunkReader::start(source, validator, convert, prepare);
        while let Some(rows) = reader.next_rows(&mut state.counts, target).await? {
            self.load_members(target.upload, rows, target.load, &mut state, target.sink)
                .await?;
            target.chunk_done(&state.counts).await?;
        }
        Ok(state.counts)
    }

    #[allow(clippy::too_many_lines, reason = "one pass over a chunk, step by step")]
    async fn load_members(
        &self,
        upload: &UploadRecord,
        members: Vec<MemberRow>,
        load: &mut dyn RegistryLoad,
        state: &mut LoadState,
        sink: &mut dyn RejectionSink,
    ) -> HubResult<()> {
        // The chunk's rows stay in this one vector: refused rows are taken out of it, and what
        // each step learns of a row is kept beside it, since a row is large and moving ten
        // thousand of them from vector to vector was a measurable part of a load.
        let mut kept = members;
        // Duplicates inside the chunk, found when it was prepared.
        for m in kept.extract_if(.., |m| m.duplicate_of.is_some()) {
            let first = m.duplicate_of.unwrap_or_default();
            state.counts.rejected += 1;
            sink.reject(RejectedRow {
                line: m.line,
                fields: m.fields.into(),
                errors: vec![problem(
                    None,
                    "row.duplicate_in_file",
                    format!("the same person is on line {first} of this file"),
                )],
            })?;
        }

        // Households, before anything goes into the vault (a refused row leaves no number
        // behind): a card whose members an earlier upload loaded is not loaded again; a card
        // this upload loads members into gets its further members. In a file of one row per
        // member the card is created with its first member; in a members file it must be
        // there already, from a cards upload.
        // Each card once (a card has several members), copied only then.
        let mut cards: Vec<&str> = kept.iter().map(|m| m.card_number.as_str()).collect();
        cards.sort_unstable();
        cards.dedup();
        let cards = cards.into_iter().map(str::to_owned).collect();
        let existing: HashSet<String> = load.existing_cards(cards).await?.into_iter().collect();
        // Of the cards there already that this upload has not loaded members into yet: those
        // with members (from an earlier upload), and each one's household.
        let joined_now: Vec<String> = existing
            .iter()
            .filter(|c| !state.cards_loaded.contains(&state.card_hash(c)))
            .cloned()
            .collect();
        let (loaded_before, stored): (HashSet<String>, HashMap<String, Household>) =
            if joined_now.is_empty() {
                Default::default()
            } else {
                let with_members = load
                    .residents_of_cards(joined_now.clone())
                    .await?
                    .into_iter()
                    .map(|r| r.card_number.as_str().to_owned())
                    .collect();
                let households = load
                    .households_of(joined_now)
                    .await?
                    .into_iter()
                    .map(|h| (h.card_number.as_str().to_owned(), h))
                    .collect();
                (with_members, households)
            };
        let mut refusals: Vec<Option<(&'static str, String)>> = Vec::with_capacity(kept.len());
        for m in &kept {
            let card = m.card_number.as_str();
            let hash = state.card_hash(card);
            let mismatch = || {
                let (stored, given) = (stored.get(card)?, m.household.as_ref()?);
                card_mismatch(stored, given)
            };
            let refusal = match (existing.contains(card), state.form) {
                (true, _) if state.cards_loaded.contains(&hash) => None,
                (true, _) if loaded_before.contains(card) => Some((
                    "card.already_loaded",
                    "the members of this ration card were loaded by an earlier upload; a full \
                     upload loads a card once: send changes to it as an incremental upload \
                     (mode incremental, with an operation on each row: add, modify or delete)"
                        .to_owned(),
                )),
                // A card an earlier cards upload loaded, still without members.
                (true, _) => match mismatch() {
                    Some(message) => Some(("card.mismatch", message)),
                    None => {
                        state.cards_loaded.insert(hash);
                        None
                    }
                },
                (false, BaseForm::Members) => Some((
                    "card.unknown",
                    "this ration card is not in the registry: a members file adds members to \
                     cards loaded before, so upload the card in a cards file first"
                        .to_owned(),
                )),
                (false, _) => None,
            };
            refusals.push(refusal);
        }
        // `extract_if` asks about each row once, in order, so the refusals line up.
        let mut refusals = refusals.into_iter();
        let mut reasons = Vec::new();
        let refused: Vec<MemberRow> = kept
            .extract_if(.., |_| match refusals.next().flatten() {
                Some(reason) => {
                    reasons.push(reason);
                    true
                }
                None => false,
            })
            .collect();
        for (m, (code, message)) in refused.into_iter().zip(reasons) {
            state.counts.rejected += 1;
            sink.reject(RejectedRow {
                line: m.line,
                fields: m.fields.into(),
                errors: vec![problem(Some("ration_card_no"), code, message)],
            })?;
        }

        // Into the vault, inside the load; each row's reference key beside it.
        let mut sealed = Vec::with_capacity(kept.len());
        let entries: Vec<NewVaultEntry> = kept
            .iter_mut()
            .filter_map(|m| {
                let entry = m.sealed.take();
                sealed.push(entry.is_some());
                entry
            })
            .collect();
        let mut ref_keys = load.put_vault(entries).await?.into_iter();
        let row_keys: Vec<Option<RefKey>> = sealed
            .into_iter()
            .map(|sealed| {
                sealed
                    .then(|| {
                        ref_keys.next().ok_or_else(|| {
                            HubError::Internal("the vault returned too few keys".into())
                        })
                    })
                    .transpose()
            })
            .collect::<HubResult<_>>()?;

        // An ID number already held by a resident (earlier in this file or before) is not
        // registered twice.
        let keys: Vec<RefKey> = row_keys.iter().flatten().cloned().collect();
        let in_use: HashSet<RefKey> = load.ref_keys_in_use(keys).await?.into_iter().collect();
        let now = self.now();
        let mut new_households: HashMap<String, Household> = HashMap::new();
        // The first head of each existing card joined now, for cards that have none yet.
        let mut heads: HashMap<String, String> = HashMap::new();
        let mut residents = Vec::with_capacity(kept.len());
        let mut mapping = Vec::with_capacity(kept.len());
        // The file's own text of the accepted rows, freed off this task (a million rows hold
        // fifteen million small strings, and this task is on the writer's path).
        let mut spent: Vec<Fields> = Vec::with_capacity(kept.len());
        for (mut m, key) in kept.into_iter().zip(row_keys) {
            if key.as_ref().is_some_and(|k| in_use.contains(k)) {
                state.counts.rejected += 1;
                sink.reject(RejectedRow {
                    line: m.line,
                    fields: m.fields.into(),
                    errors: vec![problem(
                        Some("aadhaar"),
                        "id_number.already_registered",
                        "this ID number is already registered to a resident of the hub",
                    )],
                })?;
                continue;
            }
            spent.push(std::mem::take(&mut m.fields));
            let resident_id = m.resident_id;
            let card_number = m.card_number;
            let card = card_number.as_str();
            let is_head = m.member.relationship == Relationship::Head;
            if !existing.contains(card) {
                // The card's first member creates its household; the others find it.
                let household = match new_households.get_mut(card) {
                    Some(household) => household,
                    None => {
                        let Some(details) = m.household else {
                            return Err(HubError::Internal(
                                "a member row without its card's columns reached a new card".into(),
                            ));
                        };
                        new_households
                            .entry(card.to_owned())
                            .or_insert(household_record(details, None, now))
                    }
                };
                if is_head && household.head_resident_id.is_none() {
                    household.head_resident_id = Some(resident_id.clone());
                }
            } else if is_head && !heads.contains_key(card) {
                heads.insert(card.to_owned(), resident_id.clone());
            }
            state.mapping_seq += 1;
            mapping.push(MappingEntry {
                seq: state.mapping_seq,
                record_key: card.to_owned(),
                ref_key: key.clone(),
                id_masked: m.id_masked,
                resident_id: Some(resident_id.clone()),
                outcome: "added".into(),
            });
            residents.push(Resident {
                resident_id,
                card_number,
                name: m.member.name,
                relative_name: m.member.relative_name,
                gender: m.member.gender,
                dob: m.member.dob,
                relationship: m.member.relationship,
                mobile_masked: m.mobile_masked,
                mobile_blind_index: m.mobile_blind_index,
                id_ref_key: key,
                ekyc_status: EkycStatus::default(),
                life_status: m.member.life_status,
                created_at: now,
                updated_at: now,
                version: 1,
            });
        }
        for card in new_households.keys() {
            let hash = state.card_hash(card);
            state.cards_loaded.insert(hash);
        }
        state.counts.accepted += residents.len() as u64;
        state.counts.added += residents.len() as u64;
        load.insert(new_households.into_values().collect(), residents)
            .await?;
        if !heads.is_empty() {
            self.set_heads(upload, heads, load).await?;
        }
        load.put_mapping(mapping).await?;
        drop(tokio::task::spawn_blocking(move || drop(spent)));
        Ok(())
    }

    /// Makes the given members the heads of their cards, loaded before without members, that
    /// have no head yet (the card's change goes to its history, as the uploader's).
    async fn set_heads(
        &self,
        upload: &UploadRecord,
        heads: HashMap<String, String>,
        load: &mut dyn RegistryLoad,
    ) -> HubResult<()> {
        let now = self.now();
        let households = load.households_of(heads.keys().cloned().collect()).await?;
        let updates: Vec<RegistryUpdate<Household>> = households
            .into_iter()
            .filter(|h| h.head_resident_id.is_none())
            .filter_map(|mut h| {
                let head = heads.get(h.card_number.as_str())?.clone();
                h.head_resident_id = Some(head.clone());
                h.version += 1;
                h.updated_at = now;
                Some(RegistryUpdate {
                    record: h,
                    changes: vec![FieldChange {
                        field: "head_resident_id",
                        old_value: None,
                        new_value: Some(head),
                    }],
                })
            })
            .collect();
        let ctx = ChangeContext {
            actor: upload.uploaded_by.clone(),
            reason: Some(format!("upload {}", upload.id)),
            at: now,
        };
        load.update_registry(updates, Vec::new(), ctx).await?;
        Ok(())
    }
}
