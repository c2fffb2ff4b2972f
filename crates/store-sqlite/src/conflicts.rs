//! The reads conflict reports are made of (see [`ConflictStore`]). Lists of ids and names go
//! in as one JSON array read with `json_each`, so a statement has a fixed text (and stays in
//! the statement cache) whatever the list's length.

use async_trait::async_trait;
use rusqlite::{Connection, Row, ToSql, params};
use sangam_domain::RationCardNumber;
use sangam_store::columns::qualified;
use sangam_store::raw::ref_key;
use sangam_store::{ConflictStore, LinkedEnrolment, StoreError, StoreResult};

use crate::SqliteStore;
use crate::registry::{RESIDENT_COLUMNS, resident, resident_row};
use crate::sql::map_err;

/// The resident's columns (prefixed `r.`) and then the enrolment's, as [`linked_row`] reads
/// them.
fn linked_columns() -> String {
    format!(
        "{}, e.dataset, e.record_key, e.ref_key",
        qualified(RESIDENT_COLUMNS, "r")
    )
}

/// Where the enrolment's columns start in a row of [`linked_columns`].
const ENROLMENT_AT: usize = 15;

type RawLinked = (
    (sangam_store::raw::RawResident, i64, i64),
    String,
    String,
    Option<String>,
);

fn linked_row(r: &Row<'_>) -> rusqlite::Result<RawLinked> {
    Ok((
        resident_row(r)?,
        r.get(ENROLMENT_AT)?,
        r.get(ENROLMENT_AT + 1)?,
        r.get(ENROLMENT_AT + 2)?,
    ))
}

fn linked((raw, dataset, record_key, rk): RawLinked) -> StoreResult<LinkedEnrolment> {
    Ok(LinkedEnrolment {
        dataset,
        record_key,
        ref_key: rk.map(|k| ref_key("enrolments.ref_key", &k)).transpose()?,
        resident: resident(raw)?,
    })
}

fn json_list<S: AsRef<str>>(items: &[S]) -> StoreResult<String> {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items)
        .map_err(|e| StoreError::Backend(format!("cannot encode a list: {e}")))
}

fn query_linked(
    c: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
) -> StoreResult<Vec<LinkedEnrolment>> {
    let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, linked_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter().map(linked).collect()
}

fn query_keys(c: &Connection, sql: &str, params: &[&dyn ToSql]) -> StoreResult<Vec<String>> {
    let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
    stmt.query_map(params, |r| r.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

#[async_trait]
impl ConflictStore for SqliteStore {
    async fn linked_enrolments(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LinkedEnrolment>> {
        let (dataset, after) = (dataset.to_owned(), after.unwrap_or("").to_owned());
        // Walks the primary key (dataset, record_key); the resident is one lookup per row.
        let sql = format!(
            "SELECT {} FROM enrolments e JOIN residents r ON r.resident_id = e.resident_id \
             WHERE e.dataset = ?1 AND e.status = 'active' AND e.record_key > ?2 \
             ORDER BY e.record_key LIMIT ?3",
            linked_columns()
        );
        self.conns
            .read(move |c| query_linked(c, &sql, params![dataset, after, limit]))
            .await
    }

    async fn residents_enrolled_twice(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        let (dataset, after) = (dataset.to_owned(), after.unwrap_or("").to_owned());
        self.conns
            .read(move |c| {
                // `resident_id > ''` also leaves out unlinked records (NULL).
                query_keys(
                    c,
                    "SELECT resident_id FROM enrolments \
                     WHERE dataset = ?1 AND status = 'active' AND resident_id > ?2 \
                     GROUP BY resident_id HAVING COUNT(*) > 1 ORDER BY resident_id LIMIT ?3",
                    params![dataset, after, limit],
                )
            })
            .await
    }

    async fn households_enrolled_twice(
        &self,
        dataset: &str,
        after: Option<&RationCardNumber>,
        limit: u32,
    ) -> StoreResult<Vec<RationCardNumber>> {
        let dataset = dataset.to_owned();
        let after = after.map_or(String::new(), |c| c.as_str().to_owned());
        let cards = self
            .conns
            .read(move |c| {
                query_keys(
                    c,
                    "SELECT r.card_number FROM enrolments e \
                     JOIN residents r ON r.resident_id = e.resident_id \
                     WHERE e.dataset = ?1 AND e.status = 'active' AND r.card_number > ?2 \
                     GROUP BY r.card_number HAVING COUNT(DISTINCT e.resident_id) > 1 \
                     ORDER BY r.card_number LIMIT ?3",
                    params![dataset, after, limit],
                )
            })
            .await?;
        cards
            .iter()
            .map(|c| {
                RationCardNumber::parse(c)
                    .map_err(|_| StoreError::corrupt("residents.card_number", c))
            })
            .collect()
    }

    async fn residents_enrolled_in_both(
        &self,
        dataset: &str,
        others: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let (dataset, after) = (dataset.to_owned(), after.unwrap_or("").to_owned());
        let others = json_list(others)?;
        self.conns
            .read(move |c| {
                // The other schemes are looked up per resident through enrolments_resident.
                query_keys(
                    c,
                    "SELECT DISTINCT a.resident_id FROM enrolments a \
                     WHERE a.dataset = ?1 AND a.status = 'active' AND a.resident_id > ?2 \
                     AND EXISTS (SELECT 1 FROM enrolments b \
                         WHERE b.resident_id = a.resident_id AND b.status = 'active' \
                         AND b.dataset IN (SELECT value FROM json_each(?3))) \
                     ORDER BY a.resident_id LIMIT ?4",
                    params![dataset, after, others, limit],
                )
            })
            .await
    }

    async fn active_enrolments_of_residents(
        &self,
        resident_ids: &[String],
        datasets: Option<&[String]>,
    ) -> StoreResult<Vec<LinkedEnrolment>> {
        if resident_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_list(resident_ids)?;
        let datasets = datasets.map(json_list).transpose()?;
        let sql = format!(
            "SELECT {} FROM enrolments e JOIN residents r ON r.resident_id = e.resident_id \
             WHERE e.resident_id IN (SELECT value FROM json_each(?1)) AND e.status = 'active' \
             AND (?2 IS NULL OR e.dataset IN (SELECT value FROM json_each(?2))) \
             ORDER BY e.resident_id, e.dataset, e.record_key",
            linked_columns()
        );
        self.conns
            .read(move |c| query_linked(c, &sql, params![ids, datasets]))
            .await
    }

    async fn active_enrolments_of_households(
        &self,
        dataset: &str,
        cards: &[RationCardNumber],
    ) -> StoreResult<Vec<LinkedEnrolment>> {
        if cards.is_empty() {
            return Ok(Vec::new());
        }
        let dataset = dataset.to_owned();
        let cards: Vec<&str> = cards.iter().map(RationCardNumber::as_str).collect();
        let cards = json_list(&cards)?;
        // From the households' members to their enrolments: `+e.dataset` keeps SQLite from
        // walking the whole dataset by its index instead of each member's few enrolments.
        let sql = format!(
            "SELECT {} FROM residents r JOIN enrolments e ON e.resident_id = r.resident_id \
             WHERE r.card_number IN (SELECT value FROM json_each(?2)) \
             AND +e.dataset = ?1 AND e.status = 'active' \
             ORDER BY r.card_number, r.resident_id, e.record_key",
            linked_columns()
        );
        self.conns
            .read(move |c| query_linked(c, &sql, params![dataset, cards]))
            .await
    }
}
