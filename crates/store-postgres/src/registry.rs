//! The base registry: households, residents and their change history.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use sangam_domain::{RationCardNumber, RefKey};
use sangam_store::raw::{RawHousehold, RawResident, blind_index_32};
use sangam_store::{
    ChangeContext, EntityKind, FieldChange, HistoryEntry, Household, RegistryCounts, RegistryStore,
    RegistryUpdate, Resident, StoreError, StoreResult,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::sql::{
    CopyClient, copy_rows, count, execute, get, map_err, query, query_one, query_opt,
};

const HOUSEHOLD_COLUMNS: &str = "card_number, card_type, house_no, street, locality, pincode, \
     village_code, head_resident_id, created_at, updated_at, version";
pub(crate) const RESIDENT_COLUMNS: &str = "resident_id, card_number, name, relative_name, gender, dob, \
     relationship, mobile_masked, mobile_blind_index, id_ref_key, ekyc_status, life_status, \
     created_at, updated_at, version";

fn household(row: &Row) -> StoreResult<Household> {
    const T: &str = "households";
    RawHousehold {
        card_number: get(T, row, 0)?,
        card_type: get(T, row, 1)?,
        house_no: get(T, row, 2)?,
        street: get(T, row, 3)?,
        locality: get(T, row, 4)?,
        pincode: get(T, row, 5)?,
        village_code: get(T, row, 6)?,
        head_resident_id: get(T, row, 7)?,
        created_at: get(T, row, 8)?,
        updated_at: get(T, row, 9)?,
        version: get(T, row, 10)?,
    }
    .into_record()
}

pub(crate) fn resident(row: &Row) -> StoreResult<Resident> {
    const T: &str = "residents";
    RawResident {
        resident_id: get(T, row, 0)?,
        card_number: get(T, row, 1)?,
        name: get(T, row, 2)?,
        relative_name: get(T, row, 3)?,
        gender: get(T, row, 4)?,
        dob: get(T, row, 5)?,
        relationship: get(T, row, 6)?,
        mobile_masked: get(T, row, 7)?,
        mobile_blind_index: get(T, row, 8)?,
        id_ref_key: get(T, row, 9)?,
        ekyc_status: get(T, row, 10)?,
        life_status: get(T, row, 11)?,
        created_at: get(T, row, 12)?,
        updated_at: get(T, row, 13)?,
        version: get(T, row, 14)?,
    }
    .into_record()
}

async fn insert_history<C: GenericClient>(
    tx: &C,
    entity: EntityKind,
    entity_id: &str,
    changes: &[FieldChange],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    for ch in changes {
        execute(
            tx,
            "INSERT INTO registry_history (entity, entity_id, field, old_value, new_value, actor, \
             reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &entity.code(),
                &entity_id,
                &ch.field,
                &ch.old_value,
                &ch.new_value,
                &ctx.actor,
                &ctx.reason,
                &ctx.at,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Inserts households and residents with one `COPY` per table (see `sql::copy_rows`), on a
/// pooled client (an upload's load) or in a transaction (`insert_registry`). A duplicate,
/// stored before or twice in the batch, fails the copy and the caller's transaction rolls
/// back, with the conflict naming the table. Rows go in key order (households by card
/// number, residents by reference key), so a large batch walks those indexes from left to
/// right.
pub(crate) async fn copy_registry<C: CopyClient>(
    c: &C,
    households: &[RawHousehold],
    residents: &[RawResident],
) -> StoreResult<()> {
    use tokio_postgres::types::Type;
    const TEXT: Type = Type::TEXT;
    const BYTEA: Type = Type::BYTEA;
    const INT8: Type = Type::INT8;
    const TIMESTAMPTZ: Type = Type::TIMESTAMPTZ;
    if !households.is_empty() {
        let mut rows: Vec<&RawHousehold> = households.iter().collect();
        rows.sort_unstable_by(|a, b| a.card_number.cmp(&b.card_number));
        copy_rows(
            c,
            "households",
            &format!("households ({HOUSEHOLD_COLUMNS})"),
            &[
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                INT8,
                TEXT,
                TIMESTAMPTZ,
                TIMESTAMPTZ,
                INT8,
            ],
            &rows
                .into_iter()
                .map(|h| {
                    [
                        &h.card_number as &(dyn ToSql + Sync),
                        &h.card_type,
                        &h.house_no,
                        &h.street,
                        &h.locality,
                        &h.pincode,
                        &h.village_code,
                        &h.head_resident_id,
                        &h.created_at,
                        &h.updated_at,
                        &h.version,
                    ]
                })
                .collect::<Vec<_>>(),
        )
        .await?;
    }
    if !residents.is_empty() {
        let mut rows: Vec<&RawResident> = residents.iter().collect();
        rows.sort_unstable_by(|a, b| a.id_ref_key.cmp(&b.id_ref_key));
        copy_rows(
            c,
            "residents",
            &format!("residents ({RESIDENT_COLUMNS})"),
            &[
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                TEXT,
                BYTEA,
                TEXT,
                TEXT,
                TEXT,
                TIMESTAMPTZ,
                TIMESTAMPTZ,
                INT8,
            ],
            &rows
                .into_iter()
                .map(|r| {
                    [
                        &r.resident_id as &(dyn ToSql + Sync),
                        &r.card_number,
                        &r.name,
                        &r.relative_name,
                        &r.gender,
                        &r.dob,
                        &r.relationship,
                        &r.mobile_masked,
                        &r.mobile_blind_index,
                        &r.id_ref_key,
                        &r.ekyc_status,
                        &r.life_status,
                        &r.created_at,
                        &r.updated_at,
                        &r.version,
                    ]
                })
                .collect::<Vec<_>>(),
        )
        .await?;
    }
    Ok(())
}

/// Writes a changed resident if the stored version is still the one before its own, and its
/// changes to the history (inside the caller's transaction).
async fn write_resident<C: GenericClient>(
    c: &C,
    r: &RawResident,
    changes: &[FieldChange],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    let n = execute(
        c,
        "UPDATE residents SET card_number = $2, name = $3, relative_name = $4, \
         gender = $5, dob = $6, relationship = $7, mobile_masked = $8, \
         mobile_blind_index = $9, id_ref_key = $10, ekyc_status = $11, \
         life_status = $12, updated_at = $13, version = $14::int8 \
         WHERE resident_id = $1 AND version = $14::int8 - 1",
        &[
            &r.resident_id,
            &r.card_number,
            &r.name,
            &r.relative_name,
            &r.gender,
            &r.dob,
            &r.relationship,
            &r.mobile_masked,
            &r.mobile_blind_index,
            &r.id_ref_key,
            &r.ekyc_status,
            &r.life_status,
            &r.updated_at,
            &r.version,
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "resident {} was changed by someone else, or does not exist",
            r.resident_id
        )));
    }
    insert_history(c, EntityKind::Resident, &r.resident_id, changes, ctx).await
}

/// The same for a household.
async fn write_household<C: GenericClient>(
    c: &C,
    h: &RawHousehold,
    changes: &[FieldChange],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    let n = execute(
        c,
        "UPDATE households SET card_type = $2, house_no = $3, street = $4, \
         locality = $5, pincode = $6, village_code = $7, head_resident_id = $8, \
         updated_at = $9, version = $10::int8 \
         WHERE card_number = $1 AND version = $10::int8 - 1",
        &[
            &h.card_number,
            &h.card_type,
            &h.house_no,
            &h.street,
            &h.locality,
            &h.pincode,
            &h.village_code,
            &h.head_resident_id,
            &h.updated_at,
            &h.version,
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "household {} was changed by someone else, or does not exist",
            h.card_number
        )));
    }
    insert_history(c, EntityKind::Household, &h.card_number, changes, ctx).await
}

/// Writes an upload's changes to households and residents (inside its load): each record
/// only at the version it was read at, with its history.
pub(crate) async fn update_registry<C: GenericClient>(
    c: &C,
    households: &[RegistryUpdate<Household>],
    residents: &[RegistryUpdate<Resident>],
    ctx: &ChangeContext,
) -> StoreResult<()> {
    for u in households {
        write_household(c, &RawHousehold::from_record(&u.record), &u.changes, ctx).await?;
    }
    for u in residents {
        write_resident(c, &RawResident::from_record(&u.record), &u.changes, ctx).await?;
    }
    Ok(())
}

/// The households of these card numbers that exist.
pub(crate) async fn households_of<C: GenericClient>(
    c: &C,
    cards: &[String],
) -> StoreResult<Vec<Household>> {
    query(
        c,
        &format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE card_number = ANY($1::text[])"),
        &[&cards],
    )
    .await?
    .iter()
    .map(household)
    .collect()
}

/// Every resident of these card numbers, card by card, each card's in the order added.
pub(crate) async fn residents_of_cards<C: GenericClient>(
    c: &C,
    cards: &[String],
) -> StoreResult<Vec<Resident>> {
    query(
        c,
        &format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents WHERE card_number = ANY($1::text[]) \
             ORDER BY card_number, created_at, resident_id"
        ),
        &[&cards],
    )
    .await?
    .iter()
    .map(resident)
    .collect()
}

/// The residents holding the ID numbers of these blind indexes, found through the vault
/// without writing to it.
pub(crate) async fn residents_by_blind_indexes<C: GenericClient>(
    c: &C,
    blind_indexes: &[[u8; 32]],
) -> StoreResult<Vec<([u8; 32], Resident)>> {
    let wanted: Vec<&[u8]> = blind_indexes.iter().map(|b| &b[..]).collect();
    let columns = RESIDENT_COLUMNS
        .split(", ")
        .map(|c| format!("r.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    query(
        c,
        &format!(
            "SELECT {columns}, v.blind_index FROM vault_entries AS v \
             JOIN residents AS r ON r.id_ref_key = v.ref_key \
             WHERE v.blind_index = ANY($1::bytea[])"
        ),
        &[&wanted],
    )
    .await?
    .iter()
    .map(|row| {
        let blind = blind_index_32("vault_entries.blind_index", get("vault_entries", row, 15)?)?;
        Ok((blind, resident(row)?))
    })
    .collect()
}

#[async_trait]
impl RegistryStore for PostgresStore {
    async fn insert_registry(
        &self,
        households: &[Household],
        residents: &[Resident],
    ) -> StoreResult<()> {
        let households: Vec<RawHousehold> =
            households.iter().map(RawHousehold::from_record).collect();
        let residents: Vec<RawResident> = residents.iter().map(RawResident::from_record).collect();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        copy_registry(&tx, &households, &residents).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn household(&self, card: &RationCardNumber) -> StoreResult<Option<Household>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE card_number = $1"),
            &[&card.as_str()],
        )
        .await?
        .as_ref()
        .map(household)
        .transpose()
    }

    async fn residents_of(&self, card: &RationCardNumber) -> StoreResult<Vec<Resident>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {RESIDENT_COLUMNS} FROM residents WHERE card_number = $1 \
                 ORDER BY created_at, resident_id"
            ),
            &[&card.as_str()],
        )
        .await?
        .iter()
        .map(resident)
        .collect()
    }

    async fn resident(&self, resident_id: &str) -> StoreResult<Option<Resident>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {RESIDENT_COLUMNS} FROM residents WHERE resident_id = $1"),
            &[&resident_id],
        )
        .await?
        .as_ref()
        .map(resident)
        .transpose()
    }

    async fn resident_by_ref_key(&self, ref_key: &RefKey) -> StoreResult<Option<Resident>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {RESIDENT_COLUMNS} FROM residents WHERE id_ref_key = $1"),
            &[&ref_key.as_str()],
        )
        .await?
        .as_ref()
        .map(resident)
        .transpose()
    }

    async fn update_resident(
        &self,
        updated: &Resident,
        changes: &[FieldChange],
        ctx: &ChangeContext,
    ) -> StoreResult<()> {
        let r = RawResident::from_record(updated);
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        write_resident(&tx, &r, changes, ctx).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn update_household(
        &self,
        updated: &Household,
        changes: &[FieldChange],
        ctx: &ChangeContext,
    ) -> StoreResult<()> {
        let h = RawHousehold::from_record(updated);
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        write_household(&tx, &h, changes, ctx).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn history(&self, entity: EntityKind, entity_id: &str) -> StoreResult<Vec<HistoryEntry>> {
        const T: &str = "registry_history";
        let c = self.client().await?;
        query(
            &c,
            "SELECT entity, entity_id, field, old_value, new_value, actor, reason, at \
             FROM registry_history WHERE entity = $1 AND entity_id = $2 ORDER BY id",
            &[&entity.code(), &entity_id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(HistoryEntry {
                entity: get(T, row, 0)?,
                entity_id: get(T, row, 1)?,
                field: get(T, row, 2)?,
                old_value: get(T, row, 3)?,
                new_value: get(T, row, 4)?,
                actor: get(T, row, 5)?,
                reason: get(T, row, 6)?,
                at: get(T, row, 7)?,
            })
        })
        .collect()
    }

    async fn registry_counts(&self) -> StoreResult<RegistryCounts> {
        let c = self.client().await?;
        let row = query_one(
            &c,
            "SELECT (SELECT COUNT(*) FROM households), (SELECT COUNT(*) FROM residents), \
             (SELECT COUNT(*) FROM residents WHERE id_ref_key IS NOT NULL), \
             (SELECT COUNT(*) FROM vault_entries)",
            &[],
        )
        .await?;
        Ok(RegistryCounts {
            households: count(get("registry", &row, 0)?),
            residents: count(get("registry", &row, 1)?),
            residents_with_id_number: count(get("registry", &row, 2)?),
            vault_entries: count(get("registry", &row, 3)?),
        })
    }
}
