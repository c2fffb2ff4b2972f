//! Linking enrolments to residents: the registry as the matching engine reads it, enrolments
//! by link status, the link job's decisions and the clerical review queue.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use sangam_store::columns::qualified;
use sangam_store::{
    Enrolment, EnrolmentLink, LinkDecision, LinkMethod, LinkStatus, LinkStore, MatchReview,
    MatchableResident, RegistryStamp, ReviewStatus, StoreError, StoreResult,
};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::datasets::{ENROLMENT_COLUMNS, enrolment};
use crate::registry::{RESIDENT_COLUMNS, resident};
use crate::sql::{count, execute, get, map_err, query, query_one, query_opt};

const REVIEW_COLUMNS: &str = "id, dataset, record_key, resident_id, probability, explanation, \
     enrolment_version, status, created_at, decided_by, decided_at";

fn review(row: &Row) -> StoreResult<MatchReview> {
    const T: &str = "match_reviews";
    let status: String = get(T, row, 7)?;
    Ok(MatchReview {
        id: get(T, row, 0)?,
        dataset: get(T, row, 1)?,
        record_key: get(T, row, 2)?,
        resident_id: get(T, row, 3)?,
        probability: get(T, row, 4)?,
        explanation: get(T, row, 5)?,
        enrolment_version: get(T, row, 6)?,
        status: ReviewStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("match_reviews.status", &status))?,
        created_at: get(T, row, 8)?,
        decided_by: get(T, row, 9)?,
        decided_at: get(T, row, 10)?,
    })
}

fn link_of(row: &Row) -> StoreResult<EnrolmentLink> {
    const T: &str = "enrolments";
    let status: String = get(T, row, 3)?;
    Ok(EnrolmentLink {
        dataset: get(T, row, 0)?,
        record_key: get(T, row, 1)?,
        resident_id: get(T, row, 2)?,
        status: LinkStatus::from_code(&status)
            .ok_or_else(|| StoreError::corrupt("enrolments.link_status", &status))?,
        method: get::<Option<String>>(T, row, 4)?
            .map(|m| {
                LinkMethod::from_code(&m)
                    .ok_or_else(|| StoreError::corrupt("enrolments.link_method", &m))
            })
            .transpose()?,
        probability: get(T, row, 5)?,
        upload_id: get(T, row, 6)?,
    })
}

/// Closes the pending reviews of a record (it changed, or one of its pairs was decided).
async fn supersede_reviews<C: GenericClient>(
    c: &C,
    dataset: &str,
    record_key: &str,
) -> StoreResult<()> {
    execute(
        c,
        "UPDATE match_reviews SET status = 'superseded' \
         WHERE dataset = $1 AND record_key = $2 AND status = 'pending'",
        &[&dataset, &record_key],
    )
    .await
    .map(|_| ())
}

async fn apply_decision<C: GenericClient>(c: &C, d: &LinkDecision) -> StoreResult<bool> {
    let method = (d.status == LinkStatus::Linked).then_some(LinkMethod::Model.code());
    let changed = execute(
        c,
        "UPDATE enrolments SET link_status = $4, resident_id = $5, link_method = $6, \
         link_probability = $7 WHERE dataset = $1 AND record_key = $2 AND version = $3 \
         AND status = 'active' AND link_status = 'pending'",
        &[
            &d.dataset,
            &d.record_key,
            &d.version,
            &d.status.code(),
            &d.resident_id,
            &method,
            &d.probability,
        ],
    )
    .await?;
    if changed == 0 {
        return Ok(false);
    }
    supersede_reviews(c, &d.dataset, &d.record_key).await?;
    for r in &d.reviews {
        execute(
            c,
            &format!(
                "INSERT INTO match_reviews ({REVIEW_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, NULL, NULL) \
                 ON CONFLICT DO NOTHING"
            ),
            &[
                &r.id,
                &d.dataset,
                &d.record_key,
                &r.resident_id,
                &r.probability,
                &r.explanation,
                &d.version,
                &r.created_at,
            ],
        )
        .await?;
    }
    Ok(true)
}

async fn read_review<C: GenericClient>(
    c: &C,
    id: &str,
    lock: bool,
) -> StoreResult<Option<MatchReview>> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM match_reviews WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(review)
        .transpose()
}

#[async_trait]
impl LinkStore for PostgresStore {
    async fn matchable_residents(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<MatchableResident>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            &format!(
                "SELECT {}, h.village_code FROM residents AS r \
                 JOIN households AS h ON h.card_number = r.card_number \
                 WHERE r.resident_id > $1 ORDER BY r.resident_id LIMIT $2",
                qualified(RESIDENT_COLUMNS, "r")
            ),
            &[&after.unwrap_or(""), &i64::from(limit)],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MatchableResident {
                    resident: resident(row)?,
                    village_code: get::<i64>("households", row, 15)?.to_string(),
                })
            })
            .collect()
    }

    async fn registry_stamp(&self) -> StoreResult<RegistryStamp> {
        let c = self.client().await?;
        let row = query_one(&c, "SELECT count(*), max(updated_at) FROM residents", &[]).await?;
        Ok(RegistryStamp {
            residents: count(get("residents", &row, 0)?),
            last_change: get("residents", &row, 1)?,
        })
    }

    async fn enrolments_by_link_status(
        &self,
        dataset: &str,
        status: LinkStatus,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Enrolment>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {ENROLMENT_COLUMNS} FROM enrolments WHERE dataset = $1 \
                 AND link_status = $2 AND status = 'active' AND record_key > $3 \
                 ORDER BY record_key LIMIT $4"
            ),
            &[
                &dataset,
                &status.code(),
                &after.unwrap_or(""),
                &i64::from(limit),
            ],
        )
        .await?
        .iter()
        .map(enrolment)
        .collect()
    }

    async fn enrolment_link(
        &self,
        dataset: &str,
        record_key: &str,
    ) -> StoreResult<Option<EnrolmentLink>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT dataset, record_key, resident_id, link_status, link_method, \
             link_probability, upload_id FROM enrolments WHERE dataset = $1 AND record_key = $2",
            &[&dataset, &record_key],
        )
        .await?
        .as_ref()
        .map(link_of)
        .transpose()
    }

    async fn link_counts(&self, dataset: &str) -> StoreResult<Vec<(LinkStatus, u64)>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT link_status, count(*) FROM enrolments \
             WHERE dataset = $1 AND status = 'active' GROUP BY link_status",
            &[&dataset],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let code: String = get("enrolments", row, 0)?;
                let status = LinkStatus::from_code(&code)
                    .ok_or_else(|| StoreError::corrupt("enrolments.link_status", &code))?;
                Ok((status, count(get("enrolments", row, 1)?)))
            })
            .collect()
    }

    async fn apply_link_decisions(&self, decisions: &[LinkDecision]) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let mut changed = 0;
        for d in decisions {
            if apply_decision(&tx, d).await? {
                changed += 1;
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(changed)
    }

    async fn link_pending_by_ref_key(&self, dataset: &str) -> StoreResult<u64> {
        let c = self.client().await?;
        // The pending records through their index, each key through the residents'.
        execute(
            &c,
            "UPDATE enrolments e SET link_status = 'linked', link_method = 'id_number', \
             link_probability = 1.0, resident_id = r.resident_id FROM residents r \
             WHERE r.id_ref_key = e.ref_key AND e.dataset = $1 AND e.link_status = 'pending' \
             AND e.status = 'active'",
            &[&dataset],
        )
        .await
    }

    async fn requeue_links(&self, dataset: &str, status: LinkStatus) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        execute(
            &tx,
            "UPDATE match_reviews SET status = 'superseded' WHERE status = 'pending' \
             AND dataset = $1 AND record_key IN (SELECT record_key FROM enrolments \
             WHERE dataset = $1 AND link_status = $2 AND status = 'active')",
            &[&dataset, &status.code()],
        )
        .await?;
        let n = execute(
            &tx,
            "UPDATE enrolments SET link_status = 'pending', resident_id = NULL, \
             link_method = NULL, link_probability = NULL \
             WHERE dataset = $1 AND link_status = $2 AND status = 'active'",
            &[&dataset, &status.code()],
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn match_reviews(
        &self,
        dataset: Option<&str>,
        status: Option<ReviewStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<MatchReview>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM match_reviews \
                 WHERE ($1::text IS NULL OR dataset = $1) AND ($2::text IS NULL OR status = $2) \
                 AND id > $3 ORDER BY id LIMIT $4"
            ),
            &[
                &dataset,
                &status.map(ReviewStatus::code),
                &after.unwrap_or(""),
                &i64::from(limit),
            ],
        )
        .await?
        .iter()
        .map(review)
        .collect()
    }

    async fn match_review(&self, id: &str) -> StoreResult<Option<MatchReview>> {
        let c = self.client().await?;
        read_review(&c, id, false).await
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
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let found = read_review(&tx, id, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("review {id}")))?;
        if found.status != ReviewStatus::Pending {
            return Err(StoreError::Conflict(format!(
                "review {id} was already closed ({})",
                found.status.code()
            )));
        }
        let current = query_opt(
            &tx,
            "SELECT version, link_status FROM enrolments WHERE dataset = $1 AND record_key = $2 \
             AND status = 'active' FOR UPDATE",
            &[&found.dataset, &found.record_key],
        )
        .await?;
        let current = match current {
            Some(row) => Some((
                get::<i64>("enrolments", &row, 0)?,
                get::<String>("enrolments", &row, 1)?,
            )),
            None => None,
        };
        if current.as_ref().map(|(v, s)| (*v, s.as_str()))
            != Some((found.enrolment_version, LinkStatus::Review.code()))
        {
            return Err(StoreError::Conflict(format!(
                "record {} of {} changed after review {id} was opened",
                found.record_key, found.dataset
            )));
        }
        execute(
            &tx,
            "UPDATE match_reviews SET status = $2, decided_by = $3, decided_at = $4 WHERE id = $1",
            &[&id, &verdict.code(), &decided_by, &at],
        )
        .await?;
        if verdict == ReviewStatus::Accepted {
            execute(
                &tx,
                "UPDATE enrolments SET link_status = 'linked', link_method = 'review', \
                 resident_id = $3, link_probability = $4 WHERE dataset = $1 AND record_key = $2",
                &[
                    &found.dataset,
                    &found.record_key,
                    &found.resident_id,
                    &found.probability,
                ],
            )
            .await?;
            supersede_reviews(&tx, &found.dataset, &found.record_key).await?;
        } else {
            let open = query_one(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM match_reviews WHERE dataset = $1 \
                 AND record_key = $2 AND status = 'pending')",
                &[&found.dataset, &found.record_key],
            )
            .await?;
            if !get::<bool>("match_reviews", &open, 0)? {
                execute(
                    &tx,
                    "UPDATE enrolments SET link_status = 'not_found', resident_id = NULL, \
                     link_method = NULL WHERE dataset = $1 AND record_key = $2",
                    &[&found.dataset, &found.record_key],
                )
                .await?;
            }
        }
        let decided = read_review(&tx, id, false)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("review {id}")))?;
        tx.commit().await.map_err(map_err)?;
        Ok(decided)
    }

    async fn decided_match_reviews(&self, limit: u32) -> StoreResult<Vec<MatchReview>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM match_reviews \
                 WHERE status IN ('accepted', 'rejected') ORDER BY decided_at DESC LIMIT $1"
            ),
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(review)
        .collect()
    }

    async fn rejected_pairs(
        &self,
        dataset: &str,
        record_keys: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT record_key, resident_id FROM match_reviews \
             WHERE dataset = $1 AND record_key = ANY($2) AND status = 'rejected'",
            &[&dataset, &record_keys],
        )
        .await?
        .iter()
        .map(|row| Ok((get("match_reviews", row, 0)?, get("match_reviews", row, 1)?)))
        .collect()
    }
}
