//! Linking enrolments to residents: the registry as the matching engine reads it, enrolments
//! by link status, the link job's decisions and the clerical review queue.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sangam_store::columns::qualified;
use sangam_store::{
    Enrolment, EnrolmentLink, LinkDecision, LinkMethod, LinkStatus, LinkStore, MatchReview,
    MatchableResident, RegistryStamp, ReviewStatus, StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::datasets::{ENROLMENT_COLUMNS, enrolment, raw_enrolment};
use crate::registry::{RESIDENT_COLUMNS, resident, resident_row};
use crate::sql::{begin, from_micros, map_err, parse_ts, ts};

const REVIEW_COLUMNS: &str = "id, dataset, record_key, resident_id, probability, explanation, \
     enrolment_version, status, created_at, decided_by, decided_at";

fn review(r: &Row<'_>) -> rusqlite::Result<StoreResult<MatchReview>> {
    let explanation: String = r.get(5)?;
    let status: String = r.get(7)?;
    let created: String = r.get(8)?;
    let decided: Option<String> = r.get(10)?;
    let (id, dataset, record_key, resident_id, probability, version, decided_by) = (
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(6)?,
        r.get(9)?,
    );
    Ok((|| {
        Ok(MatchReview {
            id,
            dataset,
            record_key,
            resident_id,
            probability,
            explanation: serde_json::from_str(&explanation)
                .map_err(|e| StoreError::corrupt("match_reviews.explanation", e))?,
            enrolment_version: version,
            status: ReviewStatus::from_code(&status)
                .ok_or_else(|| StoreError::corrupt("match_reviews.status", &status))?,
            created_at: parse_ts("match_reviews.created_at", &created)?,
            decided_by,
            decided_at: decided
                .map(|d| parse_ts("match_reviews.decided_at", &d))
                .transpose()?,
        })
    })())
}

fn collect_reviews(
    rows: impl Iterator<Item = rusqlite::Result<StoreResult<MatchReview>>>,
) -> StoreResult<Vec<MatchReview>> {
    rows.map(|r| r.map_err(map_err)?).collect()
}

fn link_of(r: &Row<'_>) -> rusqlite::Result<StoreResult<EnrolmentLink>> {
    let status: String = r.get(3)?;
    let method: Option<String> = r.get(4)?;
    let (dataset, record_key, resident_id, probability, upload_id) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(5)?, r.get(6)?);
    Ok((|| {
        Ok(EnrolmentLink {
            dataset,
            record_key,
            resident_id,
            status: LinkStatus::from_code(&status)
                .ok_or_else(|| StoreError::corrupt("enrolments.link_status", &status))?,
            method: method
                .map(|m| {
                    LinkMethod::from_code(&m)
                        .ok_or_else(|| StoreError::corrupt("enrolments.link_method", &m))
                })
                .transpose()?,
            probability,
            upload_id,
        })
    })())
}

/// Closes the pending reviews of a record (it changed, or one of its pairs was decided).
fn supersede_reviews(c: &Connection, dataset: &str, record_key: &str) -> StoreResult<()> {
    c.prepare_cached(
        "UPDATE match_reviews SET status = 'superseded' \
         WHERE dataset = ?1 AND record_key = ?2 AND status = 'pending'",
    )
    .and_then(|mut s| s.execute(params![dataset, record_key]))
    .map_err(map_err)?;
    Ok(())
}

fn apply_decision(c: &Connection, d: &LinkDecision) -> StoreResult<bool> {
    let method = (d.status == LinkStatus::Linked).then_some(LinkMethod::Model.code());
    let changed = c
        .prepare_cached(
            "UPDATE enrolments SET link_status = ?4, resident_id = ?5, link_method = ?6, \
             link_probability = ?7 WHERE dataset = ?1 AND record_key = ?2 AND version = ?3 \
             AND status = 'active' AND link_status = 'pending'",
        )
        .and_then(|mut s| {
            s.execute(params![
                d.dataset,
                d.record_key,
                d.version,
                d.status.code(),
                d.resident_id,
                method,
                d.probability
            ])
        })
        .map_err(map_err)?;
    if changed == 0 {
        return Ok(false);
    }
    supersede_reviews(c, &d.dataset, &d.record_key)?;
    let mut insert = c
        .prepare_cached(&format!(
            "INSERT INTO match_reviews ({REVIEW_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, NULL, NULL) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(map_err)?;
    for r in &d.reviews {
        insert
            .execute(params![
                r.id,
                d.dataset,
                d.record_key,
                r.resident_id,
                r.probability,
                r.explanation.to_string(),
                d.version,
                ts(&r.created_at)
            ])
            .map_err(map_err)?;
    }
    Ok(true)
}

fn read_review(c: &Connection, id: &str) -> StoreResult<Option<MatchReview>> {
    c.query_row(
        &format!("SELECT {REVIEW_COLUMNS} FROM match_reviews WHERE id = ?1"),
        [id],
        review,
    )
    .optional()
    .map_err(map_err)?
    .transpose()
}

fn decide(
    c: &Connection,
    id: &str,
    verdict: ReviewStatus,
    by: &str,
    at: DateTime<Utc>,
) -> StoreResult<MatchReview> {
    let found = read_review(c, id)?.ok_or_else(|| StoreError::NotFound(format!("review {id}")))?;
    if found.status != ReviewStatus::Pending {
        return Err(StoreError::Conflict(format!(
            "review {id} was already closed ({})",
            found.status.code()
        )));
    }
    let current: Option<(i64, String)> = c
        .query_row(
            "SELECT version, link_status FROM enrolments WHERE dataset = ?1 AND record_key = ?2 \
             AND status = 'active'",
            params![found.dataset, found.record_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(map_err)?;
    if current.as_ref().map(|(v, s)| (*v, s.as_str()))
        != Some((found.enrolment_version, LinkStatus::Review.code()))
    {
        return Err(StoreError::Conflict(format!(
            "record {} of {} changed after review {id} was opened",
            found.record_key, found.dataset
        )));
    }
    c.execute(
        "UPDATE match_reviews SET status = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
        params![id, verdict.code(), by, ts(&at)],
    )
    .map_err(map_err)?;
    match verdict {
        ReviewStatus::Accepted => {
            c.execute(
                "UPDATE enrolments SET link_status = 'linked', link_method = 'review', \
                 resident_id = ?3, link_probability = ?4 WHERE dataset = ?1 AND record_key = ?2",
                params![
                    found.dataset,
                    found.record_key,
                    found.resident_id,
                    found.probability
                ],
            )
            .map_err(map_err)?;
            supersede_reviews(c, &found.dataset, &found.record_key)?;
        }
        _ => {
            let open: bool = c
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM match_reviews WHERE dataset = ?1 \
                     AND record_key = ?2 AND status = 'pending')",
                    params![found.dataset, found.record_key],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if !open {
                c.execute(
                    "UPDATE enrolments SET link_status = 'not_found', resident_id = NULL, \
                     link_method = NULL WHERE dataset = ?1 AND record_key = ?2",
                    params![found.dataset, found.record_key],
                )
                .map_err(map_err)?;
            }
        }
    }
    read_review(c, id)?.ok_or_else(|| StoreError::NotFound(format!("review {id}")))
}

#[async_trait]
impl LinkStore for SqliteStore {
    async fn matchable_residents(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<MatchableResident>> {
        let after = after.unwrap_or("").to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {}, h.village_code FROM residents AS r \
                         JOIN households AS h ON h.card_number = r.card_number \
                         WHERE r.resident_id > ?1 ORDER BY r.resident_id LIMIT ?2",
                        qualified(RESIDENT_COLUMNS, "r")
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| {
                        Ok((resident_row(r)?, r.get::<_, i64>(15)?))
                    })
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter()
                    .map(|(raw, village_code)| {
                        Ok(MatchableResident {
                            resident: resident(raw)?,
                            village_code: village_code.to_string(),
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn registry_stamp(&self) -> StoreResult<RegistryStamp> {
        self.conns
            .read(|c| {
                let (n, last): (i64, Option<i64>) = c
                    .query_row("SELECT count(*), max(updated_at) FROM residents", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(map_err)?;
                Ok(RegistryStamp {
                    residents: u64::try_from(n).unwrap_or_default(),
                    last_change: last
                        .map(|l| from_micros("residents.updated_at", l))
                        .transpose()?,
                })
            })
            .await
    }

    async fn enrolments_by_link_status(
        &self,
        dataset: &str,
        status: LinkStatus,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Enrolment>> {
        let (dataset, after) = (dataset.to_owned(), after.unwrap_or("").to_owned());
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {ENROLMENT_COLUMNS} FROM enrolments WHERE dataset = ?1 \
                         AND link_status = ?2 AND status = 'active' AND record_key > ?3 \
                         ORDER BY record_key LIMIT ?4"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![dataset, status.code(), after, limit], raw_enrolment)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter().map(enrolment).collect()
            })
            .await
    }

    async fn enrolment_link(
        &self,
        dataset: &str,
        record_key: &str,
    ) -> StoreResult<Option<EnrolmentLink>> {
        let (dataset, key) = (dataset.to_owned(), record_key.to_owned());
        self.conns
            .read(move |c| {
                c.query_row(
                    "SELECT dataset, record_key, resident_id, link_status, link_method, \
                     link_probability, upload_id FROM enrolments \
                     WHERE dataset = ?1 AND record_key = ?2",
                    params![dataset, key],
                    link_of,
                )
                .optional()
                .map_err(map_err)?
                .transpose()
            })
            .await
    }

    async fn link_counts(&self, dataset: &str) -> StoreResult<Vec<(LinkStatus, u64)>> {
        let dataset = dataset.to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT link_status, count(*) FROM enrolments \
                         WHERE dataset = ?1 AND status = 'active' GROUP BY link_status",
                    )
                    .map_err(map_err)?;
                let found = stmt
                    .query_map([&dataset], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                found
                    .into_iter()
                    .map(|(code, n)| {
                        let status = LinkStatus::from_code(&code)
                            .ok_or_else(|| StoreError::corrupt("enrolments.link_status", &code))?;
                        Ok((status, u64::try_from(n).unwrap_or_default()))
                    })
                    .collect()
            })
            .await
    }

    async fn apply_link_decisions(&self, decisions: &[LinkDecision]) -> StoreResult<u64> {
        let decisions = decisions.to_vec();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let mut changed = 0;
                for d in &decisions {
                    if apply_decision(&tx, d)? {
                        changed += 1;
                    }
                }
                tx.commit().map_err(map_err)?;
                Ok(changed)
            })
            .await
    }

    async fn link_pending_by_ref_key(&self, dataset: &str) -> StoreResult<u64> {
        let dataset = dataset.to_owned();
        self.conns
            .write(move |c| {
                // The pending records through their index, each key through the residents'.
                let n = c
                    .execute(
                        "UPDATE enrolments SET link_status = 'linked', link_method = 'id_number', \
                         link_probability = 1.0, resident_id = (SELECT r.resident_id FROM \
                         residents r WHERE r.id_ref_key = enrolments.ref_key) \
                         WHERE dataset = ?1 AND link_status = 'pending' AND status = 'active' \
                         AND ref_key IS NOT NULL AND EXISTS (SELECT 1 FROM residents r \
                         WHERE r.id_ref_key = enrolments.ref_key)",
                        params![dataset],
                    )
                    .map_err(map_err)?;
                Ok(n as u64)
            })
            .await
    }

    async fn requeue_links(&self, dataset: &str, status: LinkStatus) -> StoreResult<u64> {
        let dataset = dataset.to_owned();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                tx.execute(
                    "UPDATE match_reviews SET status = 'superseded' WHERE status = 'pending' \
                     AND dataset = ?1 AND record_key IN (SELECT record_key FROM enrolments \
                     WHERE dataset = ?1 AND link_status = ?2 AND status = 'active')",
                    params![dataset, status.code()],
                )
                .map_err(map_err)?;
                let n = tx
                    .execute(
                        "UPDATE enrolments SET link_status = 'pending', resident_id = NULL, \
                         link_method = NULL, link_probability = NULL \
                         WHERE dataset = ?1 AND link_status = ?2 AND status = 'active'",
                        params![dataset, status.code()],
                    )
                    .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(n as u64)
            })
            .await
    }

    async fn match_reviews(
        &self,
        dataset: Option<&str>,
        status: Option<ReviewStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<MatchReview>> {
        let dataset = dataset.map(str::to_owned);
        let after = after.unwrap_or("").to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {REVIEW_COLUMNS} FROM match_reviews \
                         WHERE (?1 IS NULL OR dataset = ?1) AND (?2 IS NULL OR status = ?2) \
                         AND id > ?3 ORDER BY id LIMIT ?4"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(
                        params![dataset, status.map(ReviewStatus::code), after, limit],
                        review,
                    )
                    .map_err(map_err)?;
                collect_reviews(rows)
            })
            .await
    }

    async fn match_review(&self, id: &str) -> StoreResult<Option<MatchReview>> {
        let id = id.to_owned();
        self.conns.read(move |c| read_review(c, &id)).await
    }

    async fn decide_match_review(
        &self,
        id: &str,
        verdict: ReviewStatus,
        decided_by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<MatchReview> {
        if !matches!(verdict, ReviewStatus::Accepted | ReviewStatus::Rejected) {
            return Err(StoreError::Backend(
                "a review is decided as accepted or rejected".into(),
            ));
        }
        let (id, by) = (id.to_owned(), decided_by.to_owned());
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let decided = decide(&tx, &id, verdict, &by, at)?;
                tx.commit().map_err(map_err)?;
                Ok(decided)
            })
            .await
    }

    async fn decided_match_reviews(&self, limit: u32) -> StoreResult<Vec<MatchReview>> {
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {REVIEW_COLUMNS} FROM match_reviews \
                         WHERE status IN ('accepted', 'rejected') ORDER BY decided_at DESC LIMIT ?1"
                    ))
                    .map_err(map_err)?;
                let rows = stmt.query_map([limit], review).map_err(map_err)?;
                collect_reviews(rows)
            })
            .await
    }

    async fn rejected_pairs(
        &self,
        dataset: &str,
        record_keys: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        let (dataset, keys) = (dataset.to_owned(), record_keys.to_vec());
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT record_key, resident_id FROM match_reviews \
                         WHERE dataset = ?1 AND record_key = ?2 AND status = 'rejected'",
                    )
                    .map_err(map_err)?;
                let mut pairs = Vec::new();
                for key in &keys {
                    let rows = stmt
                        .query_map(params![dataset, key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .map_err(map_err)?;
                    for row in rows {
                        pairs.push(row.map_err(map_err)?);
                    }
                }
                Ok(pairs)
            })
            .await
    }
}
