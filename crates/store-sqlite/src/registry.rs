//! The base registry: households, residents and their change history.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Statement, params};
use sangam_domain::{PersonName, RationCardNumber, RefKey};
use sangam_store::raw::{RawHousehold, RawResident};
use sangam_store::{
    ChangeContext, EntityKind, FieldChange, HistoryEntry, Household, RegistryCounts, RegistryStore,
    RegistryUpdate, Resident, StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::sql::{begin, from_micros, insert_batched, map_err, micros, parse_ts, ts};

const HOUSEHOLD_COLUMNS: &str = "card_number, card_type, house_no, street, locality, pincode, \
     village_code, head_resident_id, created_at, updated_at, version";
pub(crate) const RESIDENT_COLUMNS: &str = "resident_id, card_number, name, relative_name, gender, dob, \
     relationship, mobile_masked, mobile_blind_index, id_ref_key, ekyc_status, life_status, \
     created_at, updated_at, version";

/// Reads a row into raw columns; timestamps are converted afterwards so that a bad one is
/// reported as corrupt data rather than as a driver error.
fn household_row(r: &Row<'_>) -> rusqlite::Result<(RawHousehold, i64, i64)> {
    let created: i64 = r.get(8)?;
    let updated: i64 = r.get(9)?;
    Ok((
        RawHousehold {
            card_number: r.get(0)?,
            card_type: r.get(1)?,
            house_no: r.get(2)?,
            street: r.get(3)?,
            locality: r.get(4)?,
            pincode: r.get(5)?,
            village_code: r.get(6)?,
            head_resident_id: r.get(7)?,
            created_at: Default::default(),
            updated_at: Default::default(),
            version: r.get(10)?,
        },
        created,
        updated,
    ))
}

fn household((mut raw, created, updated): (RawHousehold, i64, i64)) -> StoreResult<Household> {
    raw.created_at = from_micros("households.created_at", created)?;
    raw.updated_at = from_micros("households.updated_at", updated)?;
    raw.into_record()
}

pub(crate) fn resident_row(r: &Row<'_>) -> rusqlite::Result<(RawResident, i64, i64)> {
    let created: i64 = r.get(12)?;
    let updated: i64 = r.get(13)?;
    Ok((
        RawResident {
            resident_id: r.get(0)?,
            card_number: r.get(1)?,
            name: r.get(2)?,
            relative_name: r.get(3)?,
            gender: r.get(4)?,
            dob: r.get(5)?,
            relationship: r.get(6)?,
            mobile_masked: r.get(7)?,
            mobile_blind_index: r.get(8)?,
            id_ref_key: r.get(9)?,
            ekyc_status: r.get(10)?,
            life_status: r.get(11)?,
            created_at: Default::default(),
            updated_at: Default::default(),
            version: r.get(14)?,
        },
        created,
        updated,
    ))
}

pub(crate) fn resident(
    (mut raw, created, updated): (RawResident, i64, i64),
) -> StoreResult<Resident> {
    raw.created_at = from_micros("residents.created_at", created)?;
    raw.updated_at = from_micros("residents.updated_at", updated)?;
    raw.into_record()
}

fn insert_history(
    tx: &Connection,
    entity: EntityKind,
    entity_id: &str,
    changes: &[FieldChange],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO registry_history (entity, entity_id, field, old_value, new_value, actor, \
             reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(map_err)?;
    for ch in changes {
        stmt.execute(params![
            entity.code(),
            entity_id,
            ch.field,
            ch.old_value,
            ch.new_value,
            ctx.actor,
            ctx.reason,
            ts(&ctx.at)
        ])
        .map_err(map_err)?;
    }
    Ok(())
}

/// The order residents are inserted in: that of the one of their unique keys whose index is
/// kept up as they arrive, so that its entries land near each other (or, for ids drawn in
/// file order, after the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResidentOrder {
    RefKey,
    ResidentId,
}

/// Binds a household's columns, in the order of [`HOUSEHOLD_COLUMNS`], to the parameters
/// from `first` on. Every write of a household binds through here, so a column is written
/// the same way by a load and by an update. Straight from the record: copying each row's
/// strings first (into raw rows) only to be bound, and copied again by SQLite, was about a
/// fifth of the CPU of the task that feeds a load.
fn bind_household(stmt: &mut Statement<'_>, first: usize, h: &Household) -> rusqlite::Result<()> {
    let i = first;
    stmt.raw_bind_parameter(i, h.card_number.as_str())?;
    stmt.raw_bind_parameter(i + 1, h.card_type.code())?;
    stmt.raw_bind_parameter(i + 2, &h.address.house_no)?;
    stmt.raw_bind_parameter(i + 3, &h.address.street)?;
    stmt.raw_bind_parameter(i + 4, &h.address.locality)?;
    stmt.raw_bind_parameter(i + 5, &h.address.pincode)?;
    stmt.raw_bind_parameter(i + 6, i64::from(h.village_code.get()))?;
    stmt.raw_bind_parameter(i + 7, &h.head_resident_id)?;
    stmt.raw_bind_parameter(i + 8, micros(&h.created_at))?;
    stmt.raw_bind_parameter(i + 9, micros(&h.updated_at))?;
    stmt.raw_bind_parameter(i + 10, h.version)
}

/// The same for a resident, in the order of [`RESIDENT_COLUMNS`].
fn bind_resident(stmt: &mut Statement<'_>, first: usize, r: &Resident) -> rusqlite::Result<()> {
    let i = first;
    stmt.raw_bind_parameter(i, &r.resident_id)?;
    stmt.raw_bind_parameter(i + 1, r.card_number.as_str())?;
    stmt.raw_bind_parameter(i + 2, r.name.as_str())?;
    stmt.raw_bind_parameter(i + 3, r.relative_name.as_ref().map(PersonName::as_str))?;
    stmt.raw_bind_parameter(i + 4, r.gender.code())?;
    stmt.raw_bind_parameter(i + 5, r.dob.to_storage())?;
    stmt.raw_bind_parameter(i + 6, r.relationship.code())?;
    stmt.raw_bind_parameter(i + 7, &r.mobile_masked)?;
    stmt.raw_bind_parameter(i + 8, r.mobile_blind_index.as_ref().map(|b| &b[..]))?;
    stmt.raw_bind_parameter(i + 9, r.id_ref_key.as_ref().map(RefKey::as_str))?;
    stmt.raw_bind_parameter(i + 10, r.ekyc_status.code())?;
    stmt.raw_bind_parameter(i + 11, r.life_status.code())?;
    stmt.raw_bind_parameter(i + 12, micros(&r.created_at))?;
    stmt.raw_bind_parameter(i + 13, micros(&r.updated_at))?;
    stmt.raw_bind_parameter(i + 14, r.version)
}

/// Inserts households and residents on `conn` (inside the caller's transaction).
///
/// Rows go in key order (households by card number, residents in `order`): a large batch
/// then walks those B-trees from left to right instead of jumping about them. Measured, this
/// order beat file order and card-number order for residents, though not by much.
pub(crate) fn insert_rows(
    tx: &Connection,
    households: &[Household],
    residents: &[Resident],
    order: ResidentOrder,
) -> StoreResult<()> {
    let mut hs: Vec<&Household> = households.iter().collect();
    hs.sort_unstable_by(|a, b| a.card_number.as_str().cmp(b.card_number.as_str()));
    insert_batched(
        tx,
        &format!("households ({HOUSEHOLD_COLUMNS})"),
        11,
        &hs,
        |stmt, i, h| bind_household(stmt, i, h),
        |h| format!("household {}", h.card_number.as_str()),
    )?;
    let mut rs: Vec<&Resident> = residents.iter().collect();
    match order {
        ResidentOrder::RefKey => rs.sort_unstable_by(|a, b| a.id_ref_key.cmp(&b.id_ref_key)),
        ResidentOrder::ResidentId => rs.sort_unstable_by(|a, b| a.resident_id.cmp(&b.resident_id)),
    }
    insert_batched(
        tx,
        &format!("residents ({RESIDENT_COLUMNS})"),
        15,
        &rs,
        |stmt, i, r| bind_resident(stmt, i, r),
        |r| format!("resident {}", r.resident_id),
    )
}

/// Writes a changed resident if the stored version is still the one before its own, and its
/// changes to the history (inside the caller's transaction). The parameters are numbered as
/// [`bind_resident`] binds them; `?13`, the creation time, is bound but never written.
fn write_resident(
    c: &Connection,
    r: &Resident,
    changes: &[FieldChange],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    let n = c
        .prepare_cached(
            "UPDATE residents SET card_number = ?2, name = ?3, relative_name = ?4, \
             gender = ?5, dob = ?6, relationship = ?7, mobile_masked = ?8, \
             mobile_blind_index = ?9, id_ref_key = ?10, ekyc_status = ?11, \
             life_status = ?12, updated_at = ?14, version = ?15 \
             WHERE resident_id = ?1 AND version = ?15 - 1",
        )
        .and_then(|mut stmt| {
            bind_resident(&mut stmt, 1, r)?;
            stmt.raw_execute()
        })
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "resident {} was changed by someone else, or does not exist",
            r.resident_id
        )));
    }
    insert_history(c, EntityKind::Resident, &r.resident_id, changes, ctx)
}

/// The same for a household (`?9`, its creation time, bound but never written).
fn write_household(
    c: &Connection,
    h: &Household,
    changes: &[FieldChange],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    let n = c
        .prepare_cached(
            "UPDATE households SET card_type = ?2, house_no = ?3, street = ?4, \
             locality = ?5, pincode = ?6, village_code = ?7, head_resident_id = ?8, \
             updated_at = ?10, version = ?11 \
             WHERE card_number = ?1 AND version = ?11 - 1",
        )
        .and_then(|mut stmt| {
            bind_household(&mut stmt, 1, h)?;
            stmt.raw_execute()
        })
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "household {} was changed by someone else, or does not exist",
            h.card_number.as_str()
        )));
    }
    insert_history(
        c,
        EntityKind::Household,
        h.card_number.as_str(),
        changes,
        ctx,
    )
}

/// Writes an upload's changes to households and residents (inside its load): each record
/// only at the version it was read at, with its history.
pub(crate) fn update_registry(
    c: &Connection,
    households: &[RegistryUpdate<Household>],
    residents: &[RegistryUpdate<Resident>],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    for u in households {
        write_household(c, &u.record, &u.changes, ctx)?;
    }
    for u in residents {
        write_resident(c, &u.record, &u.changes, ctx)?;
    }
    Ok(())
}

/// The households of these card numbers that exist.
pub(crate) fn households_of(c: &Connection, cards: &[String]) -> StoreResult<Vec<Household>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE card_number = ?1"
        ))
        .map_err(map_err)?;
    let mut found = Vec::new();
    for card in cards {
        if let Some(raw) = stmt
            .query_row([card], household_row)
            .optional()
            .map_err(map_err)?
        {
            found.push(household(raw)?);
        }
    }
    Ok(found)
}

/// Every resident of these card numbers, card by card, each card's in the order added.
pub(crate) fn residents_of_cards(c: &Connection, cards: &[String]) -> StoreResult<Vec<Resident>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents WHERE card_number = ?1 \
             ORDER BY created_at, resident_id"
        ))
        .map_err(map_err)?;
    let mut found = Vec::new();
    for card in cards {
        let rows = stmt.query_map([card], resident_row).map_err(map_err)?;
        for row in rows {
            found.push(resident(row.map_err(map_err)?)?);
        }
    }
    Ok(found)
}

/// The residents holding the ID numbers of these blind indexes, found through the vault
/// without writing to it.
pub(crate) fn residents_by_blind_indexes(
    c: &Connection,
    blind_indexes: &[[u8; 32]],
) -> StoreResult<Vec<([u8; 32], Resident)>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents WHERE id_ref_key = \
             (SELECT ref_key FROM vault_entries WHERE blind_index = ?1)"
        ))
        .map_err(map_err)?;
    let mut found = Vec::new();
    for blind in blind_indexes {
        if let Some(raw) = stmt
            .query_row([&blind[..]], resident_row)
            .optional()
            .map_err(map_err)?
        {
            found.push((*blind, resident(raw)?));
        }
    }
    Ok(found)
}

#[async_trait]
impl RegistryStore for SqliteStore {
    async fn insert_registry(
        &self,
        households: &[Household],
        residents: &[Resident],
    ) -> StoreResult<()> {
        let (households, residents) = (households.to_vec(), residents.to_vec());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                insert_rows(&tx, &households, &residents, ResidentOrder::RefKey)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn household(&self, card: &RationCardNumber) -> StoreResult<Option<Household>> {
        let card = card.as_str().to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE card_number = ?1"),
                    [&card],
                    household_row,
                )
                .optional()
                .map_err(map_err)?
                .map(household)
                .transpose()
            })
            .await
    }

    async fn residents_of(&self, card: &RationCardNumber) -> StoreResult<Vec<Resident>> {
        let card = card.as_str().to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {RESIDENT_COLUMNS} FROM residents WHERE card_number = ?1 \
                         ORDER BY created_at, resident_id"
                    ))
                    .map_err(map_err)?;
                let rows = stmt.query_map([&card], resident_row).map_err(map_err)?;
                rows.map(|r| r.map_err(map_err).and_then(resident))
                    .collect()
            })
            .await
    }

    async fn resident(&self, resident_id: &str) -> StoreResult<Option<Resident>> {
        let id = resident_id.to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {RESIDENT_COLUMNS} FROM residents WHERE resident_id = ?1"),
                    [&id],
                    resident_row,
                )
                .optional()
                .map_err(map_err)?
                .map(resident)
                .transpose()
            })
            .await
    }

    async fn resident_by_ref_key(&self, ref_key: &RefKey) -> StoreResult<Option<Resident>> {
        let key = ref_key.as_str().to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {RESIDENT_COLUMNS} FROM residents WHERE id_ref_key = ?1"),
                    [&key],
                    resident_row,
                )
                .optional()
                .map_err(map_err)?
                .map(resident)
                .transpose()
            })
            .await
    }

    async fn update_resident(
        &self,
        updated: &Resident,
        changes: &[FieldChange],
        ctx: &ChangeContext,
    ) -> StoreResult<()> {
        let r = updated.clone();
        let (changes, ctx) = (changes.to_vec(), ctx.clone());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                write_resident(&tx, &r, &changes, &ctx)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn update_household(
        &self,
        updated: &Household,
        changes: &[FieldChange],
        ctx: &ChangeContext,
    ) -> StoreResult<()> {
        let h = updated.clone();
        let (changes, ctx) = (changes.to_vec(), ctx.clone());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                write_household(&tx, &h, &changes, &ctx)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn history(&self, entity: EntityKind, entity_id: &str) -> StoreResult<Vec<HistoryEntry>> {
        let id = entity_id.to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT entity, entity_id, field, old_value, new_value, actor, reason, at \
                         FROM registry_history WHERE entity = ?1 AND entity_id = ?2 ORDER BY id",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![entity.code(), id], |r| {
                        Ok((
                            HistoryEntry {
                                entity: r.get(0)?,
                                entity_id: r.get(1)?,
                                field: r.get(2)?,
                                old_value: r.get(3)?,
                                new_value: r.get(4)?,
                                actor: r.get(5)?,
                                reason: r.get(6)?,
                                at: Default::default(),
                            },
                            r.get::<_, String>(7)?,
                        ))
                    })
                    .map_err(map_err)?;
                rows.map(|row| {
                    let (mut entry, at) = row.map_err(map_err)?;
                    entry.at = parse_ts("registry_history.at", &at)?;
                    Ok(entry)
                })
                .collect()
            })
            .await
    }

    async fn registry_counts(&self) -> StoreResult<RegistryCounts> {
        self.conns
            .read(|c| {
                c.query_row(
                    "SELECT (SELECT COUNT(*) FROM households), (SELECT COUNT(*) FROM residents), \
                     (SELECT COUNT(*) FROM residents WHERE id_ref_key IS NOT NULL), \
                     (SELECT COUNT(*) FROM vault_entries)",
                    [],
                    |r| {
                        Ok(RegistryCounts {
                            households: r.get::<_, i64>(0)?.unsigned_abs(),
                            residents: r.get::<_, i64>(1)?.unsigned_abs(),
                            residents_with_id_number: r.get::<_, i64>(2)?.unsigned_abs(),
                            vault_entries: r.get::<_, i64>(3)?.unsigned_abs(),
                        })
                    },
                )
                .map_err(map_err)
            })
            .await
    }
}
