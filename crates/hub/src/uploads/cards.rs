//! Cards files of the base registry: one row per ration card, households only, the first of
//! the two files procedures send (the members follow in a members file, `base.rs`). A card
//! without members is a household like any other until its members arrive.
//!
//! In full, a card the registry holds already is refused, as in a full load of members. In
//! an incremental upload `add` brings a new card and `modify` changes one (what differs goes
//! to the household's history, the uploader as actor); a card is not deleted on its own, since
//! its members stay in the registry: they are deleted instead.
//!
//! Across chunks only a 64-bit hash of each card seen is kept, to find a card twice in one
//! file.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use sangam_ingest::Fields;
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{Operation, ValidRow, Validator};
use sangam_store::{
    ChangeContext, Household, MappingEntry, RegistryLoad, RegistryUpdate, UploadCounts,
    UploadRecord,
};

use super::base_rows;
use super::pipeline::{Chunk, ChunkReader, LoadTarget};
use super::{RejectionSink, UploadMode, problem};
use crate::registry::{HouseholdDetails, apply_household_details, household_record};
use crate::{Hub, HubResult};

/// One row of a cards file.
struct CardRow {
    line: u64,
    fields: Fields,
    operation: Option<Operation>,
    /// The card as the row describes it (`None` only on a delete row that gives less).
    card: Option<HouseholdDetails>,
    number: String,
}

fn card_row(row: ValidRow, fields: Fields) -> Result<CardRow, RejectedRow> {
    let Some(number) = base_rows::card_number(&row) else {
        return Err(RejectedRow {
            line: row.line,
            fields: fields.into(),
            errors: vec![problem(
                Some("ration_card_no"),
                "field.missing",
                "column `ration_card_no` is required but the cell is empty",
            )],
        });
    };
    let operation = row.operation();
    let card = base_rows::household_details(&row);
    if card.is_none() && operation != Some(Operation::Delete) {
        return Err(base_rows::unreadable(row.line, fields));
    }
    Ok(CardRow {
        line: row.line,
        fields,
        operation,
        card,
        number: number.as_str().to_owned(),
    })
}

/// Per-upload state that spans chunks.
struct CardState {
    counts: UploadCounts,
    mapping_seq: u64,
    /// Hash of each card number seen → its line.
    seen: HashMap<u64, u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl Hub {
    /// Reads, validates and loads a cards file, chunk by chunk, inside `load`.
    pub(super) async fn load_card_chunks(
        &self,
        target: &mut LoadTarget<'_, '_>,
        mode: UploadMode,
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
    ) -> HubResult<UploadCounts> {
        let mut state = CardState {
            counts: UploadCounts::default(),
            mapping_seq: 0,
            seen: HashMap::new(),
            hasher: Default::default(),
        };
        let as_read = |chunk: Chunk<CardRow>| async move { Ok(chunk) };
        let mut reader = ChunkReader::start(source, validator, card_row, as_read);
        while let Some(rows) = reader.next_rows(&mut state.counts, target).await? {
            self.apply_cards(
                target.upload,
                mode,
                rows,
                target.load,
                &mut state,
                target.sink,
            )
            .await?;
            target.chunk_done(&state.counts).await?;
        }
        Ok(state.counts)
    }

    #[allow(clippy::too_many_lines, reason = "one pass over a chunk, step by step")]
    async fn apply_cards(
        &self,
        upload: &UploadRecord,
        mode: UploadMode,
        rows: Vec<CardRow>,
        load: &mut dyn RegistryLoad,
        state: &mut CardState,
        sink: &mut dyn RejectionSink,
    ) -> HubResult<()> {
        let mut reject =
            |state: &mut CardState, row: CardRow, code: &str, message: String| -> HubResult<()> {
                state.counts.rejected += 1;
                let column = match code {
                    "operation.missing" | "operation.unsupported" => "operation",
                    _ => "ration_card_no",
                };
                sink.reject(RejectedRow {
                    line: row.line,
                    fields: row.fields.into(),
                    errors: vec![problem(Some(column), code, message)],
                })
            };

        // What each row asks for, and the same card twice in the file.
        let mut wanted = Vec::with_capacity(rows.len());
        for row in rows {
            let operation = match (mode, row.operation) {
                (UploadMode::Full, _) => Operation::Add,
                (UploadMode::Incremental, None) => {
                    let message = "an incremental upload says on each row what to do: add or \
                                   modify"
                        .into();
                    reject(state, row, "operation.missing", message)?;
                    continue;
                }
                (UploadMode::Incremental, Some(Operation::Delete)) => {
                    let message = "a ration card is not deleted on its own: its members stay \
                                   in the registry, so delete them (in a members file, or a \
                                   file of one row per member) and the card stays with its \
                                   history"
                        .into();
                    reject(state, row, "operation.unsupported", message)?;
                    continue;
                }
                (UploadMode::Incremental, Some(op)) => op,
            };
            let hash = state.hasher.hash_one(&row.number);
            if let Some(first) = state.seen.get(&hash) {
                let message = format!("this ration card is also on line {first} of this file");
                reject(state, row, "row.duplicate_in_file", message)?;
                continue;
            }
            state.seen.insert(hash, row.line);
            wanted.push((row, operation));
        }

        let numbers: Vec<String> = wanted.iter().map(|(r, _)| r.number.clone()).collect();
        let mut held: HashMap<String, Household> = load
            .households_of(numbers)
            .await?
            .into_iter()
            .map(|h| (h.card_number.as_str().to_owned(), h))
            .collect();
        let now = self.now();
        let mut added = Vec::new();
        let mut updates = Vec::new();
        let mut mapping = Vec::new();
        for (row, operation) in wanted {
            let Some(card) = row.card.clone() else {
                // Only a delete row may lack the card's columns, and those are refused above.
                reject(state, row, "row.internal", "the row has no card".into())?;
                continue;
            };
            let outcome = match (operation, held.remove(&row.number)) {
                (Operation::Add, Some(_)) if mode == UploadMode::Full => {
                    let message = "this ration card was loaded by an earlier upload; a full \
                                   upload loads a card once: send changes to it as an \
                                   incremental upload (operation modify)"
                        .into();
                    reject(state, row, "card.already_loaded", message)?;
                    continue;
                }
                (Operation::Add, Some(_)) => {
                    let message = "this ration card is in the registry already: send changes \
                                   to it as a modify row"
                        .into();
                    reject(state, row, "card.exists", message)?;
                    continue;
                }
                (Operation::Add, None) => {
                    added.push(household_record(card, None, now));
                    state.counts.added += 1;
                    "added"
                }
                (_, None) => {
                    let message = "this ration card is not in the registry: add it first".into();
                    reject(state, row, "card.unknown", message)?;
                    continue;
                }
                (_, Some(mut household)) => {
                    let changes = apply_household_details(&mut household, &card);
                    if changes.is_empty() {
                        state.counts.unchanged += 1;
                        "unchanged"
                    } else {
                        household.version += 1;
                        household.updated_at = now;
                        updates.push(RegistryUpdate {
                            record: household,
                            changes,
                        });
                        state.counts.modified += 1;
                        "modified"
                    }
                }
            };
            state.counts.accepted += 1;
            state.mapping_seq += 1;
            mapping.push(MappingEntry {
                seq: state.mapping_seq,
                record_key: row.number,
                ref_key: None,
                id_masked: None,
                resident_id: None,
                outcome: outcome.into(),
            });
        }
        load.insert(added, Vec::new()).await?;
        if !updates.is_empty() {
            let ctx = ChangeContext {
                actor: upload.uploaded_by.clone(),
                reason: Some(format!("upload {}", upload.id)),
                at: now,
            };
            load.update_registry(updates, Vec::new(), ctx).await?;
        }
        load.put_mapping(mapping).await?;
        Ok(())
    }
}
