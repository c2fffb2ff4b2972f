//! The rows of the base registry: one row per member, with the card's columns repeated on
//! each. A card loaded by an earlier upload is refused (changes go through the registry); the
//! members of a card this upload creates may be spread over several chunks.
//!
//! Memory stays bounded by the chunk, not the file, with one exception kept small on purpose:
//! the 64-bit hashes of the ration cards this upload has created, so that a card whose members
//! are spread over several chunks is recognised (8 bytes a household).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use sangam_domain::{ConsentRef, EkycStatus, IdNumber, MobileNumber, RefKey, Relationship};
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{ValidRow, Validator, Value};
use sangam_store::{
    Address, Household, MappingEntry, NewVaultEntry, RegistryLoad, Resident, UploadCounts,
    UploadRecord,
};

use super::pipeline::{Chunk, ChunkReader};
use super::reports::StoringSink;
use super::{RejectionSink, problem};
use crate::registry::{HouseholdDetails, MemberDetails, household_record};
use crate::vault::Vault;
use crate::{Hub, HubError, HubResult};

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
    /// The mobile number masked and its blind index, for the resident (set when the chunk
    /// is prepared).
    mobile_masked: Option<String>,
    mobile_blind_index: Option<[u8; 32]>,
    /// The line of an earlier row of the same chunk that holds the same person (set when
    /// the chunk is prepared): this row is then refused.
    duplicate_of: Option<u64>,
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
fn member_row(row: ValidRow, fields: Vec<String>) -> Result<MemberRow, RejectedRow> {
    macro_rules! required {
        ($column:literal, $variant:ident) => {
            match row.get($column) {
                Some(Value::$variant(v)) => v.clone(),
                _ => {
                    return Err(RejectedRow {
                        line: row.line,
                        fields,
                        errors: vec![problem(
                            None,
                            "row.internal",
                            "the hub could not read this row's values; report it to the hub team",
                        )],
                    });
                }
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
    let sealed = vault.seal_entries(to_seal).await?;
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
    let mut seen_ids: HashMap<[u8; 32], u64> = HashMap::with_capacity(members.len());
    let mut seen_members: HashMap<(String, String, String), u64> =
        HashMap::with_capacity(members.len());
    for m in members.iter_mut() {
        m.mobile_masked = m.member.mobile.as_ref().map(MobileNumber::masked);
        m.mobile_blind_index = m
            .member
            .mobile
            .as_ref()
            .map(|n| vault.mobile_blind_index(n));
        let member_key = (
            m.household.card_number.as_str().to_owned(),
            m.member.name.as_str().to_lowercase(),
            m.member.dob.to_storage(),
        );
        let duplicate_of = m
            .sealed
            .as_ref()
            .and_then(|e| seen_ids.get(&e.blind_index).copied())
            .or_else(|| seen_members.get(&member_key).copied());
        if duplicate_of.is_some() {
            m.duplicate_of = duplicate_of;
            continue;
        }
        if let Some(e) = &m.sealed {
            seen_ids.insert(e.blind_index, m.line);
        }
        seen_members.insert(member_key, m.line);
    }
}

/// Per-upload state that spans chunks.
struct LoadState {
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
    /// Reads, validates and loads a base-registry file, chunk by chunk, inside `load`.
    pub(super) async fn load_base_chunks(
        &self,
        upload: &UploadRecord,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
        load: &mut dyn RegistryLoad,
        sink: &mut StoringSink<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> HubResult<UploadCounts> {
        let mut state = LoadState {
            counts: UploadCounts::default(),
            mapping_seq: 0,
            cards_created: HashSet::new(),
            hasher: Default::default(),
        };
        // ID numbers are sealed (on all cores) while the chunk before is written.
        let default_consent = ConsentRef::parse(&format!("UPLOAD-{}", upload.id))
            .map_err(|e| HubError::Internal(e.message))?;
        let vault = self.vault.clone();
        let prepare = move |mut chunk: Chunk<MemberRow>| {
            let (vault, consent) = (vault.clone(), default_consent.clone());
            async move {
                seal_members(&vault, &mut chunk.rows, &consent).await?;
                tokio::task::spawn_blocking(move || {
                    finish_members(&vault, &mut chunk.rows);
                    chunk
                })
                .await
                .map_err(|e| HubError::Internal(format!("preparing a chunk failed: {e}")))
            }
        };
        let mut reader = ChunkReader::start(source, validator, member_row, prepare);
        while let Some(mut chunk) = reader.next().await? {
            chunk.report(&mut state.counts, sink)?;
            self.load_members(chunk.rows, load, &mut state, sink)
                .await?;
            sink.flush(load).await?;
            progress(state.counts.rows);
        }
        Ok(state.counts)
    }

    async fn load_members(
        &self,
        members: Vec<MemberRow>,
        load: &mut dyn RegistryLoad,
        state: &mut LoadState,
        sink: &mut dyn RejectionSink,
    ) -> HubResult<()> {
        // Duplicates inside the chunk, found when it was prepared.
        let mut kept: Vec<(MemberRow, bool)> = Vec::with_capacity(members.len());
        let mut entries: Vec<NewVaultEntry> = Vec::with_capacity(members.len());
        for mut m in members {
            if let Some(first) = m.duplicate_of {
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
            let entry = m.sealed.take();
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
        // The file's own text of the accepted rows, freed off this task (a million rows hold
        // fifteen million small strings, and this task is on the writer's path).
        let mut spent: Vec<Vec<String>> = Vec::with_capacity(accepted.len());
        for (mut m, key) in accepted {
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
            spent.push(std::mem::take(&mut m.fields));
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
            state.cards_created.insert(hash);
        }
        state.counts.accepted += residents.len() as u64;
        state.counts.added += residents.len() as u64;
        load.insert(new_households.into_values().collect(), residents)
            .await?;
        load.put_mapping(mapping).await?;
        drop(tokio::task::spawn_blocking(move || drop(spent)));
        Ok(())
    }
}
