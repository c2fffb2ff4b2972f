//! The clerical review queue: pairs the model was unsure of, each with its explanation, for a
//! reviewer of the dataset's organisation (or an administrator) to accept or reject. Accepting
//! links the record; rejecting every candidate of a record reports it not found. Decisions
//! are kept and train the next model as labels.

use sangam_ingest::report::SafeCsvWriter;
use sangam_store::{LinkStatus, MatchReview, ReviewStatus, Role, User};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// A dataset's records by link status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkCounts {
    pub dataset: String,
    pub pending: u64,
    pub linked: u64,
    pub review: u64,
    pub not_found: u64,
}

impl Hub {
    /// Pairs in the queue, oldest first after `after`; of one dataset and status when given.
    /// A nodal officer must name one of their organisation's datasets.
    pub async fn match_reviews(
        &self,
        user: &User,
        dataset: Option<&str>,
        status: Option<ReviewStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> HubResult<Vec<MatchReview>> {
        if !(1..=500).contains(&limit) {
            return Err(HubError::Invalid {
                field: "limit".into(),
                code: "limit.range",
                message: "must be between 1 and 500".into(),
            });
        }
        match dataset {
            Some(name) => {
                self.scheme_for(name, user).await?;
            }
            None if user.role != Role::Admin => {
                return Err(HubError::Invalid {
                    field: "dataset".into(),
                    code: "field.missing",
                    message: "name the dataset whose review queue you want".into(),
                });
            }
            None => {}
        }
        Ok(self
            .store
            .match_reviews(dataset, status, after, limit)
            .await?)
    }

    /// One pair, with the model's explanation, if `user` may review its dataset.
    pub async fn match_review(&self, id: &str, user: &User) -> HubResult<MatchReview> {
        let review = self
            .store
            .match_review(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("review {id}")))?;
        self.scheme_for(&review.dataset, user)
            .await
            .map_err(|_| HubError::NotFound(format!("review {id}")))?;
        Ok(review)
    }

    /// Records a reviewer's verdict: `true` for the same person.
    pub async fn decide_match_review(
        &self,
        id: &str,
        same_person: bool,
        user: &User,
    ) -> HubResult<MatchReview> {
        self.match_review(id, user).await?;
        let actor = user.username.as_str();
        let verdict = if same_person {
            ReviewStatus::Accepted
        } else {
            ReviewStatus::Rejected
        };
        let decided = self
            .store
            .decide_match_review(id, verdict, actor, self.now())
            .await?;
        self.audit(
            actor,
            AuditEvent::MatchReviewDecided {
                review_id: decided.id.clone(),
                dataset: decided.dataset.clone(),
                record_key: decided.record_key.clone(),
                accepted: same_person,
            },
        )
        .await?;
        Ok(decided)
    }

    /// How many of a dataset's records are linked, in review, not found or still waiting.
    pub async fn link_counts(&self, dataset: &str, user: &User) -> HubResult<LinkCounts> {
        self.scheme_for(dataset, user).await?;
        let counts = self.store.link_counts(dataset).await?;
        let of = |s: LinkStatus| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
        Ok(LinkCounts {
            dataset: dataset.to_owned(),
            pending: of(LinkStatus::Pending),
            linked: of(LinkStatus::Linked),
            review: of(LinkStatus::Review),
            not_found: of(LinkStatus::NotFound),
        })
    }

    /// A page of a dataset's records in one link status (the not-found report), in record-key
    /// order after `after`: record key, reference key and the upload that sent it.
    pub async fn records_by_link_status(
        &self,
        dataset: &str,
        user: &User,
        status: LinkStatus,
        after: Option<&str>,
        limit: u32,
    ) -> HubResult<Vec<sangam_store::Enrolment>> {
        self.scheme_for(dataset, user).await?;
        Ok(self
            .store
            .enrolments_by_link_status(dataset, status, after, limit)
            .await?)
    }
}

/// Rows of the not-found report read per query.
const REPORT_PAGE: u32 = 5_000;

impl Hub {
    /// The dataset's records not found in the base data, as CSV: the record key, the upload
    /// that last sent it, and the record's plain fields (never the sealed ones), so the
    /// department can check them against its own files. Cells are neutralised.
    pub async fn not_found_report_csv(&self, dataset: &str, user: &User) -> HubResult<Vec<u8>> {
        self.scheme_for(dataset, user).await?;
        let spec = self.dataset(dataset).await?.spec;
        let columns: Vec<&str> = spec
            .columns
            .iter()
            .filter(|c| {
                !c.kind.is_sensitive()
                    && c.kind != sangam_ingest::spec::ColumnKind::Operation
                    && Some(c.name.as_str()) != spec.record_key.as_deref()
            })
            .map(|c| c.name.as_str())
            .collect();
        let mut header = vec!["record_key", "upload_id"];
        header.extend(&columns);
        let err = |e: sangam_ingest::report::ReportError| HubError::Internal(e.to_string());
        let mut writer = SafeCsvWriter::new(Vec::new(), &header).map_err(err)?;
        let mut after: Option<String> = None;
        let mut rows = 0u64;
        loop {
            let page = self
                .store
                .enrolments_by_link_status(
                    dataset,
                    LinkStatus::NotFound,
                    after.as_deref(),
                    REPORT_PAGE,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record_key.clone());
            for e in &page {
                let values: Vec<String> = columns
                    .iter()
                    .map(|c| match e.fields.get(*c) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(serde_json::Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                let mut row = vec![e.record_key.as_str(), e.upload_id.as_str()];
                row.extend(values.iter().map(String::as_str));
                writer.write_row(&row).map_err(err)?;
                rows += 1;
            }
        }
        self.audit(
            &user.username,
            AuditEvent::NotFoundReportDownloaded {
                dataset: dataset.to_owned(),
                rows,
            },
        )
        .await?;
        writer.finish().map_err(err)
    }
}

impl Hub {
    /// The model's explanation for any pair of a scheme record and a resident: each field's
    /// comparison level, m, u and weight, and the running total (a waterfall). ID numbers
    /// appear only as masked reference keys. Audited, since it shows how the registry spells
    /// the resident.
    pub async fn explain_pair(
        &self,
        dataset: &str,
        record_key: &str,
        resident_id: &str,
        user: &User,
    ) -> HubResult<sangam_matching::Explanation> {
        self.scheme_for(dataset, user).await?;
        let enrolment = self
            .store
            .enrolment(dataset, record_key)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("record {record_key} of {dataset}")))?;
        let index = self
            .link_index()
            .await?
            .ok_or_else(|| HubError::NotFound(format!("resident {resident_id}")))?;
        let position = index
            .position(resident_id)
            .ok_or_else(|| HubError::NotFound(format!("resident {resident_id}")))?;
        let spec = self.dataset_spec(dataset, enrolment.spec_version).await?;
        let record =
            super::subjects::SpecRoles::of(&spec).record(&enrolment, self.now().date_naive());
        let explanation = index
            .engine
            .explain(&record, &index.records[position as usize]);
        self.audit(
            &user.username,
            AuditEvent::PairExplained {
                dataset: dataset.to_owned(),
                record_key: record_key.to_owned(),
                resident_id: resident_id.to_owned(),
            },
        )
        .await?;
        Ok(explanation)
    }
}
