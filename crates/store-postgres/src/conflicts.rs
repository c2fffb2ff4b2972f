//! The reads conflict reports are made of (see [`ConflictStore`]). Lists of ids and names go
//! in as one text array (`= ANY($n::text[])`), so a statement has a fixed text and is
//! prepared once per connection whatever the list's length.

use async_trait::async_trait;
use sangam_domain::RationCardNumber;
use sangam_store::columns::qualified;
use sangam_store::raw::ref_key;
use sangam_store::{ConflictStore, LinkedEnrolment, StoreError, StoreResult};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::registry::{RESIDENT_COLUMNS, resident};
use crate::sql::{Params, get, query};

/// The resident's columns (prefixed `r.`) and then the enrolment's, as [`linked`] reads them.
fn linked_columns() -> String {
    format!(
        "{}, e.dataset, e.record_key, e.ref_key",
        qualified(RESIDENT_COLUMNS, "r")
    )
}

/// Where the enrolment's columns start in a row of [`linked_columns`].
const ENROLMENT_AT: usize = 15;

fn linked(row: &Row) -> StoreResult<LinkedEnrolment> {
    const T: &str = "enrolments";
    Ok(LinkedEnrolment {
        dataset: get(T, row, ENROLMENT_AT)?,
        record_key: get(T, row, ENROLMENT_AT + 1)?,
        ref_key: get::<Option<String>>(T, row, ENROLMENT_AT + 2)?
            .map(|k| ref_key("enrolments.ref_key", &k))
            .transpose()?,
        resident: resident(row)?,
    })
}

fn keys(rows: &[Row]) -> StoreResult<Vec<String>> {
    rows.iter().map(|r| get("enrolments", r, 0)).collect()
}

impl PostgresStore {
    async fn linked_query(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> StoreResult<Vec<LinkedEnrolment>> {
        let c = self.client().await?;
        query(&c, sql, params).await?.iter().map(linked).collect()
    }

    async fn keys_query(&self, sql: &str, params: &Params<'_>) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        keys(&query(&c, sql, params).await?)
    }
}

fn limit_of(limit: u32) -> i64 {
    i64::from(limit)
}

#[async_trait]
impl ConflictStore for PostgresStore {
    async fn linked_enrolments(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LinkedEnrolment>> {
        // Walks the primary key (dataset, record_key); the resident is one lookup per row.
        let sql = format!(
            "SELECT {} FROM enrolments e JOIN residents r ON r.resident_id = e.resident_id \
             WHERE e.dataset = $1 AND e.status = 'active' AND e.record_key > $2 \
             ORDER BY e.record_key LIMIT $3",
            linked_columns()
        );
        self.linked_query(&sql, &[&dataset, &after.unwrap_or(""), &limit_of(limit)])
            .await
    }

    async fn residents_enrolled_twice(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        // `resident_id > ''` also leaves out unlinked records (NULL).
        self.keys_query(
            "SELECT resident_id FROM enrolments \
             WHERE dataset = $1 AND status = 'active' AND resident_id > $2 \
             GROUP BY resident_id HAVING COUNT(*) > 1 ORDER BY resident_id LIMIT $3",
            &[&dataset, &after.unwrap_or(""), &limit_of(limit)],
        )
        .await
    }

    async fn households_enrolled_twice(
        &self,
        dataset: &str,
        after: Option<&RationCardNumber>,
        limit: u32,
    ) -> StoreResult<Vec<RationCardNumber>> {
        let cards = self
            .keys_query(
                "SELECT r.card_number FROM enrolments e \
                 JOIN residents r ON r.resident_id = e.resident_id \
                 WHERE e.dataset = $1 AND e.status = 'active' AND r.card_number > $2 \
                 GROUP BY r.card_number HAVING COUNT(DISTINCT e.resident_id) > 1 \
                 ORDER BY r.card_number LIMIT $3",
                &[
                    &dataset,
                    &after.map_or("", RationCardNumber::as_str),
                    &limit_of(limit),
                ],
            )
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
        // The other schemes are looked up per resident through enrolments_resident.
        self.keys_query(
            "SELECT DISTINCT a.resident_id FROM enrolments a \
             WHERE a.dataset = $1 AND a.status = 'active' AND a.resident_id > $2 \
             AND EXISTS (SELECT 1 FROM enrolments b \
                 WHERE b.resident_id = a.resident_id AND b.status = 'active' \
                 AND b.dataset = ANY($3::text[])) \
             ORDER BY a.resident_id LIMIT $4",
            &[&dataset, &after.unwrap_or(""), &others, &limit_of(limit)],
        )
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
        let sql = format!(
            "SELECT {} FROM enrolments e JOIN residents r ON r.resident_id = e.resident_id \
             WHERE e.resident_id = ANY($1::text[]) AND e.status = 'active' \
             AND ($2::text[] IS NULL OR e.dataset = ANY($2::text[])) \
             ORDER BY e.resident_id, e.dataset, e.record_key",
            linked_columns()
        );
        self.linked_query(&sql, &[&resident_ids, &datasets]).await
    }

    async fn active_enrolments_of_households(
        &self,
        dataset: &str,
        cards: &[RationCardNumber],
    ) -> StoreResult<Vec<LinkedEnrolment>> {
        if cards.is_empty() {
            return Ok(Vec::new());
        }
        let cards: Vec<&str> = cards.iter().map(RationCardNumber::as_str).collect();
        let sql = format!(
            "SELECT {} FROM residents r JOIN enrolments e ON e.resident_id = r.resident_id \
             WHERE r.card_number = ANY($2::text[]) AND e.dataset = $1 AND e.status = 'active' \
             ORDER BY r.card_number, r.resident_id, e.record_key",
            linked_columns()
        );
        self.linked_query(&sql, &[&dataset, &cards]).await
    }
}
